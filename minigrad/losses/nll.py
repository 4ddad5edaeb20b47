"""Negative log-likelihood of class-index targets: NLLLoss and its gradient NLLLossGrad."""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.core import Function, _data, as_variable
from minigrad.losses.checks import check_reduction
from minigrad.losses.targets import pick, reduce_positions


class NLLLoss(Function):
    """-w[t] * x[t] per position; 'mean' divides by the sum of the counted targets' weights."""

    def __init__(self, picked, reduction):
        self.picked = picked
        self.reduction = reduction

    def forward(self, x):
        xp = get_array_module(x)
        p = self.picked
        gathered = xp.take_along_axis(x.reshape(p.view), p.t, axis=1)
        loss = xp.where(p.valid, -p.wt * gathered, 0).astype(x.dtype, copy=False)
        return reduce_positions(loss, self.reduction, p.out_shape, p.total)

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
        if self.reduction == "none":
            scale = gy.reshape(p.kept)
        elif self.reduction == "sum":
            scale = gy
        else:
            scale = gy / p.total
        coef = xp.where(p.valid, -p.wt * scale, 0).astype(gy.dtype, copy=False)
        gx = xp.zeros(p.view, dtype=gy.dtype)
        xp.put_along_axis(gx, p.t, coef, axis=1)
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
    picked, _ = pick(x.shape, x.dtype, _data(t), weight, ignore_index, "nll_loss")
    return NLLLoss(picked, reduction)(x)
