"""Attention head by head on the CPU: each head's scores made transposed by BLAS GEMM, in cache, a block at a time."""
import numpy as np
from numba import cfunc, njit
from numpy.lib.stride_tricks import as_strided

from minigrad import blas
from minigrad.backend import address, memory_root
from minigrad.kernels import JIT_EXACT, native
from minigrad.kernels.fmath import cast, exp, log
from minigrad.kernels.gemm import NO, TRANS, gemm
from minigrad.kernels.rows import CHUNK, dot

HEAD_ROWS = 1 << 14  # scores per block of a head's query rows: the scratch, reused head after head, stays in cache
CAUSAL_ROWS = 32  # query rows per block under a causal mask: the blocks' products skip more of the masked triangle
# (forward + backward 10% faster than blocks of 64 at (32, 4, 64, 32) and (8, 4, 256, 64); 16 and 128 slower)

# The scores of a block of m query rows are kept transposed, st (w keys, m queries): column i is query r0 + i, row
# j key j. Every loop then runs along a key's row, across the queries, with each query's running max, sum, lse or
# delta in a vector beside it: no loop is as short as one query's keys, and a causal key's row is a contiguous run
# of the queries that see it, those from query j on.


@njit(**JIT_EXACT)
def _first(j, r0, m, causal):
    """The first column (query) of a block of m query rows from r0 that sees key j: all, or under the causal mask
    those from query j on."""
    return min(max(j - r0, 0), m) if causal else 0


@njit(**JIT_EXACT)
def _softmax_columns(st, lse, sk, r0, causal, mx, total, part):
    """st (w, m), transposed scores, in place to P^T, the softmax over each column of st * sk, lse[i] column i's
    max + log(sum(exp)); entries a causal query does not see are 0 and count for nothing. A column with no key
    seen (all -inf) becomes zeros with lse = +inf, so that exp(s - lse) is 0 there; a NaN makes its column NaN.
    mx, total (float64) and part are scratch of at least m."""
    w, m = st.shape
    k, zero, one, ninf = cast(st, sk), cast(st, 0.0), cast(st, 1.0), cast(st, -np.inf)
    for i in range(m):
        mx[i] = ninf
        total[i] = 0.0
    for j in range(w):
        c = _first(j, r0, m, causal)
        row = st[j]
        for i in range(c):
            row[i] = zero
        rs, ms = row[c:], mx[c:]  # slices: a loop from a variable start does not vectorize in numba
        for i in range(rs.size):
            v = rs[i] * k
            rs[i] = v
            ms[i] = v if v > ms[i] else ms[i]  # a NaN is left out here and carried by the sums
    for i in range(m):
        mx[i] = zero if mx[i] == ninf else mx[i]  # no key seen: exp(-inf - 0) = 0
    for j0 in range(0, w, CHUNK):  # float32 partial sums over CHUNK keys, combined in float64
        for i in range(m):
            part[i] = zero
        for j in range(j0, min(w, j0 + CHUNK)):
            c = _first(j, r0, m, causal)
            rs, ms, ps = st[j, c:], mx[c:], part[c:]
            for i in range(rs.size):
                e = exp(rs[i] - ms[i])
                rs[i] = e
                ps[i] += e
        for i in range(m):
            total[i] += part[i]
    for i in range(m):
        t = cast(st, total[i])
        lse[i] = np.inf if t == zero else mx[i] + log(t)
        part[i] = zero if t == zero else one / t
    for j in range(w):
        c = _first(j, r0, m, causal)
        rs, ps = st[j, c:], part[c:]
        for i in range(rs.size):
            rs[i] *= ps[i]


@njit(**JIT_EXACT)
def _grad_columns(st, dpt, lse, delta, sk, scale, r0, causal):
    """In place, per key row j: st[j] (transposed scores) becomes P^T = exp(st sk - lse), dpt[j] (v dO^T) becomes
    P^T (dpt - delta) scale, the scores' gradient transposed; both 0 where a causal query does not see key j."""
    w, m = st.shape
    k, g, zero = cast(st, sk), cast(st, scale), cast(st, 0.0)
    for j in range(w):
        c = _first(j, r0, m, causal)
        sr, dr = st[j], dpt[j]
        for i in range(c):
            sr[i] = zero
            dr[i] = zero
        ss, ds, ls, es = sr[c:], dr[c:], lse[c:], delta[c:]
        for i in range(ss.size):
            p = exp(ss[i] * k - ls[i])
            ss[i] = p
            ds[i] = p * (ds[i] - es[i]) * g


