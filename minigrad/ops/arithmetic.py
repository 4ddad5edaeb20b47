"""Arithmetic: Add, Sub, Mul, Div, Pow (broadcasting, gradients summed back to each input's shape), Neg, Log."""
import operator

import numpy as np

from minigrad import kernels
from minigrad.backend import get_array_module, operands
from minigrad.core import as_variable
from minigrad.function import Function
from minigrad.ops.shaping import sum_to
from minigrad.shapes import broadcast_shapes


class _Binary(Function):
    """Elementwise op of two broadcastable inputs; keeps their shapes only when they differ."""

    keeps_output = False
    shapes = None

    def forward(self, x0, x1):
        if type(x0) is not type(x1):  # a host and a device array: only a 0-d host one may join the device
            x0, x1 = operands(x0, x1)
        if x0.shape != x1.shape:
            broadcast_shapes(type(self).__name__.lower(), x0.shape, x1.shape)
            self.shapes = (x0.shape, x1.shape)
        return self.op(x0, x1)

    def reduce(self, gx0, gx1):
        """The gradients summed back to the input shapes (None stays None)."""
        if self.shapes is None:
            return gx0, gx1
        s0, s1 = self.shapes
        return (None if gx0 is None else sum_to(gx0, s0)), (None if gx1 is None else sum_to(gx1, s1))


def _add(x0, x1):
    """x0 + x1: a large sum of two C-ordered float arrays of one shape on the CPU kernels' threads (a transformer's
    residual stream), the same bits as NumPy's; the size is looked at first, so a small add costs what it did."""
    if (x0.size >= kernels.LIGHT and x0.shape == x1.shape and kernels.fused(x0) and type(x1) is np.ndarray
            and x1.dtype == x0.dtype and x0.flags.c_contiguous and x1.flags.c_contiguous):
        return kernels.call("rows", "add")(x0, x1)
    return x0 + x1


class Add(_Binary):
    op = staticmethod(_add)
    saves_inputs = False

    def backward(self, gy):
        return (gy, gy) if self.shapes is None else self.reduce(gy, gy)


class Sub(_Binary):
    op = staticmethod(operator.sub)
    saves_inputs = False

    def backward(self, gy):
        return self.reduce(gy, -gy if self.needs_input_grad[1] else None)


class Mul(_Binary):
    op = staticmethod(operator.mul)

    def backward(self, gy):
        (x0, x1), (n0, n1) = self.inputs, self.needs_input_grad
        return self.reduce(gy * x1 if n0 else None, gy * x0 if n1 else None)


class Div(_Binary):
    op = staticmethod(operator.truediv)

    def backward(self, gy):
        (x0, x1), (n0, n1) = self.inputs, self.needs_input_grad
        return self.reduce(gy / x1 if n0 else None, -gy * x0 / (x1 * x1) if n1 else None)


class Pow(_Binary):
    """x ** c; the gradient of c is y log(x), so the output is kept."""

    op = staticmethod(operator.pow)
    keeps_output = True

    def backward(self, gy):
        (x, c), (n0, n1) = self.inputs, self.needs_input_grad
        return self.reduce(gy * c * x ** (c - 1) if n0 else None, gy * self.outputs[0]() * log(x) if n1 else None)


class Neg(Function):
    keeps_output = saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Log(Function):
    keeps_output = False

    def forward(self, x):
        y = kernels.elementwise("log", x)
        return get_array_module(x).log(x) if y is None else y

    def backward(self, gy):
        return gy / self.inputs[0]


def add(x0, x1):
    """x0 + x1 with numpy broadcasting."""
    return as_variable(x0, "add: x0") + x1


def sub(x0, x1):
    """x0 - x1 with numpy broadcasting."""
    return as_variable(x0, "sub: x0") - x1


def mul(x0, x1):
    """x0 * x1 with numpy broadcasting."""
    return as_variable(x0, "mul: x0") * x1


def div(x0, x1):
    """x0 / x1 with numpy broadcasting."""
    return as_variable(x0, "div: x0") / x1


def pow(x, c):
    """x ** c; c may be a number or a Variable (its gradient is y * log(x))."""
    return as_variable(x, "pow: x") ** c


def neg(x):
    return Neg()(x)


def log(x):
    """Natural logarithm."""
    return Log()(x)
