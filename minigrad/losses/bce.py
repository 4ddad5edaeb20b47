"""Binary cross entropy: fused SigmoidBCE on logits (with SigmoidBCEGrad), BinaryCrossEntropy on probabilities."""
import math

import numpy as np

from minigrad import _numerics
from minigrad._blocks import for_blocks
from minigrad.backend import get_array_module
from minigrad.core import Function, _data, as_variable, log, sum
from minigrad.functions.activations import _float_input, log_sigmoid, sigmoid
from minigrad.functions.elementwise import astype, clip
from minigrad.losses.checks import check_reduction

BLOCK = 1 << 16  # elements per block: the loss's five temporaries of a block fit in L2


class _Setup:
    """What a BCE loss and its gradient share: shape, weight and pos_weight (broadcast lazily) and the
    reduction's scale `coef` (the loss is sum(coef * l); 'mean' divides by numel, whatever the weights)."""

    def __init__(self, shape, dtype, reduction, w, pw=None):
        self.shape, self.reduction, self.w, self.pw = tuple(shape), reduction, w, pw
        self.size = math.prod(self.shape)
        self.coef = 1 / self.size if reduction == "mean" and self.size else 1.0

    def scale(self, gy):
        """k = gy * coef, the factor of each element's gradient (arrays or Variables)."""
        return gy if self.coef == 1 else gy * self.coef

    def reduce(self, total, dtype):
        """The reduced loss from the sum of its elements."""
        if self.reduction == "sum":
            return total
        with np.errstate(invalid="ignore"):  # 'mean' of nothing is NaN
            return total / dtype.type(self.size)

    def blocks(self, fn, *arrays):
        """fn(lo, hi, *blocks) over row blocks of the arrays, broadcast to the loss's shape (0-d as (1,))."""
        shape = self.shape or (1,)
        xp = get_array_module(arrays[0])
        full = [None if a is None else xp.broadcast_to(a, shape) for a in arrays]
        row = self.size // shape[0] if shape[0] else 1

        def block(lo, hi):
            with np.errstate(over="ignore", invalid="ignore"):  # exp(-x) overflows to inf: sigmoid 0
                return fn(lo, hi, *[None if a is None else a[lo:hi] for a in full])

        return for_blocks(block, shape[0], row, xp, BLOCK)


def _total(parts, dtype):
    """The sum of the blocks' partial sums, rounded once (math.fsum), in the loss's dtype."""
    if len(parts) == 1:
        return parts[0]
    return np.asarray(math.fsum(map(float, parts)), dtype=dtype)


class SigmoidBCE(Function):
    """w [(1 - y) x - (1 + (pw - 1) y) log_sigmoid(x)]: BCE of sigmoid(x) without overflow."""

    def __init__(self, setup):
        self.setup = setup

    def forward(self, x, y):
        st = self.setup
        xp = get_array_module(x)
        out = xp.empty(st.shape or (1,), dtype=x.dtype) if st.reduction == "none" else None

        def block(lo, hi, x, y, w, pw):
            sp = _numerics.log1p_exp_neg_abs(x)  # log_sigmoid(x) = min(x, 0) - sp
            # max(x, 0) - y (x + (pw - 1) min(x, 0)) first: it is exactly 0 for y = 1, x >> 0.
            a = x * y
            if pw is not None:
                pm1y = (pw - 1) * y
                a += pm1y * xp.minimum(x, 0)
                sp *= pm1y + 1
            loss = xp.maximum(x, 0)
            loss -= a
            loss += sp
            if w is not None:
                loss *= w
            if out is None:
                return loss.sum()
            out[lo:hi] = loss

        parts = st.blocks(block, x, y, st.w, st.pw)
        if out is not None:
            return out.reshape(st.shape)
        return st.reduce(_total(parts, x.dtype), x.dtype)

    def backward(self, gy):
        st = self.setup
        x, y = self.inputs
        gx = SigmoidBCEGrad(st)(x, gy, y) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:  # d/dy = w (-x - (pw - 1) log_sigmoid(x))
            z = x if st.pw is None else x + (st.pw - 1) * log_sigmoid(x)
            gt = -st.scale(gy) * (z if st.w is None else z * st.w)
        return gx, gt


class SigmoidBCEGrad(Function):
    """The gradient k w [(pw y + 1 - y) sigmoid(x) - pw y] of SigmoidBCE; sigmoid(x) - y plainly."""

    def __init__(self, setup):
        self.setup = setup

    def forward(self, x, gy, y):
        st = self.setup
        xp = get_array_module(x)
        gx = xp.empty(st.shape or (1,), dtype=x.dtype)

        def block(lo, hi, x, k, y, w, pw):
            g = gx[lo:hi]
            xp.exp(xp.negative(x, out=g), out=g)
            g += 1
            xp.reciprocal(g, out=g)  # sigmoid(x); 0 where exp(-x) overflowed
            if pw is None:
                g -= y
            else:
                g *= (pw - 1) * y + 1
                g -= pw * y
            g *= k
            if w is not None:
                g *= w

        st.blocks(block, x, st.scale(gy), y, st.w, st.pw)
        return gx.reshape(st.shape)

    def backward(self, ggx):
        st = self.setup
        x, gy, y = self.inputs
        s = sigmoid(x)
        k = st.scale(gy)
        u = ggx if st.w is None else ggx * st.w
        if st.pw is None:
            c, d = 1, y  # gx = k w (c s - d)
        else:
            c, d = y * (st.pw - 1) + 1, y * st.pw
        needs = self.needs_input_grad
        gx = k * c * s * (1 - s) * u if needs[0] else None
        h = (c * s - d) * u * st.coef
        ggy = (h if st.reduction == "none" else sum(h)) if needs[1] else None
        gt = (-k * u if st.pw is None else k * ((st.pw - 1) * s - st.pw) * u) if needs[2] else None
        return gx, ggy, gt


