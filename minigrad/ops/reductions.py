"""Reductions: sum, mean, and max and min (whose gradient goes to the arg-max / arg-min elements)."""
from minigrad.backend import get_array_module
from minigrad.core import as_variable
from minigrad.function import Function
from minigrad.ops.elementwise import float32_for_half
from minigrad.ops.shaping import unreduce
from minigrad.shapes import keepdims_shape, normalize_axis, reduced_size, sum_array


class _OverAxes(Function):
    """A reduction over axis (an int, a tuple, or None for all), keeping reduced axes as 1 with keepdims."""

    keeps_output = False

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims


class Sum(_OverAxes):
    """Keeps the input's shape and the summed axes for the backward."""

    saves_inputs = False

    def forward(self, x):
        self.axes = normalize_axis(self.axis, x.ndim, "sum")
        self.x_shape = x.shape
        return sum_array(x, self.axes, self.keepdims)

    def backward(self, gy):
        return unreduce(gy, self.x_shape, self.axes, self.keepdims)


def sum(x, axis=None, keepdims=False):
    """Sum over axis (an int, a tuple, or None for all)."""
    return Sum(axis, keepdims)(x)


@float32_for_half
def mean(x, axis=None, keepdims=False):
    """Mean over axis (an int, a tuple, or None for all)."""
    x = as_variable(x, "mean: x")
    axes = normalize_axis(axis, x.ndim, "mean")
    count = reduced_size(x.shape, axes)
    return sum(x, axes, keepdims) * (1.0 / count if count else float("nan"))


class _Extremum(_OverAxes):
    """max or min over axes; the whole gradient of each slice goes to its first arg-extremum (self.mask)."""

    def forward(self, x):
        xp = get_array_module(x)
        name = type(self).__name__.lower()
        axes = normalize_axis(self.axis, x.ndim, name)
        if not reduced_size(x.shape, axes):  # empty slices have no extremum (an empty batch of slices is fine)
            raise ValueError(f"{name}: the slices over axes {axes} of an input of shape {x.shape} are empty and "
                             f"have no {name}imum")
        self.x_shape, self.axes = x.shape, axes
        # Move the reduced axes to the end and flatten them, so one argmax finds each slice's winner.
        kept = [a for a in range(x.ndim) if a not in axes]
        xt = x.transpose(kept + list(axes)).reshape(-1, reduced_size(x.shape, axes))
        idx = self.arg(xp, xt)
        rows = xp.arange(xt.shape[0])
        mask = xp.zeros(xt.shape, dtype=x.dtype)
        mask[rows, idx] = 1
        perm = kept + list(axes)
        inv = [perm.index(a) for a in range(x.ndim)]
        self.mask = mask.reshape([x.shape[a] for a in perm]).transpose(inv)
        y = xt[rows, idx].reshape([x.shape[a] for a in kept])
        return y.reshape(keepdims_shape(x.shape, axes)) if self.keepdims else y

    def backward(self, gy):
        return unreduce(gy, self.x_shape, self.axes, self.keepdims) * self.mask


class Max(_Extremum):
    @staticmethod
    def arg(xp, x):
        return xp.argmax(x, axis=1)


class Min(_Extremum):
    @staticmethod
    def arg(xp, x):
        return xp.argmin(x, axis=1)


def max(x, axis=None, keepdims=False):
    """Maximum over axis; its gradient goes to the (first) maximal element of each slice."""
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims=False):
    """Minimum over axis; its gradient goes to the (first) minimal element of each slice."""
    return Min(axis, keepdims)(x)
