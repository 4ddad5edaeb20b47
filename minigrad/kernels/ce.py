"""Softmax cross entropy on the CPU: per row, one pass for the max and one for exp, the loss and the gradient."""
import math

import numpy as np
from numba import njit

from minigrad.blocks import for_blocks
from minigrad.kernels import JIT, JIT_EXACT
from minigrad.kernels.fmath import cast, row_max
from minigrad.kernels.rows import exp_rows

BLOCK = 1 << 20  # elements per block of rows: handing a block to another thread costs about 100 us here
# The sums (kernels.rows) run with reassoc, so they vectorize; the arithmetic around them without (JIT_EXACT).


@njit(**JIT_EXACT)
def _weighted_sum(xr, m, w):
    """sum_c w_c (xr[c] - m) in float64 (w empty: all 1)."""
    total = 0.0
    for c in range(xr.size):
        total += (w[c] if w.size else 1.0) * (xr[c] - m)
    return total


@njit(**JIT_EXACT)
def index_rows(x, t, wt, mass, valid, k, w, eps, loss, g):
    """Class-index cross entropy of the rows x[i, j] (x: (n, S, C)): loss[i, j] and, when g is not empty, the
    gradient g[i, j] = k (mass softmax - P) with P = (1 - eps) wt onehot(t) + (eps / C) w (docs/losses.md).
    g may be x itself: each row is read before it is written, and its exp goes to a scratch row first (an exp written
    over the row it reads does not vectorize: 4x the time, measured)."""
    n, s_len, c_len = x.shape
    er = np.empty(c_len, x.dtype)
    smooth = eps / c_len
    apart = not g.shape[0] or g.ctypes.data != x.ctypes.data
    for i in range(n):
        for j in range(s_len):
            xr = x[i, j]
            gr = g[i, j] if g.shape[0] else er
            m = row_max(xr)
            ti = t[i, j]
            zq = (1 - eps) * wt[i, j] * (xr[ti] - m)  # before exp_rows: g may be x itself
            if eps:  # only then do class weights enter (the weight of a class no target uses may be inf)
                zq += smooth * _weighted_sum(xr, m, w)
            if apart:
                s = exp_rows(xr, m, gr)
            else:  # g is x: the exp into the scratch row, then copied over the row
                s = exp_rows(xr, m, er)
                for c in range(c_len):
                    gr[c] = er[c]
            loss[i, j] = mass[i, j] * math.log(s) - zq if valid[i, j] else 0
            if not g.shape[0]:
                continue
            kij = k[i, j]
            a, b = cast(xr, kij * mass[i, j] / s), cast(xr, kij * smooth)
            if eps and w.size:
                for c in range(c_len):
                    gr[c] = gr[c] * a - b * w[c]
            elif eps:
                for c in range(c_len):
                    gr[c] = gr[c] * a - b
            else:
                for c in range(c_len):
                    gr[c] *= a
            gr[ti] -= kij * (1 - eps) * wt[i, j]


@njit(**JIT_EXACT)
def prob_rows(x, q, k, w, eps, loss, g):
    """Cross entropy of the rows x[i, j] against probabilities q[i, j] (both (n, S, C)): loss[i, j] and, when g is
    not empty, g[i, j] = k (mass softmax - P), P = w ((1 - eps) q + eps / C), mass = sum_c P_c."""
    n, s_len, c_len = x.shape
    er = np.empty(c_len, x.dtype)
    smooth = eps / c_len
    for i in range(n):
        for j in range(s_len):
            xr, qr = x[i, j], q[i, j]
            gr = g[i, j] if g.shape[0] else er
            m = row_max(xr)
            s = exp_rows(xr, m, gr)
            mass = zq = 0.0
            for c in range(c_len):
                p = (w[c] if w.size else 1.0) * ((1 - eps) * qr[c] + smooth)
                mass += p
                zq += p * (xr[c] - m)
            loss[i, j] = mass * math.log(s) - zq
            if not g.shape[0]:
                continue
            kij = k[i, j]
            a = cast(xr, kij * mass / s)
            for c in range(c_len):
                p = (w[c] if w.size else 1.0) * ((1 - eps) * qr[c] + smooth)
                gr[c] = gr[c] * a - kij * p


def _rows(a, lay):
    """An array of the view (N, C) or (N, C, S) as rows (N, S, C)."""
    return a[:, None, :] if len(lay.view) == 2 else a.transpose(0, 2, 1)


