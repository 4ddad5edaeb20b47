"""Binary cross entropy of logits on the CPU: the loss and its gradient in one pass over the elements."""
import math

import numpy as np
from numba import njit

from minigrad.kernels import JIT
from minigrad.kernels.fmath import cast, exp, softplus_neg_abs

BLOCK = 1 << 18  # elements per block (a thread's unit of work)


@njit(**JIT)
def bce_rows(x, y, w, pw, k, loss, g):
    """Over the rows of 2-d x, y (w, pw: of x's shape, or empty for none): the losses
    w [max(x, 0) - x y - (pw - 1) y min(x, 0) + (1 + (pw - 1) y) log(1 + exp(-|x|))] into loss, or their sum
    returned (in float64) when loss is empty; the gradient k w [(pw y + 1 - y) sigmoid(x) - pw y] into g unless
    g is empty (k: of x's shape)."""
    n, c_len = x.shape
    total = 0.0
    zero, one = cast(x, 0.0), cast(x, 1.0)
    for i in range(n):
        part = zero
        for c in range(c_len):
            xi, yi = x[i, c], y[i, c]
            li = (xi if xi > 0 else zero) - xi * yi
            pm1y = zero
            if pw.size:  # the pos_weight terms only with one: (pw - 1) y min(x, 0) is NaN for x = -inf
                pm1y = (pw[i, c] - one) * yi
                li -= pm1y * (xi if xi < 0 else zero)
            li += (one + pm1y) * softplus_neg_abs(xi)
            if w.size:
                li *= w[i, c]
            if loss.size:
                loss[i, c] = li
            else:
                part += li
            if g.size:
                e = exp(-abs(xi))
                s = (one if xi >= 0 else e) / (one + e)
                gi = ((one + pm1y) * s - (yi + pm1y)) * k[i, c]  # (pw y + 1 - y) s - pw y, scaled
                g[i, c] = gi * w[i, c] if w.size else gi
        total += part
    return total


def sigmoid_bce(call, x, y, k, keep):
    """The losses of a BCECall on logits x and targets y (of the loss's shape), or their sum when not keep; and,
    for k (the gradient's scale, broadcasting to the shape; None: no gradient), the gradient."""
    shape = call.shape or (1,)
    none = np.empty((0, 0), x.dtype)
    loss = np.empty(shape, x.dtype) if keep else None
    g = None if k is None else np.empty(shape, x.dtype)
    outputs = [none if a is None else a.reshape(shape[0], math.prod(shape[1:])) for a in (loss, g)]  # C-ordered

    def block(lo, hi, *arrays):
        if hi == lo:
            return 0.0
        # rows lo:hi as 2-d arrays (a block of a broadcast weight is copied)
        xb, yb, wb, pwb, kb = (none if a is None else a.reshape(hi - lo, -1) for a in arrays)
        lb, gb = (a[lo:hi] if a.size else a for a in outputs)
        return bce_rows(xb, yb, wb, pwb, kb, lb, gb)

    # the call's arrays may be float16 while x is float32 (half_in_float32): cast them
    w, pw, k = (None if a is None else np.asarray(a, x.dtype) for a in (call.w, call.pw, k))
    parts = call.blocks(block, x, y.astype(x.dtype, copy=False), w, pw, k, block=BLOCK)
    loss = loss.reshape(call.shape) if keep else np.asarray(math.fsum(parts), x.dtype)
    return loss, (None if g is None else g.reshape(call.shape))
