"""Binary cross entropy: the fused SigmoidBCE (NumPy, CPU kernels, CUDA) and its gradient, BCELoss."""
import math
from dataclasses import dataclass

import numpy as np

from minigrad import cuda, kernels, numerics
from minigrad.backend import get_array_module, like
from minigrad.blocks import for_blocks
from minigrad.config import Config
from minigrad.core import Variable, as_array, as_variable, wrap
from minigrad.function import Function
from minigrad.losses.checks import float_target, on_input_backend, real_numbers
from minigrad.losses.reduction import Reduction, check_reduction, is_host_one, scalar_mode
from minigrad.ops.activations import log_sigmoid, sigmoid
from minigrad.ops.arithmetic import log
from minigrad.ops.elementwise import clip, float32_for_half
from minigrad.shapes import check_float, half_in_float32

BLOCK = 1 << 15  # elements per block: a block's inputs, gradient and five temporaries stay in L2 (1 MiB here)


@dataclass(frozen=True)
class BCECall:
    """One BCE call, as the loss and its gradient read it (docs/losses.md, "sigmoid_bce"): the input's shape,
    weight and pos_weight (arrays broadcasting to it, or None) and the reduction ('mean' divides by numel)."""

    shape: tuple
    w: object
    pw: object
    reduction: Reduction

    def blocks(self, fn, *arrays, block=BLOCK):
        """fn(lo, hi, *blocks) over row blocks of the arrays, broadcast to the loss's shape (0-d as (1,)), of about
        `block` elements each."""
        shape = self.shape or (1,)
        xp = get_array_module(arrays[0])
        full = [None if a is None else xp.broadcast_to(a, shape) for a in arrays]
        row = math.prod(shape[1:]) if shape[0] else 1

        def rows(lo, hi):
            with np.errstate(over="ignore", invalid="ignore"):  # exp(-x) overflows to inf: sigmoid 0
                return fn(lo, hi, *[None if a is None else a[lo:hi] for a in full])

        return for_blocks(rows, shape[0], row, xp, block)


def _total(parts, dtype):
    """The sum of the blocks' partial sums, rounded once (math.fsum), in the loss's dtype."""
    if len(parts) == 1:
        return parts[0]
    return np.asarray(math.fsum(map(float, parts)), dtype=dtype)


def _gradient(g, x, e, u, k, y, w, pw):
    """Into g: k w [(pw y + 1 - y) sigmoid(x) - pw y], from e = exp(-|x|) and u = 1 + e (arrays of one block)."""
    numerics.sigmoid_from(x, e, u, out=g)
    if pw is None:
        g -= y
    else:
        g *= (pw - 1) * y + 1
        g -= pw * y
    g *= k
    if w is not None:
        g *= w


class SigmoidBCE(Function):
    """w [(1 - y) x - (1 + (pw - 1) y) log_sigmoid(x)]: BCE of sigmoid(x) without overflow. Keeps, on the host,
    `grad_buffer`: the gradient for gy = 1 of a reduced loss, which forward makes while recording a graph and
    backward hands to its SigmoidBCEGrad, once."""

    keeps_output = False
    grad_buffer = None

    def __init__(self, call):
        self.call = call

    def forward(self, x, y):
        st = self.call
        xp = get_array_module(x)
        if cuda.fused(xp):  # one kernel: the elementwise losses, or their per-block sums
            from minigrad.cuda.bce import sigmoid_bce
            red = st.reduction
            loss = sigmoid_bce(x, y, st.w, st.pw, red.keeps_positions)
            return red.reduce(loss) if red.keeps_positions else red.finish(loss.astype(x.dtype))
        red = st.reduction
        if kernels.fused(x):  # one compiled pass; the gradient for gy = 1 of a reduced loss made when recording
            grad = Config.enable_backprop and not red.keeps_positions
            loss, self.grad_buffer = kernels.call("bce", "sigmoid_bce")(st, x, y, red.coef if grad else None,
                                                                        red.keeps_positions)
            return red.reduce(loss) if red.keeps_positions else red.finish(loss)
        out = xp.empty(st.shape or (1,), dtype=x.dtype) if red.keeps_positions else None
        # Recording a reduced loss: each block's gradient for gy = 1 is made while the block is in cache, from the
        # loss's own exp(-|x|), into the one input-sized buffer that the backward scales by gy (or hands out).
        g = xp.empty(st.shape or (1,), x.dtype) if Config.enable_backprop and out is None else None

        def block(lo, hi, x, y, w, pw):
            e = numerics.exp_neg_abs(x)
            u = e + 1
            if g is not None:
                _gradient(g[lo:hi], x, e, u, red.coef, y, w, pw)
            sp = numerics.log1p_small(e, u)  # log_sigmoid(x) = min(x, 0) - sp
            # max(x, 0) - y (x + (pw - 1) min(x, 0)) first: it is exactly 0 for y = 1, x >> 0.
            a = x * y
            if pw is not None:
                pm1y = (pw - 1) * y
                a += pm1y * xp.minimum(x, 0)
                sp *= pm1y + 1
            loss = xp.zeros_like(x)  # max(x, 0) against an array: about 5x faster than against the number 0
            xp.maximum(x, loss, out=loss)
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
        self.grad_buffer = None if g is None else g.reshape(st.shape)
        return red.finish(_total(parts, x.dtype))

    def backward(self, gy):
        st = self.call
        x, y = self.inputs
        buffer, self.grad_buffer = self.grad_buffer, None  # handed out once: it may become x.grad
        gx = SigmoidBCEGrad(st, buffer)(x, gy, y) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:  # d/dy = w (-x - (pw - 1) log_sigmoid(x))
            z = x if st.pw is None else x + (st.pw - 1) * log_sigmoid(x)
            gt = -st.reduction.scale(gy) * (z if st.w is None else z * st.w)
        return gx, gt