def _positions(a, lay):
    """A per-position array broadcasting to the kept shape (N, 1) or (N, 1, S) as (N, S) (a view of a)."""
    if a.shape != lay.kept:
        a = np.broadcast_to(a, lay.kept)
    return a[:, 0] if len(lay.kept) == 3 else a


def _weights(call, dtype):
    """The call's class weights (empty: none) and, for class indices, its targets' weights and masses, in dtype:
    the call's arrays may be float16 while the logits are float32 (half_in_float32)."""
    w = call.w.astype(dtype, copy=False) if call.w is not None else np.empty(0, dtype)
    if call.targets is None:
        return w, None, None
    return (w,) + tuple(a.astype(dtype, copy=False) for a in (call.targets.wt, call.mass))


def cross_entropy(call, x, q, k):
    """The per-position losses (kept shape) of a CrossEntropyCall on logits x and probability targets q (or None),
    both of the view's shape; and, for k (the gradient scale per position, or None: no gradient), the gradient."""
    lay, dtype = call.layout, x.dtype
    loss = np.empty(lay.kept, dtype)
    g = np.empty(lay.view, dtype) if k is not None else np.empty((0,) * len(lay.view), dtype)
    w, wt, mass = _weights(call, dtype)
    xr, gr, lr = _rows(x, lay), _rows(g, lay), loss[:, 0] if len(lay.kept) == 3 else loss
    kr = _positions(np.asarray(0 if k is None else k, dtype), lay)
    tg = call.targets
    if tg is not None:
        t, valid, wt, mass = (_positions(a, lay) for a in (tg.t, tg.valid, wt, mass))
    else:
        qr = _rows(q, lay)

    def block(lo, hi):
        gb = gr[lo:hi] if k is not None else gr
        if tg is not None:
            index_rows(xr[lo:hi], t[lo:hi], wt[lo:hi], mass[lo:hi], valid[lo:hi], kr[lo:hi], w, call.eps,
                       lr[lo:hi], gb)
        else:
            prob_rows(xr[lo:hi], qr[lo:hi], kr[lo:hi], w, call.eps, lr[lo:hi], gb)

    for_blocks(block, lay.view[0], lay.row_size, np, BLOCK)
    return loss, (g if k is not None else None)


def index_block(call, z, lo, hi, k, loss):
    """The loss terms of rows lo:hi of a class-index CrossEntropyCall from z, their (hi - lo, C) logits, into loss
    ((hi - lo, 1)); given k (the rows' gradient scale, (hi - lo, 1)), z becomes their gradient in place."""
    tg, dtype = call.targets, z.dtype
    w, wt, mass = _weights(call, dtype)
    rows = z[:, None, :]
    index_rows(rows, tg.t[lo:hi], wt[lo:hi], mass[lo:hi], tg.valid[lo:hi],
               np.zeros((hi - lo, 1), dtype) if k is None else np.asarray(k, dtype), w, call.eps, loss,
               rows if k is not None else np.empty((0, 0, 0), dtype))


@njit(**JIT)
def first_bad_target(t, c_len, ignore):
    """The first position whose class index is outside [0, C) and not `ignore`, or -1."""
    for i in range(t.size):
        ti = t[i]
        if ti != ignore and (ti < 0 or ti >= c_len):
            return i
    return -1


@njit(**JIT_EXACT)
def plain_rows(x, t, ignore, mean, g):
    """The common call in one kernel: logits x (n, C), class indices t (n,) in [0, C) or `ignore` (counted for
    nothing), 'mean' (over the counted positions) or 'sum'. Returns the loss (float64) and, unless g is empty,
    writes the gradient for gy = 1 into g."""
    n, c_len = x.shape
    count = 0
    for i in range(n):
        count += t[i] != ignore
    k = (1.0 / count if count else 0.0) if mean else 1.0
    er = np.empty(c_len, x.dtype)
    total = 0.0
    for i in range(n):
        xr, ti = x[i], t[i]
        valid = ti != ignore
        tc = ti if valid else 0
        gr = g[i] if g.shape[0] else er
        m = row_max(xr)
        s = exp_rows(xr, m, gr)
        if valid:
            total += math.log(s) - (xr[tc] - m)
        if g.shape[0]:
            a = cast(xr, (k if valid else 0.0) / s)  # an ignored row: 0, or NaN from a NaN or +inf logit
            for c in range(c_len):
                gr[c] *= a
            if valid:
                gr[tc] -= cast(xr, k)
    return total * k if count else (math.nan if mean else 0.0)
