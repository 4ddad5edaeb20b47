"""Batch normalization (DeZero's batch_norm): batch statistics in training, running averages in test mode."""
import math

from minigrad.backend import get_array_module, is_array, writable
from minigrad.blocks import for_blocks
from minigrad.config import Config
from minigrad.core import as_array, as_variable
from minigrad.function import Function
from minigrad.ops.elementwise import astype, float32_for_half
from minigrad.ops.reductions import sum
from minigrad.shapes import check_float, check_real

BLOCK = 1 << 18  # elements per channel block: a few blocks per thread, each within a core's cache


def _by_channel(x):
    """x (N, C) or (N, C, H, W) as (N, C, M): the axis the statistics run along last."""
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


class BatchNorm(Function):
    """Training mode: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch's mean and biased variance
    per channel (axis 1) over every other axis. Forward sets the batch's `mean`, `var` and `inv_std` ((C,)
    arrays); `eps` is set at construction.

    The backward is the closed form gx = gamma inv_std (gy - mean(gy) - xhat mean(gy xhat)), computed on the
    arrays in channel blocks; under create_graph the same formula is recorded from minigrad ops instead."""

    keeps_output = False

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, gamma, beta):
        xp = get_array_module(x, gamma, beta)
        x3 = _by_channel(x)
        n, c, m = x3.shape
        y = xp.empty_like(x3)
        mean, var, inv_std = (xp.full(c, xp.nan, dtype=x.dtype) for _ in range(3))
        if not y.size:  # an empty batch: no statistics (NaN, never used), an empty result
            self.mean, self.var, self.inv_std = mean, var, inv_std
            return y.reshape(x.shape)

        def block(lo, hi):
            xb, yb = x3[:, lo:hi], y[:, lo:hi]
            mu = xb.mean(axis=(0, 2))
            xc = xp.subtract(xb, mu[:, None], out=yb)
            v = xp.einsum("ncm,ncm->c", xc, xc) / (n * m)
            inv = 1 / xp.sqrt(v + self.eps)
            mean[lo:hi], var[lo:hi], inv_std[lo:hi] = mu, v, inv
            xc *= (inv * gamma[lo:hi])[:, None]
            xc += beta[lo:hi, None]
        for_blocks(block, c, n * m, xp, BLOCK)
        self.mean, self.var, self.inv_std = mean, var, inv_std
        return y.reshape(x.shape)

    def backward(self, gy):
        x, gamma, _ = self.inputs
        if not x.size:  # an empty batch: every gradient is zero (recorded, so that it has derivatives too)
            gbeta = sum(gy, axis=(0,) + tuple(range(2, x.ndim)))
            return gy * 0, gbeta * 0, gbeta
        if Config.enable_backprop:  # create_graph: the same closed form, recorded
            return self._recorded(x, gamma, gy)
        xp = get_array_module(gy)
        x3, gy3 = _by_channel(x.data), _by_channel(gy.data)
        n, c, m = x3.shape
        gx, ggamma, gbeta = xp.empty_like(x3), xp.empty(c, dtype=x.dtype), xp.empty(c, dtype=x.dtype)
        g, inv_std, mean = gamma.data, self.inv_std, self.mean

        def block(lo, hi):
            gb = gy3[:, lo:hi]
            xhat = (x3[:, lo:hi] - mean[lo:hi, None]) * inv_std[lo:hi, None]
            s = gb.sum(axis=(0, 2))
            sh = xp.einsum("ncm,ncm->c", gb, xhat)
            gbeta[lo:hi], ggamma[lo:hi] = s, sh
            xhat *= (sh / (n * m))[:, None]
            xhat += (s / (n * m))[:, None]
            out = gx[:, lo:hi]
            xp.subtract(gb, xhat, out=out)
            out *= (g[lo:hi] * inv_std[lo:hi])[:, None]
        for_blocks(block, c, n * m, xp, BLOCK)
        return as_variable(gx.reshape(x.shape)), as_variable(ggamma), as_variable(gbeta)

    def _recorded(self, x, gamma, gy):
        axes = (0,) if x.ndim == 2 else (0, 2, 3)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        m = x.size // x.shape[1]
        xc = x - sum(x, axis=axes, keepdims=True) * (1 / m)
        inv_std = (sum(xc * xc, axis=axes, keepdims=True) * (1 / m) + self.eps) ** -0.5
        xhat = xc * inv_std
        gbeta = sum(gy, axis=axes, keepdims=True)
        ggamma = sum(gy * xhat, axis=axes, keepdims=True)
        gx = (gamma.reshape(shape) * inv_std) * (gy - gbeta * (1 / m) - xhat * (ggamma * (1 / m)))
        return gx, ggamma.reshape(-1), gbeta.reshape(-1)


