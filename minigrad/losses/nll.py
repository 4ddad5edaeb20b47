"""Negative log-likelihood of class-index targets: NLLLoss and its gradient NLLLossGrad."""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.core import as_variable
from minigrad.function import Function
from minigrad.losses.reduction import check_reduction
from minigrad.losses.targets import class_index_targets
from minigrad.ops.elementwise import float32_for_half


class NLLLoss(Function):
    """-w[t] * x[t] per position, reduced; layout, targets and reduction describe the call."""

    keeps_output = False

    def __init__(self, layout, targets, reduction):
        self.layout, self.targets, self.reduction = layout, targets, reduction

    def forward(self, x):
        xp = get_array_module(x)
        tg = self.targets
        gathered = xp.take_along_axis(x.reshape(self.layout.view), tg.t, axis=1)
        return self.reduction.reduce(xp.where(tg.valid, -tg.wt * gathered, 0).astype(x.dtype, copy=False))

    def backward(self, gy):
        return NLLLossGrad(self.layout, self.targets, self.reduction)(gy)


class NLLLossGrad(Function):
    """The gradient of NLLLoss: -w[t] * k scattered to the targets, k the reduction's scale of gy (linear in gy)."""

    keeps_output = False

    def __init__(self, layout, targets, reduction):
        self.layout, self.targets, self.reduction = layout, targets, reduction

    def forward(self, gy):
        xp = get_array_module(gy)
        tg = self.targets
        with np.errstate(invalid="ignore", divide="ignore"):  # 'mean' with zero total weight
            coef = xp.where(tg.valid, -tg.wt * self.reduction.scale(gy), 0).astype(gy.dtype, copy=False)
        gx = xp.zeros(self.layout.view, dtype=gy.dtype)
        xp.put_along_axis(gx, tg.t, coef, axis=1)
        return gx.reshape(self.layout.x_shape)

    def backward(self, ggx):
        # NLLLoss is linear in x, so the adjoint of its gradient map is NLLLoss itself.
        return NLLLoss(self.layout, self.targets, self.reduction)(ggx)


@float32_for_half
def nll_loss(x, t, *, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities x (C,), (N, C) or (N, C, d1, ...) at targets t.

    t holds class indices (any integer dtype) shaped like x without the class axis; positions
    equal to ignore_index count for nothing. weight (C,) rescales each class; 'mean' divides by the
    sum of the weights of the counted targets (NaN if there are none, with a zero gradient).
    See docs/losses.md, "nll_loss".
    """
    x = as_variable(x, "nll_loss: input")
    if x.dtype.kind != "f":
        raise TypeError(f"nll_loss: expected floating point log-probabilities, got dtype {x.dtype}")
    mode = check_reduction(reduction)
    layout, targets, _ = class_index_targets(x.data, t, weight, ignore_index, "nll_loss")
    return NLLLoss(layout, targets, targets.reduction(mode, layout))(x)
