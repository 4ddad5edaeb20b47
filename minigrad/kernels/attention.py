"""Attention's rows on the CPU: the softmax with each row's logsumexp, and the backward's dS, in place."""
import functools

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import as_strided

from minigrad import blas
from minigrad.backend import address, memory_root
from minigrad.blocks import for_blocks
from minigrad.kernels import JIT_EXACT
from minigrad.kernels.fmath import cast, exp, log, row_max
from minigrad.kernels.gemm import NO, TRANS, gemm
from minigrad.kernels.rows import dot, exp_rows

BLOCK = 1 << 16  # scores per thread's block
PAD = 32  # float32 elements per iteration of a vector loop here (8 lanes, unrolled 4 times)


@njit(**JIT_EXACT)
def _width(width, causal, lo, rows, i):
    """Keys row i of a block attends to: all, or under the causal mask those up to its query, lo + i % rows."""
    return min(width, lo + i % rows + 1) if causal else width


@njit(**JIT_EXACT)
def _padded(width, w):
    """w rounded up to whole iterations of a vector loop (PAD), at most width: a causal row's loops run that far,
    the extra entries computed and discarded, since a loop's last partial iteration runs one element at a time."""
    return min(width, -(-w // PAD) * PAD)


@njit(**JIT_EXACT)
def _softmax_lse(s, lse, sk, start, lo, rows, causal):
    """Each row of s (n, S) becomes the softmax of s * sk, in place, and lse[i] its max + log(sum(exp)); keys past
    the causal limit (see _width; row i of s is row start + i of the block) are 0 and count for nothing (their
    scores are the product's: the mask is applied here). A row of -inf (a query with no key) becomes zeros with
    lse = +inf, so that exp(s - lse) is 0 there."""
    n, width = s.shape
    er = np.empty(width, s.dtype)  # exp into another row: writing over the row read would stop vectorization
    k, zero = cast(s, sk), cast(s, 0.0)
    for i in range(n):
        w = _width(width, causal, lo, rows, start + i)
        wp = _padded(width, w)
        r = s[i]
        rw, rp = r[:w], r[:wp]
        for c in range(w):
            rw[c] *= k
        m = row_max(rw)
        if m == -np.inf:  # no key, or (row_max may leave NaN out) only NaN scores: zeros, or NaN
            fill = zero
            for c in range(w):
                if np.isnan(rw[c]):
                    fill = rw[c]
            for c in range(w):
                rw[c] = fill
            for c in range(w, width):
                r[c] = zero
            lse[i] = np.inf if fill == 0 else fill
            continue
        low = m - cast(r, 80.0)  # padding: exp(-80) is a normal float32 that moves no float64 sum of ones
        for c in range(w, wp):
            r[c] = low
        total = exp_rows(rp, m, er)
        a = cast(r, 1.0 / total)
        for c in range(wp):
            rp[c] = er[c] * a
        for c in range(w, width):
            r[c] = zero
        lse[i] = m + log(cast(r, total))


@njit(**JIT_EXACT)
def _grad(s, lse, dp, delta, sk, scale, start, lo, rows, causal):
    """In place, per row i: s[i] (scores) becomes P = exp(s sk - lse[i]), dp[i] (dO V^T) becomes
    P (dp - delta[i]) scale, the scores' gradient; both 0 past the causal limit, where nothing is read."""
    n, width = s.shape
    k, g, zero = cast(s, sk), cast(s, scale), cast(s, 0.0)
    for i in range(n):
        w = _width(width, causal, lo, rows, start + i)
        wp = _padded(width, w)  # the entries w..wp are computed from the scores past the limit, then set to 0
        sr, dr, li, di = s[i], dp[i], lse[i], delta[i]
        for c in range(wp):
            p = exp(sr[c] * k - li)
            sr[c] = p
            dr[c] = p * (dr[c] - di) * g
        for c in range(w, width):
            sr[c] = zero
            dr[c] = zero


def _rows(fn, n, width, threads):
    """fn(a, b) over row blocks on the CPU threads, or once over all rows (threads False: called from a thread
    of the pool already)."""
    if threads:
        for_blocks(fn, n, width, np, BLOCK)
    else:
        fn(0, n)


def softmax_lse(s, lse, sk=1.0, lo=0, causal=False, threads=True):
    """s (..., rows, S), C-contiguous, in place to its softmax of s * sk; lse (..., rows) each row's logsumexp;
    causal: row j of s is query lo + j, which attends to keys 0..lo + j."""
    s2, l2, rows = s.reshape(-1, s.shape[-1]), lse.reshape(-1), s.shape[-2]
    _rows(lambda a, b: _softmax_lse(s2[a:b], l2[a:b], sk, a, lo, rows, causal), len(s2), s.shape[-1], threads)


def grad(s, lse, dp, delta, scale, sk=1.0, lo=0, causal=False, threads=True):
    """s (..., rows, S) to P = exp(s sk - lse) and dp (..., rows, S) to P (dp - delta) scale, in place,
    C-contiguous; causal as softmax_lse."""
    s2, dp2, rows = s.reshape(-1, s.shape[-1]), dp.reshape(-1, dp.shape[-1]), s.shape[-2]
    l2, d2 = np.ascontiguousarray(lse).reshape(-1), np.ascontiguousarray(delta).reshape(-1)
    _rows(lambda a, b: _grad(s2[a:b], l2[a:b], dp2[a:b], d2[a:b], sk, scale, a, lo, rows, causal), len(s2),
          s.shape[-1], threads)


HEAD_ROWS = 1 << 14  # scores per block of a head's query rows: the scratch, reused head after head, stays in cache


@njit(**JIT_EXACT)
def _at(x, a, h, r):
    """The address of row r of head (a, h) of the 4-d array x."""
    return x.ctypes.data + a * x.strides[0] + h * x.strides[1] + r * x.strides[2]


@njit(**JIT_EXACT)
def _ld(x):
    """The leading dimension of x's rows as a BLAS operand (any at least the row's length where there is one row)."""
    return max(x.strides[2] // x.itemsize, x.shape[3], 1)


@njit(**JIT_EXACT)
def _transposed(x, a, h, out):
    """out (E, S) = x[a, h]^T: the products read k^T and v^T untransposed (a transposed operand is slower)."""
    xh = x[a, h]
    for j in range(xh.shape[0]):
        for c in range(xh.shape[1]):
            out[c, j] = xh[j, c]


@njit(**JIT_EXACT)
def _block_rows(n_l, n_s):
    return max(1, min(n_l, HEAD_ROWS // max(1, n_s)))


@njit(**JIT_EXACT)
def _heads_forward(addr, q, k, v, y, lse, scale, causal, lo, hi):
    """y and lse of heads lo..hi (flat over the two leading axes) of q, k, v (4-d, rows of unit stride), a block
    of query rows at a time: S = q k^T by GEMM, its rows to P and lse (_softmax_lse), y = P v by GEMM."""
    heads, n_l, e = q.shape[1], q.shape[2], q.shape[3]
    n_s, ev = k.shape[2], v.shape[3]
    rows = _block_rows(n_l, n_s)
    kt = np.empty((e, n_s), q.dtype)
    buf = np.empty(rows * n_s, q.dtype)
    for i in range(lo, hi):
        a, h = i // heads, i % heads
        _transposed(k, a, h, kt)
        for r0 in range(0, n_l, rows):
            m = min(n_l, r0 + rows) - r0
            w = min(n_s, r0 + m) if causal else n_s  # causal: only the keys up to the block's last row
            s = buf[:m * w].reshape(m, w)
            gemm(addr, NO, NO, m, w, e, _at(q, a, h, r0), _ld(q), kt.ctypes.data, n_s, s.ctypes.data, w, False, q)
            _softmax_lse(s, lse[a, h, r0:r0 + m], scale, 0, r0, m, causal)
            gemm(addr, NO, NO, m, ev, w, s.ctypes.data, w, _at(v, a, h, 0), _ld(v), _at(y, a, h, r0), _ld(y), False, q)


@njit(**JIT_EXACT)
def _heads_backward(addr, q, k, v, go, y, lse, gq, gk, gv, scale, causal, lo, hi):
    """gq, gk, gv of heads lo..hi, a block of query rows at a time, the widest first (its products set gk and gv
    for its keys, zeros past them; the others add theirs): P and dS from S = q k^T and dP = dO v^T (_grad), then
    gq = dS k, gk = dS^T q and gv = P^T dO by GEMM."""
    heads, n_l, e = q.shape[1], q.shape[2], q.shape[3]
    n_s, ev = k.shape[2], v.shape[3]
    rows = _block_rows(n_l, n_s)
    kt, vt = np.empty((e, n_s), q.dtype), np.empty((ev, n_s), q.dtype)
    sbuf, dbuf, delta = np.empty(rows * n_s, q.dtype), np.empty(rows * n_s, q.dtype), np.empty(rows, q.dtype)
    for i in range(lo, hi):
        a, h = i // heads, i % heads
        _transposed(k, a, h, kt)
        _transposed(v, a, h, vt)
        goh, yh = go[a, h], y[a, h]
        first = True
        for b in range((n_l + rows - 1) // rows - 1, -1, -1):
            r0 = b * rows
            m = min(n_l, r0 + rows) - r0
            w = min(n_s, r0 + m) if causal else n_s
            s, dp = sbuf[:m * w].reshape(m, w), dbuf[:m * w].reshape(m, w)
            gemm(addr, NO, NO, m, w, e, _at(q, a, h, r0), _ld(q), kt.ctypes.data, n_s, s.ctypes.data, w, False, q)
            gemm(addr, NO, NO, m, w, ev, _at(go, a, h, r0), _ld(go), vt.ctypes.data, n_s, dp.ctypes.data, w, False, q)
            for r in range(m):  # rowsum(dP * P) = rowsum(dO * O)
                delta[r] = dot(goh[r0 + r], yh[r0 + r])
            _grad(s, lse[a, h, r0:r0 + m], dp, delta, scale, scale, 0, r0, m, causal)
            gemm(addr, NO, NO, m, e, w, dp.ctypes.data, w, _at(k, a, h, 0), _ld(k), _at(gq, a, h, r0), _ld(gq),
                 False, q)
            gemm(addr, TRANS, NO, w, e, m, dp.ctypes.data, w, _at(q, a, h, r0), _ld(q), _at(gk, a, h, 0), _ld(gk),
                 not first, q)
            gemm(addr, TRANS, NO, w, ev, m, s.ctypes.data, w, _at(go, a, h, r0), _ld(go), _at(gv, a, h, 0), _ld(gv),
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


def _over_heads(kernel, args, n_s):
    """kernel(address, *args, lo, hi) over the heads of args[0] (4-d q), in blocks spread over the CPU threads, with
    OpenBLAS at one thread (its threads only slow products of one head)."""
    q4 = args[0]
    run = functools.partial(kernel, blas.gemm_address(q4.dtype), *args)
    with blas.single_thread():
        for_blocks(run, q4.shape[0] * q4.shape[1], q4.shape[2] * n_s, np, BLOCK)


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
    _over_heads(_heads_forward, (q4, k4, v4, y4, lse.reshape(q4.shape[:3]), scale, causal), k.shape[-2])
    return y, lse


def heads_backward(q, k, v, go, y, lse, scale, causal):
    """(gq, gk, gv) of attention (heads_forward's y and lse), the heads spread over the CPU threads."""
    gq, gk, gv = _gradients(q, k, v)
    q4, k4, v4, go4, y4, gq4, gk4, gv4 = (_operand(a) for a in (q, k, v, go, y, gq, gk, gv))
    _over_heads(_heads_backward, (q4, k4, v4, go4, y4, np.ascontiguousarray(lse).reshape(q4.shape[:3]), gq4, gk4,
                                  gv4, scale, causal), k.shape[-2])
    return gq, gk, gv