class BinaryCrossEntropy(Function):
    """-w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)] of probabilities p, as torch's BCELoss."""

    def __init__(self, setup):
        self.setup = setup

    def forward(self, p, y):
        st = self.setup
        xp = get_array_module(p)
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100
            loss = -(y * xp.maximum(xp.log(p), -100) + (1 - y) * xp.maximum(xp.log1p(-p), -100))
        if st.w is not None:
            loss = loss * st.w
        loss = loss.astype(p.dtype, copy=False)
        return loss if st.reduction == "none" else st.reduce(loss.sum(), p.dtype)

    def backward(self, gy):
        st = self.setup
        p, y = self.inputs
        k = st.scale(gy) if st.w is None else st.scale(gy) * st.w
        # torch's gradient: the analytic one with its denominator clamped, not that of the clamped logs
        gp = k * (p - y) / clip(p * (1 - p), 1e-12, np.inf) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):  # +-inf at p = 0 or 1, as torch
                gt = k * (log(1 - p) - log(p))
        return gp, gt


def _weight(weight, shape, dtype, name, op):
    """weight or pos_weight as an array in the input's dtype that broadcasts to shape without enlarging it."""
    if weight is None:
        return None
    w = _data(weight)
    w = get_array_module(w).asarray(w, dtype=dtype)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the input shape {tuple(shape)} "
                         f"(aligned from the last dimension, e.g. ({shape[-1] if shape else 1},))")
    return w


def _float_target(t, x, op):
    """t as a Variable of x's dtype and shape; integer and bool targets become constants."""
    data = _data(t)
    data = data if hasattr(data, "shape") else np.asarray(data)
    shape = data.shape
    if shape != x.shape:
        raise ValueError(f"{op}: target shape {shape} does not match input shape {x.shape}; "
                         f"expected the same shape")
    kind = data.dtype.kind
    if kind in "biu":
        return as_variable(data.astype(x.dtype))
    if kind != "f":
        raise TypeError(f"{op}: expected float, integer or bool targets, got {data.dtype}")
    t = as_variable(t)
    return astype(t, x.dtype) if t.dtype != x.dtype else t


def _in_unit_interval(a, what, op):
    ok = (a >= 0) & (a <= 1)  # NaN fails both
    if not ok.all():
        index = tuple(int(i[0]) for i in get_array_module(ok).nonzero(~ok)) if a.ndim else ()
        raise ValueError(f"{op}: all elements of {what} should be between 0 and 1, "
                         f"got {a[index]} at index {index}")


def sigmoid_bce(x, t, *, weight=None, pos_weight=None, reduction="mean"):
    """Binary cross entropy of logits x against targets t of the same shape, fused and exact.

    Per element: w [(1 - t) x - (1 + (pos_weight - 1) t) log_sigmoid(x)], whose gradient is
    w [(pos_weight t + 1 - t) sigmoid(x) - pos_weight t], sigmoid(x) - t without weights. weight
    and pos_weight broadcast from the trailing dimensions (use (C, 1, 1) for channels of (N, C, H, W));
    pos_weight scales the positive term. 'mean' divides by the number of elements. Integer and bool
    targets are cast to x's dtype; float targets that are Variables get a gradient.
    This is torch's binary_cross_entropy_with_logits.
    """
    op = "sigmoid_bce"
    x = _float_input(x, op)
    reduction = check_reduction(reduction)
    t = _float_target(t, x, op)
    w = _weight(weight, x.shape, x.dtype, "weight", op)
    pw = _weight(pos_weight, x.shape, x.dtype, "pos_weight", op)
    return SigmoidBCE(_Setup(x.shape, x.dtype, reduction, w, pw))(x, t)


def binary_cross_entropy(p, t, *, weight=None, reduction="mean"):
    """Binary cross entropy of probabilities p against targets t of the same shape, both in [0, 1].

    Per element: -w [t log(p) + (1 - t) log(1 - p)] with each log clamped at -100 (as torch), so
    p = 0 or 1 gives a finite loss; the gradient's denominator p (1 - p) is clamped at 1e-12. Prefer
    sigmoid_bce on logits: sigmoid saturates to exactly 0 or 1 in float for |x| beyond about 17 (float32).
    """
    op = "binary_cross_entropy"
    p = _float_input(p, op)
    reduction = check_reduction(reduction)
    t = _float_target(t, p, op)
    _in_unit_interval(p.data, "input", op)
    _in_unit_interval(t.data, "target", op)
    w = _weight(weight, p.shape, p.dtype, "weight", op)
    return BinaryCrossEntropy(_Setup(p.shape, p.dtype, reduction, w))(p, t)


binary_cross_entropy_with_logits = sigmoid_bce
