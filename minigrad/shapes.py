"""The kit for writing Functions: broadcasting, axes, reduced shapes and input checks, with minigrad's errors."""
import functools
import math
import numbers

import numpy as np

__all__ = ["broadcast_shapes", "check_float", "check_real", "check_size", "half_in_float32", "keepdims_shape",
           "normalize_axis", "reduced_size", "sum_array", "sum_to", "unbroadcast"]


def broadcast_shapes(op, *shapes):
    """The shape the given shapes broadcast to; ValueError naming op and the shapes if they do not."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together") from None


def normalize_axis(axis, ndim, op):
    """axis (an int, a tuple of ints, or None for all) as a tuple of non-negative axes.

    A 0-d input accepts axis 0 and -1, as in torch, and gives (). ValueError naming op for an
    axis out of range or a repeated one.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if not isinstance(axes, (tuple, list)) or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    n = max(ndim, 1)
    for a in axes:
        if not -n <= a < n:
            raise ValueError(f"{op}: axis {a} is out of range for an input with {ndim} dimensions")
    out = tuple(int(a) % n for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return out if ndim else ()


def keepdims_shape(shape, axes):
    """shape with each axis in axes set to 1: the shape of a reduction with keepdims=True."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def reduced_size(shape, axes):
    """The number of elements a reduction over axes combines into each output element."""
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum_to(x, shape):
    """Sum the array x down to shape, the inverse of broadcasting shape to x.shape.

    ValueError naming both shapes when x.shape is not a broadcast of shape.
    """
    shape = tuple(shape)
    if broadcast_shapes("sum_to", x.shape, shape) != x.shape:
        raise ValueError(f"sum_to: shape {x.shape} cannot be summed to {shape}")
    return unbroadcast(x, shape)


def sum_array(a, axis, keepdims=False):
    """The array a summed over axis; float16 accumulates in float32 (the result is float16), as in torch."""
    if a.dtype == np.float16:
        with np.errstate(over="ignore"):  # a sum beyond 65504 is inf, as in torch
            return a.sum(axis=axis, keepdims=keepdims, dtype=np.float32).astype(np.float16)
    return a.sum(axis=axis, keepdims=keepdims)


def unbroadcast(g, shape):
    """The gradient g of a broadcast result, summed back to the operand's shape (g itself if it has it).

    g may be an array or a Variable (then the sum is recorded and can be differentiated again):
    leading axes are summed away, then the axes where shape has 1 and g does not.
    """
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axes, keepdims=True) if hasattr(g, "creator") else sum_array(g, axes, True)
    return g.reshape(shape) if g.shape != shape else g


def check_float(x, op, what="x"):
    """x itself if its dtype is floating point (an array or a Variable), else TypeError naming op and the argument
    `what`."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype} for {what}")
    return x


def half_in_float32(forward):
    """A Function's forward that sums or averages, computed in float32 when its result would be float16 (the
    float16 inputs cast up, the float outputs rounded once at the end), as torch accumulates half precision."""
    @functools.wraps(forward)
    def in_float32(self, *xs):
        for x in xs:  # a loop, not any(...): this runs on every matmul and linear
            if x is not None and x.dtype.char == "e":
                break
        else:
            return forward(self, *xs)
        if np.result_type(*[x.dtype for x in xs if x is not None and x.dtype.kind == "f"]) != np.float16:
            return forward(self, *xs)
        ys = forward(self, *[x.astype(np.float32) if x is not None and x.dtype == np.float16 else x for x in xs])
        with np.errstate(over="ignore"):  # beyond 65504 is inf, as in torch
            if type(ys) is tuple:
                return tuple(y.astype(np.float16) if y.dtype.kind == "f" else y for y in ys)
            return ys.astype(np.float16)
    return in_float32


def check_real(value, op, name, ok=None, expected="a real number"):
    """value as a float: TypeError naming op and name unless it is a real number (not a bool, a string or None),
    ValueError unless it is finite and ok(value) holds, saying what was `expected`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or (ok is not None and not ok(value)):
        raise ValueError(f"{op}: {name} must be {expected}, got {value!r}")
    return float(value)


def check_size(value, op, name, least=1):
    """value as an int >= least (a size or a count): TypeError naming op and name unless it is an integer (not a
    bool), ValueError below least."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an integer, got {type(value).__name__} {value!r}")
    if value < least:
        raise ValueError(f"{op}: {name} must be at least {least}, got {value!r}")
    return int(value)
