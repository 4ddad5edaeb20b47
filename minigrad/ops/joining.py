"""Joining and splitting along an axis: concat, stack, split (each the other's gradient)."""
import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from minigrad.backend import address, get_array_module, memory_root
from minigrad.config import Config
from minigrad.core import Variable, as_variable, wrap
from minigrad.function import Function
from minigrad.ops.elementwise import astype
from minigrad.shapes import normalize_axis


class Concat(Function):
    """The inputs joined along `axis` (numpy's type promotion); keeps their sizes along it and their dtypes for the
    backward, which splits gy and casts each piece back."""

    keeps_output = saves_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        xp = get_array_module(*xs)
        self.sizes = tuple(x.shape[self.axis] for x in xs)
        self.dtypes = tuple(x.dtype for x in xs)
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        gxs = Split(self.sizes, self.axis)(gy)
        return tuple(g if g.dtype == d else astype(g, d) for g, d in zip(gxs, self.dtypes))


class Split(Function):
    """x cut along `axis` into pieces of the given sizes (views); the backward joins the pieces' gradients,
    zeros for a piece that got none."""

    keeps_output = saves_inputs = False

    def __init__(self, sizes, axis):
        self.sizes, self.axis = tuple(sizes), axis

    def forward(self, x):
        self.x_shape, self.dtype = x.shape, x.dtype
        return tuple(get_array_module(x).split(x, np.cumsum(self.sizes)[:-1].tolist(), axis=self.axis))

    def backward(self, *gys):
        joined = None if Config.enable_backprop else _side_by_side(gys, self.sizes, self.axis, self.x_shape, self.dtype)
        if joined is not None:
            return wrap(joined)
        xp = get_array_module(next(g for g in gys if g is not None).data)
        pieces = []
        for g, n in zip(gys, self.sizes):
            if g is None:
                shape = list(self.x_shape)
                shape[self.axis] = n
                g = Variable(xp.zeros(shape, dtype=self.dtype))
            pieces.append(g)
        return Concat(self.axis)(*pieces)


def _side_by_side(gys, sizes, axis, shape, dtype):
    """The pieces' gradients as one view of x's shape where they already lie side by side along axis in one NumPy
    array (equal strides, each starting where the one before ends: attention's gq, gk and gv of a split qkv,
    kernels/heads.py), else None: then they are copied into a new array."""
    arrays = [None if g is None else g.data for g in gys]
    if any(type(a) is not np.ndarray or a.dtype != dtype for a in arrays) or not arrays[0].strides[axis]:
        return None
    first = arrays[0]
    root, start, step = memory_root(first), address(first), first.strides[axis]
    offset = 0
    for a, n in zip(arrays, sizes):
        if a.strides != first.strides or address(a) != start + offset * step or memory_root(a) is not root:
            return None
        offset += n
    return as_strided(first, shape, first.strides, writeable=first.flags.writeable)


def _axis(axis, ndim, op):
    """axis (one int, negative from the end) as a non-negative axis of ndim."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__} {axis!r}")
    return normalize_axis(axis, ndim, op)[0]


def _sequence(xs, op):
    """xs (a list or tuple of arrays or Variables, at least one) as Variables of one rank."""
    if isinstance(xs, Variable) or not isinstance(xs, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of arrays or Variables, got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{op}: expected at least one array, got an empty {type(xs).__name__}")
    xs = [as_variable(x, f"{op}: xs[{i}]") for i, x in enumerate(xs)]
    for i, x in enumerate(xs):
        if x.ndim != xs[0].ndim:
            raise ValueError(f"{op}: xs[{i}] has {x.ndim} dimensions (shape {x.shape}) and xs[0] has "
                             f"{xs[0].ndim} (shape {xs[0].shape}); expected the same number")
    return xs


def concat(xs, axis=0):
    """The arrays xs joined along axis (torch.cat, np.concatenate): every other axis must match; dtypes promote as
    NumPy's do, and each gradient comes back in its input's dtype."""
    xs = _sequence(xs, "concat")
    if xs[0].ndim == 0:
        raise ValueError("concat: zero-dimensional arrays cannot be concatenated; use stack")
    ax = _axis(axis, xs[0].ndim, "concat")
    for i, x in enumerate(xs):
        if any(a != b for k, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if k != ax):
            raise ValueError(f"concat: xs[{i}] of shape {x.shape} does not match xs[0] of shape {xs[0].shape} "
                             f"outside axis {ax}")
    return Concat(ax)(*xs)


def stack(xs, axis=0):
    """The arrays xs (all of one shape) joined along a new axis (torch.stack, np.stack)."""
    xs = _sequence(xs, "stack")
    for i, x in enumerate(xs):
        if x.shape != xs[0].shape:
            raise ValueError(f"stack: xs[{i}] of shape {x.shape} differs from xs[0] of shape {xs[0].shape}; "
                             f"expected one shape")
    ax = _axis(axis, xs[0].ndim + 1, "stack")
    return concat([x.reshape(x.shape[:ax] + (1,) + x.shape[ax:]) for x in xs], ax)


def split(x, split_size_or_sections, axis=0):
    """x cut along axis as torch.split does: an int n gives pieces of n (the last one shorter when n does not
    divide the length), a list of sizes gives pieces of those sizes (they must add up to the length). A list of
    Variables (views of x); each piece's gradient flows back to its place in x."""
    x = as_variable(x, "split: x")
    if x.ndim == 0:
        raise ValueError("split: x must have at least one dimension, got a zero-dimensional array")
    ax = _axis(axis, x.ndim, "split")
    length, s = x.shape[ax], split_size_or_sections
    if isinstance(s, numbers.Integral) and not isinstance(s, bool):
        if s < 1:
            raise ValueError(f"split: split_size must be at least 1, got {s}")
        sizes = [min(s, length - lo) for lo in range(0, length, s)] or [0]
    elif isinstance(s, (list, tuple)) and all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                                              for n in s):
        sizes = [int(n) for n in s]
        if not sizes or any(n < 0 for n in sizes) or sum(sizes) != length:
            raise ValueError(f"split: sections {list(s)} must be non-negative sizes adding up to {length}, the "
                             f"length of axis {ax} of x of shape {x.shape}")
    else:
        raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, got {s!r}")
    return list(Split(sizes, ax)(x))