class SigmoidBCEGrad(Function):
    """The gradient k w [(pw y + 1 - y) sigmoid(x) - pw y] of SigmoidBCE; sigmoid(x) - y plainly. `buffer` is the
    forward's gradient for gy = 1 (host), or None: then it is computed."""

    keeps_output = False

    def __init__(self, call, buffer=None):
        self.call = call
        self.buffer = buffer

    @half_in_float32
    def forward(self, x, gy, y):
        st = self.call
        xp = get_array_module(x)
        if cuda.fused(xp):
            from minigrad.cuda.bce import sigmoid_bce_gradient
            return sigmoid_bce_gradient(x, y, st.w, st.pw, xp.asarray(st.reduction.scale(gy)))
        gx, self.buffer = self.buffer, None
        if gx is not None:
            if not st.reduction.is_unit(gy):
                gx *= gy
            return gx
        if kernels.fused(x):
            return kernels.call("bce", "sigmoid_bce")(st, x, y, st.reduction.scale(gy), False)[1]
        gx = xp.empty(st.shape or (1,), dtype=x.dtype)

        def block(lo, hi, x, k, y, w, pw):
            e = numerics.exp_neg_abs(x)
            _gradient(gx[lo:hi], x, e, e + 1, k, y, w, pw)

        st.blocks(block, x, st.reduction.scale(gy), y, st.w, st.pw)
        return gx.reshape(st.shape)

    def backward(self, ggx):
        st = self.call
        x, gy, y = self.inputs
        s = sigmoid(x)
        k = st.reduction.scale(gy)
        u = ggx if st.w is None else ggx * st.w
        if st.pw is None:
            c, d = 1, y  # gx = k w (c s - d)
        else:
            c, d = y * (st.pw - 1) + 1, y * st.pw
        needs = self.needs_input_grad
        gx = k * c * s * (1 - s) * u if needs[0] else None
        ggy = st.reduction.gy_grad((c * s - d) * u) if needs[1] else None
        gt = (-k * u if st.pw is None else k * ((st.pw - 1) * s - st.pw) * u) if needs[2] else None
        return gx, ggy, gt


class KernelSigmoidBCE(Function):
    """SigmoidBCE's common call in one CPU kernel (docs/kernels.md#the-common-call): host logits, constant targets
    of their shape and dtype, no weight or pos_weight, 'mean' or 'sum'. Keeps `grad_buffer`, the gradient for
    gy = 1, made when `wanted`, handed out once by the backward."""

    keeps_output = False
    grad_buffer = None

    def __init__(self, y, mean, wanted):
        self.y, self.mean, self.wanted = y, mean, wanted

    def forward(self, x):
        k = x.dtype.type(1 / x.size if self.mean else 1)  # the coefficient Reduction.of_count makes
        g = np.empty(x.shape, x.dtype) if self.wanted and Config.enable_backprop else None
        y = self.y
        if x.ndim != 2:  # the kernel takes rows
            rows = (1, x.size) if x.ndim < 2 else (-1, x.shape[-1])
            x, y = x.reshape(rows), y.reshape(rows)
        total = kernels.call("bce", "plain_sum")(x, y, None if g is None else g.reshape(x.shape), k)
        self.grad_buffer = g
        return np.asarray(total * k, x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        g, self.grad_buffer = self.grad_buffer, None
        if Config.enable_backprop or g is None:  # create_graph or a second backward: the general gradient
            call, (_, y) = describe(x, self.y, reduction="mean" if self.mean else "sum")
            return SigmoidBCEGrad(call)(x, gy, y)
        if not is_host_one(gy._data):
            g *= gy._data
        return wrap(g)


def _common(x, t, weight, pos_weight, reduction):
    """The loss by KernelSigmoidBCE when the call is the common one it covers, else None."""
    data, y = as_array(x), as_array(t)
    if (weight is not None or pos_weight is not None or type(data) is not np.ndarray or not kernels.fused(data)
            or type(y) is not np.ndarray or y.dtype != data.dtype or y.shape != data.shape
            or not 0 < data.size <= kernels.COMMON or isinstance(t, Variable) and t.requires_grad):
        return None
    mean = scalar_mode(reduction)
    if mean is None:
        return None
    return KernelSigmoidBCE(y, mean, isinstance(x, Variable) and x.requires_grad)(x)


class BinaryCrossEntropy(Function):
    """-w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)] of probabilities p, as torch's BCELoss."""

    keeps_output = False

    def __init__(self, call):
        self.call = call

    def forward(self, p, y):
        st = self.call
        xp = get_array_module(p)
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100
            loss = -(y * xp.maximum(xp.log(p), -100) + (1 - y) * xp.maximum(xp.log1p(-p), -100))
        if st.w is not None:
            loss = loss * st.w
        loss = loss.astype(p.dtype, copy=False)
        return st.reduction.reduce(loss)

    def backward(self, gy):
        st = self.call
        p, y = self.inputs
        k = st.reduction.scale(gy) if st.w is None else st.reduction.scale(gy) * st.w
        # torch's gradient: the analytic one with its denominator clamped, not that of the clamped logs
        gp = k * (p - y) / clip(p * (1 - p), 1e-12, np.inf) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):  # +-inf at p = 0 or 1, as torch
                gt = k * (log(1 - p) - log(p))
        return gp, gt


