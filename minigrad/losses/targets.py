"""What NLL and cross entropy share: the view of the logits (Layout) and class-index targets (ClassTargets)."""
import math
from dataclasses import dataclass

import numpy as np

from minigrad.backend import get_array_module
from minigrad.losses.checks import (
    check_ignore_index,
    class_count,
    class_targets,
    class_weight,
    index_target_shape,
    on_input_backend,
)
from minigrad.losses.reduction import Reduction


@dataclass(frozen=True)
class Layout:
    """Logits of shape (C,), (N, C) or (N, C, d1, ..., dk) viewed as (1, C), (N, C) or (N, C, S).

    kept is the view with the class axis reduced to 1 (the shape of per-position quantities) and
    out_shape the shape of an unreduced loss: the input's shape without the class axis.
    """

    x_shape: tuple
    view: tuple
    kept: tuple
    out_shape: tuple

    @classmethod
    def of(cls, x_shape, op):
        """The layout of logits of x_shape; ValueError naming op for a 0-d input."""
        x_shape = tuple(x_shape)
        class_count(x_shape, op)
        if len(x_shape) <= 2:
            view = (1,) + x_shape if len(x_shape) == 1 else x_shape
        else:
            view = (x_shape[0], x_shape[1], math.prod(x_shape[2:]))
        return cls(x_shape, view, view[:1] + (1,) + view[2:], index_target_shape(x_shape))

    @property
    def c(self):
        """The number of classes."""
        return self.view[1]

    @property
    def positions(self):
        """The number of positions (rows of logits): N * d1 * ... * dk."""
        return math.prod(self.kept)

    @property
    def row_size(self):
        """Elements per row of the view: C * d1 * ... * dk."""
        return math.prod(self.view[1:])


@dataclass(frozen=True)
class ClassTargets:
    """Class-index targets in the kept shape: the class t (0 where ignored), whether each position
    counts (valid), its class weight wt (0 where ignored) and total = sum(wt), the 'mean' divisor."""

    t: object
    valid: object
    wt: object
    total: object

    @classmethod
    def of(cls, layout, t, valid, w, dtype):
        xp = get_array_module(t)
        valid = valid.reshape(layout.kept)
        t = xp.where(valid, t.reshape(layout.kept), 0).astype(np.intp, copy=False)
        wt = xp.ones(layout.kept, dtype=dtype) if w is None else w[t]
        wt = xp.where(valid, wt, 0).astype(dtype, copy=False)
        return cls(t, valid, wt, wt.sum())

    def reduction(self, mode, layout):
        """The Reduction of a loss over these targets: 'mean' divides by the counted weights."""
        return Reduction.of_targets(mode, layout.out_shape, self.valid, self.total)


def class_index_targets(x, t, weight, ignore_index, op):
    """Validate class-index targets and a (C,) weight for logits x (an array); return (layout, ClassTargets, weight)."""
    check_ignore_index(ignore_index, op)
    layout, dtype = Layout.of(x.shape, op), x.dtype
    t = on_input_backend(t, x, op)
    valid = class_targets(layout.x_shape, t, ignore_index, op)
    w = class_weight(weight, class_count(layout.x_shape, op), dtype, op, x)
    return layout, ClassTargets.of(layout, t, valid, w, dtype), w
