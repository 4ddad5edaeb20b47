"""Attention's rows on the CPU: the softmax with each row's logsumexp, and the backward's dS, in place."""
import numpy as np
from numba import njit

from minigrad.blocks import for_blocks
from minigrad.kernels import JIT_EXACT
from minigrad.kernels.fmath import cast, exp, log, row_max
from minigrad.kernels.rows import exp_rows

BLOCK = 1 << 20  # scores per thread's block


@njit(**JIT_EXACT)
def _softmax_lse(s, lse):
    """Each row of s (n, S) becomes its softmax, in place, and lse[i] its max + log(sum(exp)); a row of -inf (a
    query with no key) becomes zeros with lse = +inf, so that exp(s - lse) is 0 there."""
    n, width = s.shape
    er = np.empty(width, s.dtype)  # exp into another row: writing over the row read would stop vectorization
    for i in range(n):
        r = s[i]
        m = row_max(r)
        if m == -np.inf:
            for c in range(width):
                r[c] = 0
            lse[i] = np.inf
            continue
        total = exp_rows(r, m, er)
        a = cast(r, 1.0 / total)
        for c in range(width):
            r[c] = er[c] * a
        lse[i] = m + log(cast(r, total))


@njit(**JIT_EXACT)
def _grad(s, lse, dp, delta, scale):
    """In place, per row i: s[i] (scores) becomes P = exp(s - lse[i]), dp[i] (dO V^T) becomes
    P (dp - delta[i]) scale, the scores' gradient."""
    n, width = s.shape
    k = cast(s, scale)
    for i in range(n):
        sr, dr, li, di = s[i], dp[i], lse[i], delta[i]
        for c in range(width):
            p = exp(sr[c] - li)
            sr[c] = p
            dr[c] = p * (dr[c] - di) * k


def softmax_lse(s, lse):
    """s (..., S), C-contiguous, in place to its softmax; lse (...) each row's logsumexp. On the CPU threads."""
    s2, l2 = s.reshape(-1, s.shape[-1]), lse.reshape(-1)
    for_blocks(lambda lo, hi: _softmax_lse(s2[lo:hi], l2[lo:hi]), len(s2), s.shape[-1], np, BLOCK)


def grad(s, lse, dp, delta, scale):
    """s (..., S) to P = exp(s - lse) and dp (..., S) to P (dp - delta) scale, in place, C-contiguous."""
    s2, dp2 = s.reshape(-1, s.shape[-1]), dp.reshape(-1, dp.shape[-1])
    l2, d2 = np.ascontiguousarray(lse).reshape(-1), np.ascontiguousarray(delta).reshape(-1)
    for_blocks(lambda lo, hi: _grad(s2[lo:hi], l2[lo:hi], dp2[lo:hi], d2[lo:hi], scale), len(s2), s.shape[-1], np,
               BLOCK)