def _stat(a, c, what, x, write):
    """The running statistic a (an array or a Variable of shape (C,), floating point, on x's backend): its array,
    which training (write) updates in place and so must be writable."""
    data = as_array(a)
    if not is_array(data):
        raise TypeError(f"batch_norm: {what} must be an array or a Variable of shape ({c},), got {type(a).__name__}")
    if data.shape != (c,):
        raise ValueError(f"batch_norm: {what} must have shape ({c},) for x of shape {x.shape}, got {data.shape}")
    check_float(data, "batch_norm", what)
    get_array_module(x.data, data)  # a TypeError naming both when one is on the host and the other on a device
    if write and not writable(data):
        raise ValueError(f"batch_norm: {what} is read-only (or a broadcast view) and training updates it in "
                         f"place; pass a writable array of shape ({c},)")
    return data


def check_input(x):
    """x (an array or a Variable) itself when it is a floating (N, C) or (N, C, H, W) batch, else an error."""
    check_float(x, "batch_norm")
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm: x must be (N, C) or (N, C, H, W), got shape {x.shape}")
    return x


def _affine(p, what, x):
    """gamma or beta as a floating Variable of shape (C,) in x's dtype (cast, recorded, when it differs)."""
    c = x.shape[1]
    p = check_float(as_variable(p, f"batch_norm: {what}"), "batch_norm", what)
    if p.shape != (c,):
        raise ValueError(f"batch_norm: {what} must have shape ({c},) for x of shape {x.shape}, got {p.shape}")
    return p if p.dtype == x.dtype else astype(p, x.dtype)


@float32_for_half
def batch_norm(x, gamma, beta, mean, var, decay=0.9, eps=2e-5):
    """Batch normalization of x (N, C) or (N, C, H, W) per channel, then y = gamma * xhat + beta.

    In training: xhat from the batch's mean and biased variance; the running `mean` and `var` ((C,) arrays or
    Variables, updated in place) move to decay * old + (1 - decay) * batch, var with the unbiased batch variance
    (torch's momentum is 1 - decay); an empty batch gives an empty result and leaves them as they are. Under
    `mg.test_mode()`: xhat from the running mean and var, unchanged. Everything is checked before anything is
    written: a failed call changes no running statistic."""
    op = "batch_norm"
    x = check_input(as_variable(x, "batch_norm: x"))
    c = x.shape[1]
    gamma, beta = _affine(gamma, "gamma", x), _affine(beta, "beta", x)
    mean, var = _stat(mean, c, "mean", x, Config.train), _stat(var, c, "var", x, Config.train)
    decay = check_real(decay, op, "decay", lambda v: 0 <= v <= 1, "between 0 and 1")
    eps = check_real(eps, op, "eps", lambda v: v > 0, "positive")
    if not Config.train:
        shape = (1, c) + (1,) * (x.ndim - 2)
        inv_std = ((var + eps) ** -0.5).astype(x.dtype, copy=False)
        return (x - mean.astype(x.dtype, copy=False).reshape(shape)) * (gamma * inv_std).reshape(shape) + \
            beta.reshape(shape)
    m = x.size // c if c else 0
    if m == 1:  # torch's rule: a variance needs two values (none at all is an empty batch)
        raise ValueError(f"batch_norm: training needs more than one value per channel, got x of shape {x.shape}")
    f = BatchNorm(eps)
    y = f(x, gamma, beta)
    if m:
        new_mean = decay * mean + (1 - decay) * f.mean
        new_var = decay * var + ((1 - decay) * m / (m - 1)) * f.var
        mean[...], var[...] = new_mean, new_var
    return y
