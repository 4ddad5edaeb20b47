"""DeZero's core names: Function whose backward may return arrays (the book's first steps), as_array, setup_variable."""
import functools

import numpy as np

from minigrad import function
from minigrad.config import Config, no_grad, test_mode, using_config  # noqa: F401 (DeZero's core names)
from minigrad.core import OPS, Parameter, Variable, as_variable  # noqa: F401
from minigrad.ops.arithmetic import add, div, mul, neg, pow, sub  # noqa: F401 (DeZero's core functions)

Add, Mul, Neg, Sub, Div, Pow = (OPS[n] for n in ("Add", "Mul", "Neg", "Sub", "Div", "Pow"))


def _variable(g):
    return g if g is None or isinstance(g, Variable) else Variable(as_array(g))


class _Function(function.Function):  # a leading underscore: minigrad's registry of its own ops skips it
    """minigrad's Function; a subclass's backward may return arrays, as in the book's steps 1-32 (wrapped here)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get("backward")
        if raw is not None:
            @functools.wraps(raw)
            def backward(self, *gys):
                gxs = raw(self, *gys)
                return tuple(map(_variable, gxs)) if isinstance(gxs, (tuple, list)) else _variable(gxs)
            cls.backward = backward


Function = _Function
Function.__name__ = Function.__qualname__ = "Function"


def as_array(x, array_module=np):
    """x as an array (a NumPy scalar, or a Python number, becomes a 0-d array), as DeZero's as_array."""
    return array_module.array(x) if np.isscalar(x) else x


def setup_variable():
    """Nothing to do: minigrad's Variable has its operators from the start (DeZero installs them here)."""


def rsub(x0, x1):
    """x1 - x0 (DeZero's reflected subtraction)."""
    return sub(x1, x0)


def rdiv(x0, x1):
    """x1 / x0 (DeZero's reflected division)."""
    return div(x1, x0)
