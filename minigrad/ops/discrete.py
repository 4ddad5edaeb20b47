"""Integer results, which take no gradient: argmax and one_hot."""
import numbers

import numpy as np

from minigrad.backend import get_array_module
from minigrad.core import Variable, as_variable
from minigrad.shapes import normalize_axis


def argmax(x, axis=None, keepdims=False):
    """The index (int64) of the largest element of x (flattened when axis is None) or along one axis; the first one
    on ties, the first NaN if there is one (as NumPy and torch). A constant: no gradient flows through it."""
    a = as_variable(x, "argmax: x").data
    if axis is not None:
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise TypeError(f"argmax: axis must be an int or None, got {axis!r}")
        axis = normalize_axis(axis, a.ndim, "argmax")[0] if a.ndim else None
    if a.size == 0 and (axis is None or a.shape[axis] == 0):
        raise ValueError(f"argmax: x of shape {a.shape} has no elements along axis {axis}")
    xp = get_array_module(a)
    return Variable(xp.argmax(a, axis=axis, keepdims=keepdims).astype(np.int64))


def one_hot(t, num_classes=-1, dtype=np.int64):
    """Class indices t (any shape, an integer dtype) as one-hot vectors along a new last axis of num_classes
    (-1: the largest index + 1), in dtype (int64 as torch's, or a float dtype for targets). Indices outside
    [0, num_classes) are a ValueError naming the first such index. No gradient."""
    t = as_variable(t, "one_hot: t").data
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: t must hold integer class indices, got dtype {t.dtype}")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be a positive int or -1 (the largest index + 1), got "
                         f"{num_classes!r}")
    xp = get_array_module(t)
    flat = t.reshape(-1)
    if num_classes == -1:
        if not flat.size:
            raise ValueError("one_hot: num_classes=-1 needs at least one index to infer it from; t is empty")
        num_classes = int(flat.max()) + 1
    bad = (flat < 0) | (flat >= num_classes)
    if bool(bad.any()):
        raise ValueError(f"one_hot: index {int(flat[int(xp.argmax(bad))])} is outside [0, {num_classes}) "
                         f"(num_classes={num_classes})")
    y = xp.zeros((flat.size, num_classes), dtype=dtype)
    y[xp.arange(flat.size), flat] = 1
    return Variable(y.reshape(t.shape + (num_classes,)))
