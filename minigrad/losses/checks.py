"""Validation shared by the losses: class counts, class-index targets, class weights."""
import numbers

from minigrad.arrays import to_array
from minigrad.backend import get_array_module, like
from minigrad.config import Config
from minigrad.core import Variable, as_array, as_variable
from minigrad.ops.elementwise import astype


def class_count(x_shape, op):
    """C for logits of shape (C,), (N, C) or (N, C, d1, ..., dk)."""
    if len(x_shape) == 0:
        raise ValueError(f"{op}: expected an input of 1 or more dimensions (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d input")
    return x_shape[0] if len(x_shape) == 1 else x_shape[1]


def index_target_shape(x_shape):
    """The shape class-index targets must have: the input's shape without the class axis."""
    return () if len(x_shape) == 1 else (x_shape[0],) + tuple(x_shape[2:])


def real_numbers(a, name, op):
    """The array of a (an array, Variable, number or nested list); TypeError naming `name` unless it holds real
    numbers (no object, string or complex arrays)."""
    return to_array(as_array(a), f"{op}: {name}")


def check_ignore_index(ignore_index, op):
    """ignore_index must be an integer (not a float, None or bool: 1.0 would quietly ignore class 1)."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{op}: ignore_index must be an integer, got {type(ignore_index).__name__} "
                        f"{ignore_index!r}")


def class_targets(x_shape, t, ignore_index, op):
    """Check integer class targets against logits of x_shape; return the mask of counted targets.

    Values outside [0, C) other than ignore_index raise IndexError naming the value and C (numpy
    indexing would silently wrap -1 to the last class).
    """
    c = class_count(x_shape, op)
    kind = getattr(getattr(t, "dtype", None), "kind", None)
    if kind not in ("i", "u"):
        got = t.dtype if kind is not None else type(t).__name__
        raise TypeError(f"{op}: class-index targets must be integers, got {got}")
    expected = index_target_shape(x_shape)
    if t.shape != expected:
        raise ValueError(f"{op}: target shape {t.shape} does not match input shape {tuple(x_shape)}; "
                         f"expected {expected} for class indices")
    valid = t != ignore_index
    if not Config.check_values:  # the caller vouches for the values: no host synchronisation
        return valid
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        value = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{op}: target {value} is out of bounds for {c} classes "
                         f"(expected 0 <= target < {c}, or ignore_index={ignore_index})")
    return valid


def class_weight(weight, c, dtype, op, x):
    """A (C,) weight array in the input's dtype on the input x's backend, or None; weights are constants,
    never differentiated."""
    if weight is None:
        return None
    w = real_numbers(weight, "weight", op)
    if w.shape != (c,):
        raise ValueError(f"{op}: weight of shape {w.shape} does not match {c} classes; expected ({c},)")
    return get_array_module(x).asarray(like(x, w), dtype=dtype)


def on_input_backend(t, x, op):
    """The data of target t on the backend of the input's array x (a number or 0-d host array is copied to
    the device); TypeError naming both for a host array beside a device one, and for a float target
    Variable that would lose its gradient by being copied."""
    data = like(x, real_numbers(t, "target", op))
    if isinstance(t, Variable) and data is not t.data and t.requires_grad:
        raise TypeError(f"{op}: the target Variable is on the host and the input on the device; "
                        f"move it with to_gpu()")
    return data


def float_target(t, data, dtype):
    """A float target as a Variable of the input's dtype: t itself when it is a Variable (it keeps its gradient),
    else the constant data (already on the input's backend); cast differentiably when its dtype differs."""
    v = t if isinstance(t, Variable) else as_variable(data)
    return astype(v, dtype) if v.dtype != dtype else v
