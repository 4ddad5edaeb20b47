"""Array-level stable kernels (any xp): logsumexp, softmax, log_softmax, sigmoid, log_sigmoid."""
import numpy as np

from minigrad.backend import get_array_module


def logsumexp(x, axis):
    """log(sum(exp(x), axis)) with keepdims: -inf for all -inf slices, inf with an inf element."""
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    m = xp.where(xp.isinf(m), 0, m).astype(x.dtype, copy=False)  # so that x - m is never inf - inf
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True)) + m


def softmax(x, axis):
    xp = get_array_module(x)
    with np.errstate(invalid="ignore"):
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # the max shift keeps exp in range
        e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x, axis):
    """x - logsumexp(x), NaN for slices that are all -inf or hold +inf (as torch)."""
    xp = get_array_module(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = x - x.max(axis=axis, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
    return z


def sigmoid(x):
    """1 / (1 + exp(-x)): exp overflows to inf for x < -709 and the quotient is then exactly 0."""
    xp = get_array_module(x)
    with np.errstate(over="ignore"):
        return 1 / (1 + xp.exp(-x))


def log_sigmoid(x):
    """min(x, 0) - log1p(exp(-|x|)): no overflow, exact for large |x|."""
    xp = get_array_module(x)
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
