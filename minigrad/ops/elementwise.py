"""Elementwise functions: exp, trigonometric, tanh, sqrt, square, abs, clip, relu, where, astype, dropout."""
import functools
import math
import numbers

import numpy as np

from minigrad import kernels
from minigrad.backend import get_array_module, operands
from minigrad.config import Config
from minigrad.core import Variable, as_array, as_operand, as_variable, wrap
from minigrad.function import Function
from minigrad.ops.shaping import sum_to
from minigrad.shapes import broadcast_shapes, check_float


class Exp(Function):
    saves_inputs = False  # backward reads the output only

    def forward(self, x):
        y = kernels.elementwise("exp", x)
        return get_array_module(x).exp(x) if y is None else y

    def backward(self, gy):
        return gy * self.outputs[0]()


class Sin(Function):
    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


class Tanh(Function):
    saves_inputs = False  # backward reads the output only

    def forward(self, x):
        y = kernels.elementwise("tanh", x)
        return get_array_module(x).tanh(x) if y is None else y

    def backward(self, gy):
        y = self.outputs[0]()
        gx = None if Config.enable_backprop else kernels.elementwise_grad("tanh", y._data, y._data, gy._data)
        return gy * (1 - y * y) if gx is None else wrap(gx)


class Sqrt(Function):
    saves_inputs = False  # backward reads the output only

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        return gy / (2 * self.outputs[0]())


class Square(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * (2 * self.inputs[0])


class AsType(Function):
    """A dtype conversion; the gradient is converted back to the input's dtype."""

    keeps_output = False

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.x_dtype)


class _Masked(Function):
    """A piecewise-linear function: its gradient is gy * mask, the mask constant near x."""

    def backward(self, gy):
        if not Config.enable_backprop:  # a plain backward: the product on the arrays
            return wrap(gy._data * self.mask)
        return gy * self.mask


class Abs(_Masked):
    def forward(self, x):
        xp = get_array_module(x)
        self.mask = xp.sign(x)  # subgradient 0 at 0
        return xp.abs(x)


class ReLU(_Masked):
    def forward(self, x):
        xp = get_array_module(x)
        self.mask = (x > 0).astype(x.dtype)
        return xp.maximum(x, 0)


class LeakyReLU(_Masked):
    def __init__(self, slope):
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
            raise TypeError(f"leaky_relu: slope must be a real number, got {type(slope).__name__} {slope!r}")
        self.slope = slope

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = xp.where(x > 0, 1, self.slope).astype(x.dtype)
        return x * self.mask


class Clip(_Masked):
    def __init__(self, x_min, x_max):
        for name, bound in (("x_min", x_min), ("x_max", x_max)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, numbers.Real)):
                raise TypeError(f"clip: {name} must be a real number or None, got {type(bound).__name__} {bound!r}")
        if x_min is None and x_max is None:
            raise TypeError("clip: x_min and x_max are both None; give at least one bound")
        self.x_min = -math.inf if x_min is None else x_min
        self.x_max = math.inf if x_max is None else x_max

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = ((x >= self.x_min) & (x <= self.x_max)).astype(x.dtype)
        return xp.clip(x, self.x_min, self.x_max)


class Where(Function):
    """where(cond, a, b) for a constant boolean cond; a and b broadcast against it."""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        self.cond, a, b = operands(self.cond, a, b)
        shape = broadcast_shapes("where", self.cond.shape, a.shape, b.shape)
        self.shapes = (a.shape, b.shape, shape)
        return get_array_module(a).where(self.cond, a, b)

    def backward(self, gy):
        a_shape, b_shape, _ = self.shapes
        na, nb = self.needs_input_grad
        ga = sum_to(where(self.cond, gy, 0.0), a_shape) if na else None
        gb = sum_to(where(self.cond, 0.0, gy), b_shape) if nb else None
        return ga, gb


def exp(x):
    return Exp()(x)


def astype(x, dtype):
    """x converted to dtype (a float dtype for gradients to flow)."""
    return AsType(dtype)(x)


def float32_for_half(fn):
    """fn(x, ...) computed in float32 when x is float16, its result returned as float16: how half precision
    reductions, softmax and the losses accumulate (as in torch); the gradient comes back as float16."""
    @functools.wraps(fn)
    def in_float32(x, *args, **kwargs):
        dtype = getattr(as_array(x), "dtype", None)
        if dtype is None or dtype.char != "e":  # not float16
            return fn(x, *args, **kwargs)
        return astype(fn(astype(x, np.float32), *args, **kwargs), np.float16)
    return in_float32


def sin(x):
    return Sin()(x)


def cos(x):
    return Cos()(x)


def tanh(x):
    return Tanh()(x)


def sqrt(x):
    return Sqrt()(x)


def square(x):
    return Square()(x)


def abs(x):
    """|x|, with subgradient 0 at 0."""
    return Abs()(x)


def relu(x):
    """max(x, 0), with gradient 0 at 0."""
    return ReLU()(x)


def clip(x, x_min, x_max):
    """x limited to [x_min, x_max] (either may be None: no bound); the gradient passes where x lies inside
    (bounds included)."""
    return Clip(x_min, x_max)(x)


def leaky_relu(x, slope=0.2):
    """x where x > 0, slope * x elsewhere (DeZero's default slope 0.2; torch's is 0.01); x floating point."""
    f = LeakyReLU(slope)
    return f(check_float(as_variable(x, "leaky_relu: x"), "leaky_relu"))


def where(cond, a, b):
    """Elementwise cond ? a : b; cond is a boolean array (or Variable, taken as a constant)."""
    cond = as_array(cond)
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        raise TypeError(f"where: cond must be a boolean array, got {getattr(cond, 'dtype', type(cond).__name__)}")
    if isinstance(b, Variable) and not isinstance(a, Variable):
        a = as_operand(a, b)
    else:
        a = as_variable(a, "where: a")
        b = as_operand(b, a)
    return Where(cond)(a, b)


def dropout(x, ratio=0.5, rng=None):
    """In training (Config.train), zero each element with probability ratio and scale the rest by
    1 / (1 - ratio); in test mode (`mg.test_mode()`), x unchanged."""
    x = check_float(as_variable(x, "dropout: x"), "dropout")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"dropout: ratio must be in [0, 1), got {ratio!r}")
    if not Config.train or ratio == 0.0:
        return x
    xp = get_array_module(x.data)
    draw = (rng or xp.random).random(x.shape)
    mask = (draw >= ratio).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - ratio))
    return x * mask
