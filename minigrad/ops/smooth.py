"""Smooth activations: softplus, silu and gelu (exact and tanh forms), each one Function, twice differentiable."""
import math
import numbers
from types import SimpleNamespace

import numpy as np

from minigrad import kernels, numerics
from minigrad.backend import get_array_module
from minigrad.config import Config
from minigrad.core import as_variable, wrap
from minigrad.function import Function
from minigrad.ops.activations import sigmoid
from minigrad.ops.elementwise import exp, float32_for_half, tanh, where
from minigrad.shapes import check_float, check_real

K = math.sqrt(2 / math.pi)  # gelu's tanh form: 0.5 x (1 + tanh(K (x + A x^3))) = x sigmoid(2 K (x + A x^3))
A = 0.044715
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

# Each derivative below is written once over one of these: on arrays for the plain backward, on Variables
# (recorded Functions) under create_graph, so that every higher derivative follows from the same formula.
def _sigmoid(a):
    """sigmoid of an array: on the float32 CPU kernel where it applies, else NumPy's formula."""
    y = kernels.elementwise("sigmoid", a)
    return numerics.sigmoid(a) if y is None else y


ARRAYS = SimpleNamespace(data=lambda a: a, sigmoid=_sigmoid, cdf=numerics.normal_cdf,
                         exp=lambda a: get_array_module(a).exp(a), tanh=lambda a: get_array_module(a).tanh(a),
                         where=lambda c, a, b: get_array_module(b).where(c, a, b).astype(b.dtype, copy=False))
GRAPH = SimpleNamespace(data=lambda v: v.data, sigmoid=sigmoid, exp=exp, tanh=tanh, where=where,
                        cdf=lambda v: NormalCDF()(v))


class _Smooth(Function):
    """An elementwise activation: forward on the arrays, backward gy * self.derivative(ns, x)."""

    keeps_output = False

    def forward(self, x):
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf inputs give torch's results, silently
            return self.compute(x)

    kernel = None  # the name of a float32 CPU kernel for the forward and the plain backward, if there is one

    def backward(self, gy):
        x = self.inputs[0]
        if Config.enable_backprop:
            return gy * self.derivative(GRAPH, x)
        gx = kernels.elementwise_grad(self.kernel, x.data, x.data, gy.data) if self.kernel else None
        if gx is not None:
            return wrap(gx)
        with np.errstate(invalid="ignore", over="ignore"):
            return wrap(gy.data * self.derivative(ARRAYS, x.data))


class NormalCDF(_Smooth):
    """Phi(x), the standard normal distribution function; its derivative is the density exp(-x^2 / 2) / sqrt(2 pi)."""

    def compute(self, x):
        return numerics.normal_cdf(x)

    @staticmethod
    def derivative(ns, x):
        return ns.exp(x * x * -0.5) * INV_SQRT_2PI


class SiLU(_Smooth):
    """x sigmoid(x) (swish); derivative sigmoid(x) + x sigmoid(x) sigmoid(-x), accurate in both tails."""

    def compute(self, x):
        return x * _sigmoid(x)

    @staticmethod
    def derivative(ns, x):
        s = ns.sigmoid(x)
        return s + x * s * ns.sigmoid(-x)


class GELU(_Smooth):
    """x Phi(x) (approximate 'none') or 0.5 x (1 + tanh(u)), u = K (x + A x^3) ('tanh'), as torch defines them.

    The tanh form is computed as x sigmoid(2 u), the same function: 1 + tanh(u) cancels for u < 0 (torch's float32
    result is 0 at x = -5.5 and 30% off at -5), sigmoid(2 u) does not."""

    def __init__(self, approximate):
        self.approximate = approximate
        self.kernel = "gelu_tanh" if approximate == "tanh" else None

    def compute(self, x):
        if self.approximate == "tanh":
            y = kernels.elementwise("gelu_tanh", x)
            return x * _sigmoid((x + A * x * x * x) * (2 * K)) if y is None else y
        return x * numerics.normal_cdf(x)

    def derivative(self, ns, x):
        if self.approximate == "tanh":
            u2 = (x + x * x * x * A) * (2 * K)
            s = ns.sigmoid(u2)
            return s + x * s * ns.sigmoid(-u2) * (x * x * (6 * K * A) + 2 * K)
        return ns.cdf(x) + x * ns.exp(x * x * -0.5) * INV_SQRT_2PI


class Softplus(_Smooth):
    """log(1 + exp(beta x)) / beta, x itself where beta x > threshold (torch's rule); derivative sigmoid(beta x),
    1 above the threshold."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def compute(self, x):
        xp = get_array_module(x)
        z = x * self.beta
        y = (xp.maximum(z, 0) + numerics.log1p_exp_neg_abs(z)) / self.beta
        return xp.where(z > self.threshold, x, y).astype(x.dtype, copy=False)

    def derivative(self, ns, x):
        return ns.where(ns.data(x) * self.beta > self.threshold, 1.0, ns.sigmoid(x * self.beta))


def _floating(x, op):
    return check_float(as_variable(x, f"{op}: x"), op)


@float32_for_half
def silu(x):
    """x * sigmoid(x) (torch's silu, also called swish)."""
    return SiLU()(_floating(x, "silu"))


@float32_for_half
def gelu(x, approximate="none"):
    """x * Phi(x), Phi the standard normal distribution function (torch's gelu); approximate='tanh' gives
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), GPT-2's form, faster on the CPU (the exact form calls libm's
    erfc per element: NumPy has none)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(_floating(x, "gelu"))


@float32_for_half
def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta without overflow, and x where beta x > threshold (as torch.nn.functional.softplus)."""
    beta = check_real(beta, "softplus", "beta", lambda v: v > 0, "positive")
    threshold = check_real(threshold, "softplus", "threshold")
    return Softplus(beta, threshold)(_floating(x, "softplus"))


def normal_cdf(x):
    """Phi(x) = P(Z <= x) for a standard normal Z, exact in both tails."""
    return NormalCDF()(_floating(x, "normal_cdf"))
