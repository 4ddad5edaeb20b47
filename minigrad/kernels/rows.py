"""Sums along rows and down columns (float32 over short chunks, then float64); rows added by index, a bias to rows."""
import numpy as np
from numba import cfunc, njit

from minigrad.kernels import JIT, JIT_EXACT, native
from minigrad.kernels.fmath import cast, exp
from minigrad.kernels.native import contiguous

CHUNK = 64  # terms per float32 partial sum


@njit(**JIT)
def exp_rows(xr, m, er):
    """er[c] = exp(xr[c] - m) for c < xr.size; returns sum_c er[c] in float64."""
    n = xr.size
    full = n - n % CHUNK
    total = 0.0
    for lo in range(0, full, CHUNK):  # a constant trip count: the inner loop vectorizes
        part = cast(xr, 0.0)
        for c in range(lo, lo + CHUNK):
            e = exp(xr[c] - m)
            er[c] = e
            part += e
        total += part
    part = cast(xr, 0.0)
    for c in range(full, n):
        e = exp(xr[c] - m)
        er[c] = e
        part += e
    return total + part


@njit(**JIT)
def dot(a, b):
    """sum_c a[c] b[c] in float64; b None: sum_c a[c]."""
    total = 0.0
    for lo in range(0, a.size, CHUNK):
        # each chunk a view indexed from 0: a sum indexed from lo (numba's negative-index fix-up in the index) was
        # vectorized on AMD Zen 4 across the chunks, by gathers, 4-30x slower
        x = a[lo:lo + CHUNK]
        part = cast(a, 0.0)
        if b is None:
            for c in range(x.size):
                part += x[c]
        else:
            y = b[lo:lo + CHUNK]
            for c in range(x.size):
                part += x[c] * y[c]
        total += part
    return total


@njit(**JIT_EXACT)
def _column_sums(g, out):
    """out (float64) = g's rows summed: float32 partials over CHUNK rows, added up in float64."""
    n, k = g.shape
    part = np.empty(k, g.dtype)
    for lo in range(0, n, CHUNK):
        part[:] = 0
        for r in range(lo, min(n, lo + CHUNK)):
            row = g[r]
            for c in range(k):  # across the columns: vectorizes with no reordering of any one sum
                part[c] += row[c]
        for c in range(k):
            out[c] += part[c]


@njit(**JIT_EXACT)
def _column_sums_part(f, z):
    i, lo, hi, j = native.span(f)
    g, j = native.matrix(f, j, z)
    sums, j = native.matrix(f, j, 0.0)
    _column_sums(g[lo:hi], sums[i])


@cfunc(native.ENTRY, **JIT_EXACT)
def _column_sums_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _column_sums_part(f, 0.0)
    else:
        _column_sums_part(f, np.float32(0.0))


def column_sums(g):
    """g (N, K), C-contiguous, summed over its rows: (K,) in g's dtype (a bias gradient, Linear's or a broadcast
    add's), the rows in parts over the CPU threads. 2x NumPy's axis-0 sum at (2048, 384) float32 on one thread, and
    float32 partials over CHUNK rows only."""
    parts = native.parts(len(g), g.shape[1], light=True)
    sums = np.zeros((parts, g.shape[1]))
    if parts == 1:  # one call from here: no frame to build
        _column_sums(g, sums[0])
        return sums[0].astype(g.dtype)
    native.run(_column_sums_entry, len(g), parts, [*contiguous(g), *contiguous(sums), g.dtype == np.float64])
    return sums.sum(axis=0).astype(g.dtype)


@njit(**JIT)
def _add_bias(y, b):
    for r in range(y.shape[0]):
        yr = y[r]
        for c in range(b.size):
            yr[c] += b[c]


@njit(**JIT)
def _add_bias_part(f, z):
    i, lo, hi, j = native.span(f)
    y, j = native.matrix(f, j, z)
    b, j = native.vector(f, j, z)
    _add_bias(y[lo:hi], b)


@cfunc(native.ENTRY, **JIT)
def _add_bias_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _add_bias_part(f, 0.0)
    else:
        _add_bias_part(f, np.float32(0.0))


def add_bias(y, b):
    """y += b in place for y (N, K) C-contiguous and b (K,) of y's dtype, the rows in parts over the CPU threads."""
    parts = native.parts(len(y), y.shape[1], light=True)
    if parts == 1:  # NumPy's add, the same bits, without a frame to build
        y += b
        return
    b = np.ascontiguousarray(b)
    native.run(_add_bias_entry, len(y), parts, [*contiguous(y), *contiguous(b), y.dtype == np.float64])


@njit(**JIT_EXACT)
def _add_rows(a, rows, b):
    n = a.shape[0]
    for r in range(rows.size):
        i = rows[r]
        ar, br = a[i + n if i < 0 else i], b[r]
        for c in range(ar.size):
            ar[c] += br[c]


def add_rows(a, rows, b):
    """a[rows[r]] += b[r] for r in order (an embedding's backward), a (n, K) and b (rows.size, K) C-contiguous, the
    rows valid (negative ones count from the end): repeated rows accumulate one after another, a tenth of the time
    of backend.scatter_add's stable sort and reduceat at (2048 ids, 128)."""
    _add_rows(a, rows, b)


@njit(**JIT)
def _add(a, b, out):
    for i in range(a.size):
        out[i] = a[i] + b[i]


@njit(**JIT)
def _add_part(f, z):
    i, lo, hi, j = native.span(f)
    a, j = native.vector(f, j, z)
    b, j = native.vector(f, j, z)
    out, j = native.vector(f, j, z)
    _add(a[lo:hi], b[lo:hi], out[lo:hi])


@cfunc(native.ENTRY, **JIT)
def _add_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _add_part(f, 0.0)
    else:
        _add_part(f, np.float32(0.0))


def add(a, b):
    """a + b for C-contiguous arrays of one shape and dtype, in parts over the CPU threads where there are enough
    elements (native.SPLIT_LIGHT per part), else by NumPy; the same bits either way (one rounding per element)."""
    parts = native.parts(a.size, 1, light=True)
    if parts < 2:
        return a + b
    out = np.empty_like(a)
    native.run(_add_entry, a.size, parts, [*contiguous(a.reshape(-1)), *contiguous(b.reshape(-1)),
                                          *contiguous(out.reshape(-1)), a.dtype == np.float64])
    return out
