"""Attention's rows on the CPU: the softmax with each row's logsumexp, and the backward's dS, in place."""
import numpy as np
from numba import njit

from minigrad.blocks import for_blocks
from minigrad.kernels import JIT_EXACT
from minigrad.kernels.fmath import cast, exp, log, row_max
from minigrad.kernels.rows import exp_rows

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