def _weight(weight, x, name, op):
    """weight or pos_weight as an array in the input x's dtype and backend that broadcasts to x's shape without
    enlarging it."""
    if weight is None:
        return None
    shape = x.shape
    w = get_array_module(x).asarray(like(x, real_numbers(weight, name, op)), dtype=x.dtype)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the input shape {tuple(shape)} "
                         f"(aligned from the last dimension, e.g. ({shape[-1] if shape else 1},))")
    return w


def _float_target(t, x, op):
    """t as a Variable of x's dtype, shape and backend; integer and bool targets become constants."""
    data = on_input_backend(t, x.data, op)
    shape = data.shape
    if shape != x.shape:
        raise ValueError(f"{op}: target shape {shape} does not match input shape {x.shape}; "
                         f"expected the same shape")
    kind = data.dtype.kind
    if kind in "biu":
        return as_variable(data.astype(x.dtype))
    return float_target(t, data, x.dtype)


def _in_unit_interval(a, what, op):
    if not Config.check_values:  # the caller vouches for the values: no host synchronisation
        return
    ok = (a >= 0) & (a <= 1)  # NaN fails both
    if not ok.all():
        index = tuple(int(i[0]) for i in get_array_module(ok).nonzero(~ok)) if a.ndim else ()
        raise ValueError(f"{op}: all elements of {what} should be between 0 and 1, "
                         f"got {a[index]} at index {index}")


def describe(x, t, *, weight=None, pos_weight=None, reduction="mean", op="sigmoid_bce"):
    """Validate a BCE call on x (logits or probabilities); return its BCECall and the inputs (x, t) as Variables."""
    x = check_float(as_variable(x, f"{op}: input"), op, "input")
    mode = check_reduction(reduction)
    t = _float_target(t, x, op)
    w = _weight(weight, x.data, "weight", op)
    pw = _weight(pos_weight, x.data, "pos_weight", op)
    red = Reduction.of_count(mode, x.shape, x.shape, x.size, x.dtype, get_array_module(x.data))
    return BCECall(x.shape, w, pw, red), (x, t)


@float32_for_half
def sigmoid_bce(x, t, *, weight=None, pos_weight=None, reduction="mean"):
    """Binary cross entropy of logits x against targets t of the same shape, fused and exact.

    Per element: w [(1 - t) x - (1 + (pos_weight - 1) t) log_sigmoid(x)], whose gradient is
    w [(pos_weight t + 1 - t) sigmoid(x) - pos_weight t], sigmoid(x) - t without weights. weight
    and pos_weight broadcast from the trailing dimensions (use (C, 1, 1) for channels of (N, C, H, W));
    pos_weight scales the positive term. 'mean' divides by the number of elements. Integer and bool
    targets are cast to x's dtype; float targets that are Variables get a gradient.
    This is torch's binary_cross_entropy_with_logits; docs/losses.md has the formulas.
    """
    common = _common(x, t, weight, pos_weight, reduction)
    if common is not None:
        return common
    call, inputs = describe(x, t, weight=weight, pos_weight=pos_weight, reduction=reduction)
    return SigmoidBCE(call)(*inputs)


binary_cross_entropy_with_logits = sigmoid_bce


@float32_for_half
def binary_cross_entropy(p, t, *, weight=None, reduction="mean"):
    """Binary cross entropy of probabilities p against targets t of the same shape, both in [0, 1].

    Per element: -w [t log(p) + (1 - t) log(1 - p)] with each log clamped at -100 (as torch), so
    p = 0 or 1 gives a finite loss; the gradient's denominator p (1 - p) is clamped at 1e-12. Prefer
    sigmoid_bce on logits: sigmoid saturates to exactly 0 or 1 in float for |x| beyond about 17 (float32).
    """
    op = "binary_cross_entropy"
    call, (p, t) = describe(p, t, weight=weight, reduction=reduction, op=op)
    _in_unit_interval(p.data, "input", op)
    _in_unit_interval(t.data, "target", op)
    return BinaryCrossEntropy(call)(p, t)
