"""Layer normalization over the last axes (torch's layer_norm): one Function, analytic backward."""
import math
from types import SimpleNamespace

import numpy as np

from minigrad import kernels
from minigrad.backend import get_array_module
from minigrad.config import Config
from minigrad.core import as_variable, wrap
from minigrad.function import Function
from minigrad.ops.elementwise import astype, float32_for_half
from minigrad.ops.reductions import mean, sum
from minigrad.shapes import check_float, check_real, check_size

# The backward is written once (_grads) over one of these: arrays with the forward's statistics for the plain
# backward, recorded Functions (statistics recomputed from x) under create_graph.
ARRAYS = SimpleNamespace(row_mean=lambda a: a.mean(axis=1, keepdims=True), col_sum=lambda a: a.sum(axis=0))
GRAPH = SimpleNamespace(row_mean=lambda v: mean(v, 1, keepdims=True), col_sum=lambda v: sum(v, 0))


def _grads(ns, x, w, gy, mu, rstd, needs):
    """Gradients of x, w and b for rows x (M, K), weight w (K,) or None, gy (M, K), the rows' mean mu and
    1 / sqrt(var + eps) rstd (M, 1): gx = rstd (g - mean(g) - xhat mean(g xhat)) with g = gy w."""
    xhat = (x - mu) * rstd
    g = gy if w is None else gy * w
    gx = (g - ns.row_mean(g) - xhat * ns.row_mean(g * xhat)) * rstd if needs[0] else None
    gw = ns.col_sum(gy * xhat) if w is not None and needs[1] else None
    return gx, gw, ns.col_sum(gy)


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * w + b over the last len(shape) axes (biased variance), w and b optional
    (`affine` says which are inputs). Forward keeps each row's `mu` and `rstd` (M, 1), O(rows) state."""

    keeps_output = False

    def __init__(self, shape, eps, affine):
        self.shape, self.eps, self.affine = shape, eps, affine

    def forward(self, x, *wb):
        k = math.prod(self.shape)
        x2 = x.reshape(-1, k)
        if kernels.fused(x):
            w = wb[0].reshape(k) if self.affine[0] else None
            b = wb[-1].reshape(k) if self.affine[1] else None
            y, self.mu, self.rstd = kernels.call("layer_norm", "forward")(x2, w, b, self.eps)
            return y.reshape(x.shape)
        self.mu = x2.mean(axis=1, keepdims=True)
        xc = x2 - self.mu
        self.rstd = 1 / get_array_module(x).sqrt((xc * xc).mean(axis=1, keepdims=True) + self.eps)
        y = xc * self.rstd
        if self.affine[0]:
            y *= wb[0].reshape(k)
        if self.affine[1]:
            y += wb[-1].reshape(k)
        return y.reshape(x.shape)

    def backward(self, gy):
        x, *wb = self.inputs
        has_w, has_b = self.affine
        k = math.prod(self.shape)
        w = wb[0] if has_w else None
        needs = self.needs_input_grad
        if Config.enable_backprop:  # create_graph: the statistics and the formula, recorded
            x2 = x.reshape(-1, k)
            mu = mean(x2, 1, keepdims=True)
            xc = x2 - mu
            rstd = (mean(xc * xc, 1, keepdims=True) + self.eps) ** -0.5
            gx, gw, gb = _grads(GRAPH, x2, None if w is None else w.reshape(k), gy.reshape(-1, k), mu, rstd, needs)
        else:
            rows = (x.data.reshape(-1, k), None if w is None else w.data.reshape(k), gy.data.reshape(-1, k), self.mu,
                    self.rstd, needs)
            if kernels.fused(x.data):
                gx, gw, gb = kernels.call("layer_norm", "backward")(*rows)
            else:
                gx, gw, gb = _grads(ARRAYS, *rows)
            gx, gw, gb = (None if g is None else wrap(g) for g in (gx, gw, gb))
        grads = [None if gx is None else gx.reshape(x.shape)]
        if has_w:
            grads.append(None if gw is None else gw.reshape(self.shape))
        if has_b:
            grads.append(gb.reshape(self.shape) if needs[-1] else None)
        return tuple(grads)


def _normalized_shape(shape, x):
    """normalized_shape (an int or a tuple of ints) as a tuple that matches x's last axes."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    shape = tuple(check_size(n, "layer_norm", "normalized_shape") for n in shape)
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last axes of x, got x of shape {x.shape}")
    return shape


@float32_for_half
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize x over its last axes, normalized_shape (an int or a tuple), to mean 0 and variance 1 (the biased
    variance, plus eps), then y * weight + bias (each of normalized_shape, or None), as torch's layer_norm.
    float16 is computed in float32."""
    x = check_float(as_variable(x, "layer_norm: x"), "layer_norm")
    shape = _normalized_shape(normalized_shape, x)
    eps = check_real(eps, "layer_norm", "eps", lambda v: v >= 0, "non-negative")
    params = []
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            p = check_float(as_variable(p, f"layer_norm: {name}"), "layer_norm", name)
            if p.shape != shape:
                raise ValueError(f"layer_norm: {name} of shape {p.shape} does not match normalized_shape {shape}")
            params.append(p if p.dtype == x.dtype else astype(p, x.dtype))
    return LayerNorm(shape, eps, (weight is not None, bias is not None))(x, *params)
