"""Array-level stable kernels (any xp): logsumexp, softmax, log_softmax, sigmoid, log_sigmoid, normal_cdf."""
import math

import numpy as np

from minigrad import backend
from minigrad.backend import get_array_module, is_cupy_array

_ERFC = np.frompyfunc(math.erfc, 1, 1)  # libm's erfc per element (NumPy has no erf): exact, about 50 ns each


def logsumexp(x, axis):
    """log(sum(exp(x), axis)) with keepdims: -inf for all -inf slices and empty ones, inf with an inf element."""
    xp = get_array_module(x)
    if x.size == 0:  # max has no identity; the log of an empty sum is -inf
        return xp.full(x.sum(axis=axis, keepdims=True).shape, -np.inf, dtype=x.dtype)
    m = x.max(axis=axis, keepdims=True)
    m = xp.where(xp.isinf(m), 0, m).astype(x.dtype, copy=False)  # so that x - m is never inf - inf
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True)) + m


def softmax(x, axis):
    xp = get_array_module(x)
    if x.size == 0:
        return xp.empty_like(x)
    with np.errstate(invalid="ignore"):
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # the max shift keeps exp in range
        e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x, axis):
    """x - logsumexp(x), NaN for slices that are all -inf or hold +inf (as torch)."""
    xp = get_array_module(x)
    if x.size == 0:
        return xp.empty_like(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = x - x.max(axis=axis, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
    return z


def sigmoid(x, negate=False):
    """1 / (1 + exp(-x)), or sigmoid(-x) = 1 / (1 + exp(x)) when negate: exp overflows to inf for x < -709
    (float32: -88.7) and the quotient is then exactly 0."""
    xp = get_array_module(x)
    with np.errstate(over="ignore"):
        e = xp.exp(x if negate else xp.negative(x))
    if not e.ndim:
        return 1 / (1 + e)
    e += 1
    return xp.divide(1, e, out=e)


def exp_neg_abs(x):
    """exp(-|x|), in [0, 1]: it never overflows. A new array (1-d for 0-d x: in-place ops need arrays)."""
    xp = get_array_module(x)
    e = xp.abs(x.reshape(x.shape or (1,)))
    return xp.exp(xp.negative(e, out=e), out=e)


def log1p_small(e, u):
    """log1p(e) for e in [0, 1], given u = 1 + e rounded (overwritten: the result is u's array).

    log1p(e) = log(u) - ((u - 1) - e) / u to within float precision: the correction is u's rounding error
    (exact by Sterbenz). It replaces log1p, which NumPy does not vectorise (about 5x slower than log).
    """
    d = u - 1
    d -= e
    d /= u
    r = get_array_module(u).log(u, out=u)
    r -= d
    return r


def log1p_exp_neg_abs(x):
    """log1p(exp(-|x|)), in (0, log 2]: the softplus tail of log_sigmoid and the BCE losses."""
    e = exp_neg_abs(x)
    return log1p_small(e, e + 1).reshape(x.shape)


def sigmoid_from(x, e, u, out):
    """sigmoid(x) into out, from e = exp(-|x|) and u = 1 + e (x, e, u and out of one shape): 1 / u where x >= 0,
    e / u where x < 0; no exp of a positive number, so no overflow. The BCE losses share e with their loss."""
    xp = get_array_module(x)
    # The numerator max(sign(x), e) is 1 or e exactly (at x = 0, e = 1), chosen without a branch per element: a
    # masked multiply or np.where on mixed signs runs about 20x slower.
    xp.sign(x, out=out)
    xp.maximum(out, e, out=out)
    return xp.divide(out, u, out=out)


def log_sigmoid(x):
    """min(x, 0) - log1p(exp(-|x|)): no overflow, exact for large |x|."""
    return get_array_module(x).minimum(x, 0) - log1p_exp_neg_abs(x)


def normal_cdf(x):
    """The standard normal distribution function Phi(x) = erfc(-x / sqrt(2)) / 2, accurate to the last digits in
    both tails (1 + erf(x / sqrt(2)) would cancel for x < 0); computed in float64, returned in x's dtype."""
    if is_cupy_array(x):
        return backend.erfc(x * -math.sqrt(0.5)) * 0.5
    return (np.asarray(_ERFC(np.asarray(x, np.float64) * -math.sqrt(0.5)), np.float64) * 0.5).astype(x.dtype)
