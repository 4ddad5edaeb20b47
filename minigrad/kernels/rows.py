"""Sums for the kernels: along a row and down columns (float32 over short chunks, then float64), and rows added by index."""
from numba import njit

import numpy as np

from minigrad.kernels import JIT, JIT_EXACT
from minigrad.kernels.fmath import cast, exp

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
    n = a.size
    full = n - n % CHUNK
    total = 0.0
    for lo in range(0, full, CHUNK):
        part = cast(a, 0.0)
        for c in range(lo, lo + CHUNK):
            part += a[c] if b is None else a[c] * b[c]
        total += part
    part = cast(a, 0.0)
    for c in range(full, n):
        part += a[c] if b is None else a[c] * b[c]
    return total + part


@njit(**JIT_EXACT)
def _column_sums(g, out):
    n, k = g.shape
    total = np.zeros(k)
    part = np.empty(k, g.dtype)
    for lo in range(0, n, CHUNK):
        part[:] = 0
        for r in range(lo, min(n, lo + CHUNK)):
            row = g[r]
            for c in range(k):  # across the columns: vectorizes with no reordering of any one sum
                part[c] += row[c]
        for c in range(k):
            total[c] += part[c]
    for c in range(k):
        out[c] = total[c]


def column_sums(g):
    """g (N, K), C-contiguous, summed over its rows: (K,) in g's dtype (a bias gradient, Linear's or a broadcast
    add's). 2x NumPy's axis-0 sum at (2048, 384) float32, and float32 partials over CHUNK rows only."""
    out = np.empty(g.shape[1], g.dtype)
    _column_sums(g, out)
    return out


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
