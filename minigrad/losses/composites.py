"""The composite graphs the fused losses equal, built from logs, sums and nll_loss: what the tests compare with."""
from minigrad.losses import bce, ce
from minigrad.losses.nll import nll_loss
from minigrad.ops.activations import log_sigmoid, log_softmax
from minigrad.ops.elementwise import float32_for_half
from minigrad.ops.shaping import reshape

__all__ = ["sigmoid_bce_simple", "softmax_cross_entropy_simple"]


@float32_for_half
def softmax_cross_entropy_simple(x, t, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """softmax_cross_entropy as a composite graph of log_softmax, nll_loss and sums: what the fused loss equals.

    -sum_c w_c q_c log_softmax(x)_c per position, q the (smoothed) target; for class indices that is
    (1 - eps) nll_loss(log_softmax(x), t) + (eps / C) times the reduced -sum_c w_c log_softmax(x)_c.
    It keeps several logits-sized arrays and is slower; the tests compare the two.
    """
    cl, inputs = ce.describe(x, t, weight=weight, ignore_index=ignore_index, reduction=reduction,
                          label_smoothing=label_smoothing)
    lay, red = cl.layout, cl.reduction
    lp = log_softmax(inputs[0])
    if cl.targets is None:
        return red.reduce(-cl.class_sum_var(cl.smoothed(reshape(inputs[1], lay.view)) * reshape(lp, lay.view)))
    loss = nll_loss(lp, t, weight=weight, ignore_index=ignore_index, reduction=red.mode)
    if cl.eps == 0:
        return loss
    smooth = -cl.class_sum_var(reshape(lp, lay.view)) * cl.targets.reduction("none", lay).coef
    return (1 - cl.eps) * loss + (cl.eps / lay.c) * red.reduce(smooth)


@float32_for_half
def sigmoid_bce_simple(x, t, *, weight=None, pos_weight=None, reduction="mean"):
    """sigmoid_bce as a composite graph of log_sigmoid and arithmetic: what the fused loss equals.

    Per element w [(1 - t) x - (1 + (pos_weight - 1) t) log_sigmoid(x)], reduced; several temporaries
    and a longer graph, so slower; the tests compare the two.
    """
    call, (x, t) = bce.describe(x, t, weight=weight, pos_weight=pos_weight, reduction=reduction)
    positive = 1 if call.pw is None else 1 + (call.pw - 1) * t
    loss = (1 - t) * x - positive * log_sigmoid(x)
    return call.reduction.reduce(loss if call.w is None else loss * call.w)