@njit(**JIT_EXACT)
def _at(x, a, h, r):
    """The address of row r of head (a, h) of the 4-d array x."""
    return x.ctypes.data + a * x.strides[0] + h * x.strides[1] + r * x.strides[2]


@njit(**JIT_EXACT)
def _ld(x):
    """The leading dimension of x's rows as a BLAS operand (any at least the row's length where there is one row)."""
    return max(x.strides[2] // x.itemsize, x.shape[3], 1)


@njit(**JIT_EXACT)
def _block(n_l, n_s, rows, r0, causal):
    """(m, w): the query rows of the block of `rows` from r0 and the keys they see (causal: up to its last row)."""
    m = min(n_l, r0 + rows) - r0
    return m, (min(n_s, r0 + m) if causal else n_s)


@njit(**JIT_EXACT)
def _transposed(x, a, h, r0, out):
    """out (cols, m) = rows r0..r0 + m of head (a, h) of x, transposed: a product then reads them untransposed, as
    GEMM does fastest at these sizes (a transposed operand took twice the time)."""
    cols, m = out.shape
    xh = x[a, h]
    for i in range(m):
        xr = xh[r0 + i]
        for c in range(cols):
            out[c, i] = xr[c]


@njit(**JIT_EXACT)
def _heads_forward(addr, q, k, v, y, lse, scale, causal, rows, lo, hi):
    """y and lse of heads lo..hi (flat over the two leading axes) of q, k, v (4-d, rows of unit stride), a block
    of query rows at a time: S^T = k q^T by GEMM, its columns to P^T and lse (_softmax_columns), y = P v by GEMM."""
    heads, n_l, e = q.shape[1], q.shape[2], q.shape[3]
    n_s, ev = k.shape[2], v.shape[3]
    buf, qbuf = np.empty(rows * n_s, q.dtype), np.empty(rows * e, q.dtype)
    mx, total, part = np.empty(rows, q.dtype), np.empty(rows), np.empty(rows, q.dtype)
    for i in range(lo, hi):
        a, h = i // heads, i % heads
        for r0 in range(0, n_l, rows):
            m, w = _block(n_l, n_s, rows, r0, causal)
            st, qt = buf[:w * m].reshape(w, m), qbuf[:e * m].reshape(e, m)
            _transposed(q, a, h, r0, qt)
            gemm(addr, NO, NO, w, m, e, _at(k, a, h, 0), _ld(k), qt.ctypes.data, m, st.ctypes.data, m, False, q)
            _softmax_columns(st, lse[a, h, r0:r0 + m], scale, r0, causal, mx, total, part)
            gemm(addr, TRANS, NO, m, ev, w, st.ctypes.data, m, _at(v, a, h, 0), _ld(v), _at(y, a, h, r0), _ld(y),
                 False, q)


@njit(**JIT_EXACT)
def _heads_backward(addr, q, k, v, go, y, gq, gk, gv, lse, scale, causal, rows, lo, hi):
    """gq, gk, gv of heads lo..hi, a block of query rows at a time, the widest first (its products set gk and gv
    for its keys, zeros past them; the others add theirs): P^T and dS^T from S^T = k q^T and dP^T = v dO^T
    (_grad_columns), then gq = dS k, gk = dS^T q and gv = P^T dO by GEMM."""
    heads, n_l, e = q.shape[1], q.shape[2], q.shape[3]
    n_s, ev = k.shape[2], v.shape[3]
    sbuf, dbuf, delta = np.empty(rows * n_s, q.dtype), np.empty(rows * n_s, q.dtype), np.empty(rows, q.dtype)
    qbuf, gbuf = np.empty(rows * e, q.dtype), np.empty(rows * ev, q.dtype)
    for i in range(lo, hi):
        a, h = i // heads, i % heads
        goh, yh = go[a, h], y[a, h]
        first = True
        for b in range((n_l + rows - 1) // rows - 1, -1, -1):
            r0 = b * rows
            m, w = _block(n_l, n_s, rows, r0, causal)
            st, dpt = sbuf[:w * m].reshape(w, m), dbuf[:w * m].reshape(w, m)
            qt, got = qbuf[:e * m].reshape(e, m), gbuf[:ev * m].reshape(ev, m)
            _transposed(q, a, h, r0, qt)
            _transposed(go, a, h, r0, got)
            gemm(addr, NO, NO, w, m, e, _at(k, a, h, 0), _ld(k), qt.ctypes.data, m, st.ctypes.data, m, False, q)
            gemm(addr, NO, NO, w, m, ev, _at(v, a, h, 0), _ld(v), got.ctypes.data, m, dpt.ctypes.data, m, False, q)
            for r in range(m):  # rowsum(dP * P) = rowsum(dO * O)
                delta[r] = dot(goh[r0 + r], yh[r0 + r])
            _grad_columns(st, dpt, lse[a, h, r0:r0 + m], delta, scale, scale, r0, causal)
            gemm(addr, TRANS, NO, m, e, w, dpt.ctypes.data, m, _at(k, a, h, 0), _ld(k), _at(gq, a, h, r0), _ld(gq),
                 False, q)
            gemm(addr, NO, NO, w, e, m, dpt.ctypes.data, m, _at(q, a, h, r0), _ld(q), _at(gk, a, h, 0), _ld(gk),
                 not first, q)
            gemm(addr, NO, NO, w, ev, m, st.ctypes.data, m, _at(go, a, h, r0), _ld(go), _at(gv, a, h, 0), _ld(gv),
                 not first, q)
            if first:
                gk[a, h, w:], gv[a, h, w:] = 0, 0
                first = False


def _fits(a):
    """a's rows lie as a BLAS operand: unit stride along them, a leading dimension of whole elements at least
    their length (or one row), aligned."""
    it = a.itemsize
    return a.flags.aligned and (a.shape[-1] <= 1 or a.strides[-1] == it) and (
        a.shape[-2] <= 1 or (a.strides[-2] % it == 0 and a.strides[-2] >= it * a.shape[-1]))


def _operand(a):
    """a (..., rows, cols) as a 4-d array whose rows fit (_fits): a view where it can be, else a C copy."""
    a = a if _fits(a) else np.array(a, order="C")
    return a.reshape((1,) * (4 - a.ndim) + a.shape) if a.ndim <= 4 else a.reshape((-1,) + a.shape[-3:])


def _output(shape, like):
    """An empty array of shape in like's dtype, laid out as like (transposed heads stay so) where that fits and
    stays a view as 4-d, else C-ordered."""
    out = np.empty_like(like, shape=shape)
    return out if out.ndim <= 4 and _fits(out) else np.empty(shape, like.dtype)


def _gradients(q, k, v):
    """Empty gq, gk, gv laid out as q, k, v (_output). Where q, k and v are views of one array, equal in shape and
    strides, one fixed distance apart and sharing no element (MultiHeadAttention's split of its qkv product), they
    are views of one new array at the same places, so that Split's backward joins them without a copy."""
    step, it = address(k) - address(q), q.itemsize
    if (q.shape == k.shape == v.shape and q.strides == k.strides == v.strides and q.ndim <= 4 and _fits(q)
            and step > 0 and address(v) - address(k) == step and step % it == 0
            and all(s >= 0 and s % it == 0 for s in q.strides)
            and memory_root(q) is memory_root(k) is memory_root(v)
            and not (np.shares_memory(q, k) or np.shares_memory(k, v) or np.shares_memory(q, v))):
        span = (2 * step + sum((n - 1) * s for n, s in zip(q.shape, q.strides))) // it + 1
        joint = np.empty(span, q.dtype)
        return tuple(as_strided(joint[i * step // it:], q.shape, q.strides) for i in range(3))
    return _output(q.shape, q), _output(k.shape, k), _output(v.shape, v)


@njit(**JIT_EXACT)
def _common(f, z):
    """(lo, hi, addr, rows, scale, causal, lse, j): the fields both parts begin with, j the next one."""
    i, lo, hi, j = native.span(f)
    addr, j = native.integer(f, j)
    rows, j = native.integer(f, j)
    scale, j = native.real(f, j)
    causal, j = native.integer(f, j)
    lse, j = native.cube(f, j, z)
    return lo, hi, addr, rows, scale, causal != 0, lse, j


@njit(**JIT_EXACT)
def _forward_part(f, z):
    lo, hi, addr, rows, scale, causal, lse, j = _common(f, z)
    q, j = native.strided4(f, j, z)
    k, j = native.strided4(f, j, z)
    v, j = native.strided4(f, j, z)
    y, j = native.strided4(f, j, z)
    _heads_forward(addr, q, k, v, y, lse, scale, causal, rows, lo, hi)


@cfunc(native.ENTRY, **JIT_EXACT)
def _forward_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _forward_part(f, 0.0)
    else:
        _forward_part(f, np.float32(0.0))


@njit(**JIT_EXACT)
def _backward_part(f, z):
    lo, hi, addr, rows, scale, causal, lse, j = _common(f, z)
    q, j = native.strided4(f, j, z)
    k, j = native.strided4(f, j, z)
    v, j = native.strided4(f, j, z)
    go, j = native.strided4(f, j, z)
    y, j = native.strided4(f, j, z)
    gq, j = native.strided4(f, j, z)
    gk, j = native.strided4(f, j, z)
    gv, j = native.strided4(f, j, z)
    _heads_backward(addr, q, k, v, go, y, gq, gk, gv, lse, scale, causal, rows, lo, hi)


@cfunc(native.ENTRY, **JIT_EXACT)
def _backward_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _backward_part(f, 0.0)
    else:
        _backward_part(f, np.float32(0.0))


def _over_heads(kernel, entry, arrays, lse, scale, causal):
    """kernel (entry, its C entry, for parts) over the heads of arrays[0] (4-d q, then the other 4-d arrays in the
    kernel's order, then lse), spread over the CPU threads, with OpenBLAS at one thread (its threads only slow
    products of one head); query rows per block of a head: HEAD_ROWS scores, at most CAUSAL_ROWS under a causal
    mask."""
    q4, n_s = arrays[0], arrays[1].shape[2]
    rows = max(1, min(q4.shape[2], HEAD_ROWS // max(1, n_s), CAUSAL_ROWS if causal else q4.shape[2]))
    heads = q4.shape[0] * q4.shape[1]
    parts = native.parts(heads, q4.shape[2] * n_s)
    with blas.single_thread():
        if parts == 1:  # one call from here: no frame to build
            kernel(blas.gemm_address(q4.dtype), *arrays, lse, scale, causal, rows, 0, heads)
            return
        fields = [blas.gemm_address(q4.dtype), rows, native.bits(scale), int(causal), *native.contiguous(lse)]
        for a in arrays:
            fields += native.strided(a)
        native.run(entry, heads, parts, fields + [q4.dtype == np.float64])


def heads_fit(q, k, v):
    """Whether attention without a mask array or dropout runs on the per-head kernels: float32 or float64 NumPy
    arrays of one dtype, no empty axis, and NumPy's BLAS found (blas.gemm_address)."""
    arrays = (q, k, v)
    return (q.dtype == k.dtype == v.dtype and all(type(a) is np.ndarray and a.size for a in arrays)
            and blas.gemm_address(q.dtype) != 0)


def heads_forward(q, k, v, scale, causal):
    """(y, lse) of attention over q (..., L, E), k (..., S, E), v (..., S, Ev) (heads_fit), the heads spread over
    the CPU threads."""
    y = _output(q.shape[:-1] + v.shape[-1:], q)
    lse = np.empty(q.shape[:-1], q.dtype)
    q4, k4, v4, y4 = (_operand(a) for a in (q, k, v, y))
    _over_heads(_heads_forward, _forward_entry, (q4, k4, v4, y4), lse.reshape(q4.shape[:3]), scale, causal)
    return y, lse


def heads_backward(q, k, v, go, y, lse, scale, causal):
    """(gq, gk, gv) of attention (heads_forward's y and lse), the heads spread over the CPU threads."""
    gq, gk, gv = _gradients(q, k, v)
    arrays = [_operand(a) for a in (q, k, v, go, y, gq, gk, gv)]
    lse = np.ascontiguousarray(lse).reshape(arrays[0].shape[:3])
    _over_heads(_heads_backward, _backward_entry, arrays, lse, scale, causal)
    return gq, gk, gv
