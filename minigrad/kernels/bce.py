"""Binary cross entropy of logits on the CPU: the loss and its gradient in one pass over the elements."""
import math

import numpy as np
from numba import njit

from minigrad.kernels import JIT
from minigrad.kernels.fmath import cast, exp, log1p

BLOCK = 1 << 20  # elements per block: handing a block to another thread costs about 100 us here
CHUNK = 64  # the losses' sums run in the input's dtype over this many terms (so they vectorize), then float64


@njit(**JIT, inline="always")
def _span(x, y, w, pw, k, k0, loss, g, i, lo, hi, r):
    """Elements lo:hi of row i (see bce_rows), their losses into row r of loss; returns their sum when loss is
    None."""
    zero, one = cast(x, 0.0), cast(x, 1.0)
    part = zero
    for c in range(lo, hi):
        xi, yi = x[i, c], y[i, c]
        e = exp(-abs(xi))  # never overflows: both the loss's log1p and sigmoid are built from it
        # max(x, 0) - x y as x (1 - y) or -x y: a product, exactly 0 for y = 1 and x > 0 (or y = 0 and x < 0),
        # so that reassociating its sum with a tiny log1p below cannot make a cancellation; a - a (0, or NaN
        # for an infinite x y) gives +inf logits the NumPy path's inf - inf
        a = xi * yi
        li = xi * (one - yi) + (a - a) if xi > zero else -a
        pm1y = zero
        if pw is not None:  # (pw - 1) y min(x, 0) only with a pos_weight: it is NaN for x = -inf
            pm1y = (pw[i, c] - one) * yi
            li -= pm1y * (xi if xi < zero else zero)
        li += (one + pm1y) * log1p(e)
        if w is not None:
            li *= w[i, c]
        if loss is not None:
            loss[r, c] = li
        else:
            part += li
        if g is not None:
            s = (one if xi >= zero else e) / (one + e)
            gi = ((one + pm1y) * s - (yi + pm1y)) * (k0 if k is None else k[i, c])  # (pw y + 1 - y) s - pw y
            g[i, c] = gi * w[i, c] if w is not None else gi
    return part


@njit(**JIT)
def bce_rows(x, y, w, pw, k, k0, loss, g):
    """Over the rows of 2-d x and y (w, pw: of x's shape, or None): the losses
    w [max(x, 0) - x y - (pw - 1) y min(x, 0) + (1 + (pw - 1) y) log(1 + exp(-|x|))] into loss, or, when loss is
    None, their sum returned in float64; the gradient k w [(pw y + 1 - y) sigmoid(x) - pw y] into g unless g is
    None (k: of x's shape, or None for the number k0 everywhere). The arguments that are None select a version
    compiled without their terms."""
    n, c_len = x.shape
    full = c_len - c_len % CHUNK
    summed = loss is None and g is not None
    tail = np.empty((1, c_len if summed else 0), x.dtype)
    total = 0.0
    for i in range(n):
        for lo in range(0, full, CHUNK):  # a constant trip count: the loop vectorizes
            total += _span(x, y, w, pw, k, k0, loss, g, i, lo, lo + CHUNK, i)
        if summed:  # see _summed_tail
            total += _summed_tail(x, y, w, pw, k, k0, g, i, full, tail)
        else:
            total += _span(x, y, w, pw, k, k0, loss, g, i, full, c_len, i)
    return total


@njit(**JIT, inline="always")
def _summed_tail(x, y, w, pw, k, k0, g, i, full, tail):
    """The sum of row i's losses past its full chunks, its gradient written. A loop that stores and sums at once is
    vectorized only after a run-time check that its arrays lie apart, and its fallback sums in another order: bits
    that would depend on where the arrays lie. For a full chunk the check always passes (two arrays of at least one
    chunk lie a chunk or more apart); the tail's losses go to a scratch row, summed in a loop of their own."""
    _span(x, y, w, pw, k, k0, tail, g, i, full, x.shape[1], 0)
    span, part = tail[0, full:], cast(x, 0.0)
    for c in range(span.size):
        part += span[c]
    return part


def sigmoid_bce(call, x, y, k, keep):
    """The losses of a BCECall on logits x and targets y (of the loss's shape), or their sum when not keep; and,
    for k (the gradient's scale, broadcasting to the shape; None: no gradient), the gradient."""
    shape = call.shape or (1,)
    loss = np.empty(shape, x.dtype) if keep else None
    g = None if k is None else np.empty(shape, x.dtype)
    outputs = [None if a is None else a.reshape(shape[0], math.prod(shape[1:])) for a in (loss, g)]  # C-ordered

    def block(lo, hi, *arrays):
        if hi == lo:
            return 0.0
        # rows lo:hi as 2-d arrays (a block of a broadcast weight is copied)
        xb, yb, wb, pwb, kb = (None if a is None else a.reshape(hi - lo, -1) for a in arrays)
        lb, gb = (None if a is None else a[lo:hi] for a in outputs)
        return bce_rows(xb, yb, wb, pwb, kb, k0, lb, gb)

    # the call's arrays may be float16 while x is float32 (half_in_float32): cast them
    w, pw, k = (None if a is None else np.asarray(a, x.dtype) for a in (call.w, call.pw, k))
    k0 = x.dtype.type(0)
    if k is not None and k.ndim == 0:  # one number: a scalar, so that the loop reads no zero-stride array
        k, k0 = None, k[()]
    parts = call.blocks(block, x, y.astype(x.dtype, copy=False), w, pw, k, block=BLOCK)
    loss = loss.reshape(call.shape) if keep else np.asarray(math.fsum(parts), x.dtype)
    return loss, (None if g is None else g.reshape(call.shape))


@njit(**JIT)
def plain_sum(x, y, g, k):
    """The common call in one kernel: the sum (float64) of the losses of x and y (2-d, no weights) and, unless g
    is None, their gradient for gy = 1 scaled by k into g."""
    return bce_rows(x, y, None, None, None, k, None, g)
