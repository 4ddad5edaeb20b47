"""Negative log-likelihood of class-index targets: NLLLoss and its gradient NLLLossGrad."""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.core import Function, _data, as_variable
from minigrad.losses.checks import (check_reduction, class_count, class_targets, class_weight,
                                    index_target_shape)


def _as_3d(shape):
    """(N, C, S) view of logits of shape (C,), (N, C) or (N, C, d1, ..., dk)."""
    if len(shape) == 1:
        return (1, shape[0], 1)
    return (shape[0], shape[1], int(np.prod(shape[2:], dtype=np.int64)))


class _Picked:
    """The target of each position, its weight (0 where ignored) and the 'mean' denominator."""

    def __init__(self, x_shape, t, valid, w, dtype):
        xp = get_array_module(t)
        n, _, s = _as_3d(x_shape)
        self.x_shape = x_shape
        self.t3 = xp.where(valid, t, 0).reshape(n, 1, s).astype(np.intp, copy=False)
        self.valid = valid.reshape(n, s)
        wt = xp.ones(self.valid.shape, dtype=dtype) if w is None else w[self.t3[:, 0, :]]
        self.wt = xp.where(self.valid, wt, 0).astype(dtype, copy=False)
        self.total = self.wt.sum()


class NLLLoss(Function):
    """-w[t] * x[t] per position; 'mean' divides by the sum of the counted targets' weights."""

    def __init__(self, picked, reduction):
        self.picked = picked
        self.reduction = reduction

    def forward(self, x):
        xp = get_array_module(x)
        p = self.picked
        x3 = x.reshape(_as_3d(x.shape))
        gathered = xp.take_along_axis(x3, p.t3, axis=1)[:, 0, :]
        loss = xp.where(p.valid, -p.wt * gathered, 0).astype(x.dtype, copy=False)
        if self.reduction == "none":
            return loss.reshape(index_target_shape(x.shape))
        total = loss.sum()
        if self.reduction == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / p.total  # NaN when every target is ignored, as in torch

    def backward(self, gy):
        return NLLLossGrad(self.picked, self.reduction)(gy)


class NLLLossGrad(Function):
    """The gradient of NLLLoss: -w[t] * gy scattered to the targets (a linear map of gy)."""

    def __init__(self, picked, reduction):
        self.picked = picked
        self.reduction = reduction

    def forward(self, gy):
        with np.errstate(invalid="ignore", divide="ignore"):  # 'mean' with every target ignored
            return self._scatter(gy)

    def _scatter(self, gy):
        xp = get_array_module(gy)
        p = self.picked
        n, c, s = _as_3d(p.x_shape)
        if self.reduction == "none":
            scale = gy.reshape(n, s)
        elif self.reduction == "sum":
            scale = gy
        else:
            scale = gy / p.total
        coef = xp.where(p.valid, -p.wt * scale, 0).astype(gy.dtype, copy=False)
        gx = xp.zeros((n, c, s), dtype=gy.dtype)
        xp.put_along_axis(gx, p.t3, coef[:, None, :], axis=1)
        return gx.reshape(p.x_shape)

    def backward(self, ggx):
        # NLLLoss is linear in x, so the adjoint of its gradient map is NLLLoss itself.
        return NLLLoss(self.picked, self.reduction)(ggx)


def nll_loss(x, t, *, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities x (C,), (N, C) or (N, C, d1, ...) at targets t.

    t holds class indices (any integer dtype) shaped like x without the class axis; positions
    equal to ignore_index count for nothing. weight (C,) rescales each class; 'mean' divides by the
    sum of the weights of the counted targets (NaN if there are none, with a zero gradient).
    """
    x = as_variable(x)
    if x.dtype.kind != "f":
        raise TypeError(f"nll_loss: expected floating point log-probabilities, got dtype {x.dtype}")
    reduction = check_reduction(reduction)
    t = _data(t)
    valid = class_targets(x.shape, t, ignore_index, "nll_loss")
    w = class_weight(weight, class_count(x.shape, "nll_loss"), x.dtype, "nll_loss")
    return NLLLoss(_Picked(x.shape, t, valid, w, x.dtype), reduction)(x)
