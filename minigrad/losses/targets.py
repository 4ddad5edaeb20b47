"""Class-index targets gathered once for NLL and cross entropy: the logits' view, picked classes, weights."""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.losses.checks import class_count, class_targets, class_weight, index_target_shape


def view_shape(x_shape):
    """Logits of shape (C,), (N, C) or (N, C, d1, ..., dk) viewed as (1, C), (N, C) or (N, C, S)."""
    if len(x_shape) == 1:
        return (1, x_shape[0])
    if len(x_shape) == 2:
        return tuple(x_shape)
    return (x_shape[0], x_shape[1], int(np.prod(x_shape[2:], dtype=np.int64)))


def kept_shape(view):
    """The view with the class axis reduced to 1: the shape of per-position quantities."""
    return view[:1] + (1,) + view[2:]


class Picked:
    """Per position: the target class t, whether it counts (valid), its weight wt (0 where
    ignored), and the 'mean' denominator total = sum(wt); all in the kept shape of the view."""

    def __init__(self, x_shape, t, valid, w, dtype):
        xp = get_array_module(t)
        self.x_shape = tuple(x_shape)
        self.view = view_shape(x_shape)
        self.kept = kept_shape(self.view)
        self.out_shape = index_target_shape(x_shape)
        self.t = xp.where(valid, t, 0).reshape(self.kept).astype(np.intp, copy=False)
        self.valid = valid.reshape(self.kept)
        wt = xp.ones(self.kept, dtype=dtype) if w is None else w[self.t]
        self.wt = xp.where(self.valid, wt, 0).astype(dtype, copy=False)
        self.total = self.wt.sum()


def pick(x_shape, dtype, t, weight, ignore_index, op):
    """Validate class-index targets and a (C,) weight for logits of x_shape; return (Picked, weight)."""
    valid = class_targets(x_shape, t, ignore_index, op)
    w = class_weight(weight, class_count(x_shape, op), dtype, op)
    return Picked(x_shape, t, valid, w, dtype), w


def reduce_positions(loss, reduction, out_shape, denom):
    """Per-position losses (kept shape) reduced: 'none' reshaped to out_shape, 'sum', or 'mean' = sum / denom."""
    if reduction == "none":
        return loss.reshape(out_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / denom  # NaN when nothing counts (every target ignored, or no positions), as torch
