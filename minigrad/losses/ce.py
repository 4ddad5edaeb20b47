"""Softmax cross entropy: the fused SoftmaxCrossEntropy (NumPy, CPU kernels, CUDA), its gradient, the composite."""
import numbers
from dataclasses import dataclass, field

import numpy as np

from minigrad import cuda, kernels
from minigrad.backend import get_array_module
from minigrad.blocks import for_blocks
from minigrad.config import Config
from minigrad.core import Variable, as_array, as_variable, wrap
from minigrad.function import Function
from minigrad.losses.checks import check_ignore_index, class_weight, float_target, on_input_backend, real_numbers
from minigrad.losses.nll import NLLLoss
from minigrad.losses.reduction import Reduction, check_reduction, is_host_one, scalar_mode
from minigrad.losses.targets import Layout, class_index_targets
from minigrad.ops.activations import log_softmax, softmax
from minigrad.ops.elementwise import float32_for_half
from minigrad.ops.reductions import sum
from minigrad.ops.shaping import reshape
from minigrad.shapes import check_float, half_in_float32

BLOCK = 1 << 19  # elements per block of rows: the logits and gradient rows of a block stay in cache


@dataclass(frozen=True)
class CrossEntropyCall:
    """One cross entropy call, as the loss and its gradient read it (docs/losses.md, "softmax_cross_entropy").

    layout: the view of the logits; reduction: how positions are reduced; eps: label smoothing;
    w: class weights (C,) or None; targets: ClassTargets, or None for probability targets.
    The smoothed weighted target is P = (1 - eps) w[t] onehot(t) + (eps / C) w (class indices) or
    P = w ((1 - eps) q + eps / C) (probabilities); mass is a_n = sum_c P[n, c] for class indices.
    """

    layout: Layout
    reduction: Reduction
    eps: float
    w: object
    targets: object
    w_b: object = field(init=False)  # w shaped to broadcast along the class axis of the view
    mass: object = field(init=False)

    def __post_init__(self):
        c = self.layout.c
        w_b = None if self.w is None else self.w.reshape((1, c) + (1,) * (len(self.layout.view) - 2))
        mass = None
        if self.targets is not None and not self.eps:  # only the targets' weights enter (an unused one may be inf)
            mass = self.targets.wt
        elif self.targets is not None:
            w_sum = c if self.w is None else self.w.sum()
            valid = self.targets.valid.astype(self.targets.wt.dtype)
            mass = (1 - self.eps) * self.targets.wt + ((self.eps / c) * w_sum) * valid
        object.__setattr__(self, "w_b", w_b)
        object.__setattr__(self, "mass", mass)

    def class_sum(self, a):
        """sum_c w_c a[n, c] in the kept shape (arrays)."""
        if self.w is None:
            return a.sum(axis=1, keepdims=True)
        if a.ndim == 2:
            return (a @ self.w)[:, None]
        return get_array_module(a).matmul(self.w, a)[:, None, :]

    def weighted(self, a):
        """a[n, c] * w_c (arrays or Variables); a itself without class weights."""
        return a if self.w_b is None else a * self.w_b

    def class_sum_var(self, a):
        """sum_c w_c a[n, c] in the kept shape (Variables)."""
        return sum(self.weighted(a), axis=1, keepdims=True)

    def smoothed(self, q):
        """(1 - eps) q + eps / C: the smoothed probability targets."""
        return q if self.eps == 0 else q * (1 - self.eps) + self.eps / self.layout.c

    def block_targets(self, q, lo, hi):
        """For rows lo:hi: the smoothed probability targets (None for class indices) and the mass a_n."""
        if q is None:
            return None, self.mass[lo:hi]
        qb = self.smoothed(q[lo:hi])
        return qb, self.class_sum(qb)

    def to_gradient(self, e, s, k, qb, mass, lo, hi):
        """Turn e = exp(x - max) of rows lo:hi, with row sums s, into the gradient k (a softmax - P) in place."""
        xp = get_array_module(e)
        e *= k * mass / s
        if qb is not None:
            e -= self.weighted(qb * k)
            return
        tg, t = self.targets, self.targets.t[lo:hi]
        xp.put_along_axis(e, t, xp.take_along_axis(e, t, axis=1) - k * (1 - self.eps) * tg.wt[lo:hi], axis=1)
        if self.eps:
            e -= self.weighted(k * (self.eps / self.layout.c))

    def rows(self, xb, e, lo, hi, q=None, k=None):
        """The loss terms of rows lo:hi from their logits xb, with e (xb's shape; xb itself is allowed) as the
        work array; given k (the rows' gradient scale), e becomes their gradient. Set np.errstate around it."""
        xp = get_array_module(xb)
        # z = x - max <= 0: exp(z) cannot overflow, and log_softmax = z - log(s) has no cancellation.
        xp.subtract(xb, xb.max(axis=1, keepdims=True), out=e)
        qb, mass = self.block_targets(q, lo, hi)
        if qb is None:
            tg = self.targets
            zq = (1 - self.eps) * tg.wt[lo:hi] * xp.take_along_axis(e, tg.t[lo:hi], axis=1)
            if self.eps:
                zq += (self.eps / self.layout.c) * self.class_sum(e)
        else:
            zq = self.class_sum(qb * e)
        xp.exp(e, out=e)
        s = e.sum(axis=1, keepdims=True)
        lb = mass * xp.log(s) - zq
        if k is not None:
            self.to_gradient(e, s, k, qb, mass, lo, hi)
        return lb if qb is not None else xp.where(self.targets.valid[lo:hi], lb, 0)


class SoftmaxCrossEntropy(Function):
    """-sum_c P[n, c] log_softmax(x)[n, c] per position, reduced; P the weighted (smoothed) target.

    Inputs (x,) for class indices, (x, q) for probability targets. Keeps for its backward, on the host,
    `grad_buffer`: the gradient for gy = 1, which forward computes while recording a graph and backward
    hands to its SoftmaxCrossEntropyGrad, once; on a GPU, `lse`: the logsumexp of each position, which
    the gradient kernel reads instead of recomputing it.
    """

    keeps_output = False
    grad_buffer = None
    lse = None

    def __init__(self, call):
        self.call = call

    def forward(self, x, q=None):
        cl, lay = self.call, self.call.layout
        xp = get_array_module(x)
        x = x.reshape(lay.view)
        q = None if q is None else q.reshape(lay.view)
        if cuda.fused(xp):  # one kernel; the backward's kernel reads the logsumexp kept here
            from minigrad.cuda.ce import cross_entropy
            loss, self.lse = cross_entropy(x, q, cl.targets, cl.w, cl.eps, cl.mass)
            return cl.reduction.reduce(loss)
        if kernels.fused(x):  # one compiled pass per row; the gradient for gy = 1 made when recording a graph
            loss, self.grad_buffer = kernels.call("ce", "cross_entropy")(
                cl, x, q, cl.reduction.coef if Config.enable_backprop else None)
            return cl.reduction.reduce(loss)
        # Recording a graph: exp(x - max) of each block becomes the gradient for gy = 1 while the block
        # is in cache, in the one logits-sized buffer that the backward scales by gy (or hands out).
        g = xp.empty_like(x) if Config.enable_backprop else None
        loss = xp.empty(lay.kept, x.dtype)
        coef = xp.broadcast_to(cl.reduction.coef, lay.kept)

        def block(lo, hi):
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # -inf rows, +inf: NaN, as torch
                xb = x[lo:hi]
                e = xp.empty_like(xb) if g is None else g[lo:hi]
                loss[lo:hi] = cl.rows(xb, e, lo, hi, q, None if g is None else coef[lo:hi])

        for_blocks(block, lay.view[0], lay.row_size, xp, BLOCK)
        self.grad_buffer = g
        return cl.reduction.reduce(loss)

    def backward(self, gy):
        cl, lay = self.call, self.call.layout
        x = self.inputs[0]
        buffer, self.grad_buffer = self.grad_buffer, None  # handed out once: it may become x.grad
        gx = None
        if self.needs_input_grad[0]:
            gx = SoftmaxCrossEntropyGrad(cl, buffer, self.lse)(x, gy, *self.inputs[1:])
        if len(self.inputs) == 1:
            return gx
        gq = None
        if self.needs_input_grad[1]:  # d/dq of -sum_c w_c q_c lp_c is -(1-eps) w lp
            gq = cl.reduction.scale(gy) * (-(1 - cl.eps)) * log_softmax(reshape(x, lay.view), axis=1)
            gq = reshape(cl.weighted(gq), lay.x_shape)
        return gx, gq


class SoftmaxCrossEntropyGrad(Function):
    """The gradient k_n (a_n softmax(x)[n] - P[n]) of SoftmaxCrossEntropy, k_n the reduction's scale of gy.

    Inputs (x, gy) for class indices, (x, gy, q) for probability targets. `buffer` is the forward's
    gradient for gy = 1 (host), `lse` its logsumexp per position (GPU), or None: then they are computed.
    """

    keeps_output = False

    def __init__(self, call, buffer=None, lse=None):
        self.call = call
        self.buffer = buffer
        self.lse = lse

    @half_in_float32
    def forward(self, x, gy, q=None):
        cl, lay, red = self.call, self.call.layout, self.call.reduction
        xp = get_array_module(x)
        x = x.reshape(lay.view)
        q = None if q is None else q.reshape(lay.view)
        if cuda.fused(xp):
            from minigrad.cuda.ce import cross_entropy, cross_entropy_gradient
            lse = cross_entropy(x, q, cl.targets, cl.w, cl.eps, cl.mass)[1] if self.lse is None else self.lse
            g = cross_entropy_gradient(x, q, cl.targets, cl.w, cl.eps, cl.mass, lse, red.scale(gy))
            return g.reshape(lay.x_shape)
        g, self.buffer = self.buffer, None
        if g is not None and red.is_unit(gy):
            return g.reshape(lay.x_shape)
        if g is None and kernels.fused(x):
            return kernels.call("ce", "cross_entropy")(cl, x, q, red.scale(gy))[1].reshape(lay.x_shape)
        unit = g is not None
        if unit:
            k = xp.broadcast_to(red.expand(gy), lay.kept)
        else:
            g, k = xp.empty_like(x), xp.broadcast_to(red.scale(gy), lay.kept)

        def block(lo, hi):
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                e, kb = g[lo:hi], k[lo:hi]
                if unit:
                    e *= kb
                    return
                xb = x[lo:hi]
                xp.exp(xp.subtract(xb, xb.max(axis=1, keepdims=True), out=e), out=e)
                cl.to_gradient(e, e.sum(axis=1, keepdims=True), kb, *cl.block_targets(q, lo, hi), lo, hi)

        for_blocks(block, lay.view[0], lay.row_size, xp, BLOCK)
        return g.reshape(lay.x_shape)

    def backward(self, ggx):
        cl, lay, red = self.call, self.call.layout, self.call.reduction
        x, gy = self.inputs[:2]
        u = reshape(ggx, lay.view)
        sm = softmax(reshape(x, lay.view), axis=1)
        su = sum(sm * u, axis=1, keepdims=True)
        k = red.scale(gy)
        if cl.targets is None:
            q = cl.smoothed(reshape(self.inputs[2], lay.view))
            mass, qu = cl.class_sum_var(q), cl.class_sum_var(q * u)
        else:
            mass = cl.mass
            # sum_c P_c u_c = (1-eps) w[t] u[t] + (eps/C) valid sum_c w_c u_c; NLLLoss gives -w[t] u[t]
            none = cl.targets.reduction("none", lay)
            qu = reshape(NLLLoss(lay, cl.targets, none)(ggx), lay.kept) * (-(1 - cl.eps))
            if cl.eps:
                qu = qu + cl.class_sum_var(u) * ((cl.eps / lay.c) * none.coef)
        needs = self.needs_input_grad
        gx = reshape(k * mass * sm * (u - su), lay.x_shape) if needs[0] else None
        ggy = red.gy_grad(mass * su - qu) if needs[1] else None  # d(gx . ggx)/d(gy)
        if cl.targets is None:
            gq = None
            if needs[2]:
                gq = reshape(cl.weighted(k * (1 - cl.eps) * (su - u)), lay.x_shape)
            return gx, ggy, gq
        return gx, ggy


class KernelCrossEntropy(Function):
    """SoftmaxCrossEntropy's common call in one CPU kernel (docs/kernels.md#the-common-call): host logits
    (N, C), class indices (N,) in [0, C) or ignore_index, no class weights or smoothing, 'mean' or 'sum'. Keeps
    `grad_buffer`, the gradient for gy = 1, made when `wanted`, handed out once by the backward."""

    keeps_output = False
    grad_buffer = None

    def __init__(self, t, ignore_index, mean, wanted):
        self.t, self.ignore_index, self.mean, self.wanted = t, ignore_index, mean, wanted

    def forward(self, x):
        g = np.empty_like(x, order="C") if self.wanted and Config.enable_backprop else np.empty((0, 0), x.dtype)
        loss = kernels.call("ce", "plain_rows")(x, self.t, self.ignore_index, self.mean, g)
        self.grad_buffer = g if g.size else None
        return np.asarray(loss, x.dtype)

    def backward(self, gy):
        x = self.inputs[0]
        g, self.grad_buffer = self.grad_buffer, None
        if Config.enable_backprop or g is None:  # create_graph or a second backward: the general gradient
            call, _ = describe(x, self.t, ignore_index=self.ignore_index, reduction="mean" if self.mean else "sum")
            return SoftmaxCrossEntropyGrad(call, g)(x, gy)
        if not is_host_one(gy._data):
            g *= gy._data
        return wrap(g)


def _common(x, t, weight, ignore_index, reduction, label_smoothing):
    """The loss by KernelCrossEntropy when the call is the common one it covers, else None (the general path
    takes, or reports, everything else)."""
    data = as_array(x)
    if (weight is not None or type(data) is not np.ndarray or data.ndim != 2 or not kernels.fused(data)
            or not 0 < data.size <= kernels.COMMON or type(label_smoothing) not in (int, float) or label_smoothing
            or type(ignore_index) is not int or type(t) is not np.ndarray or t.dtype.kind != "i"
            or t.shape != data.shape[:1]):
        return None
    mean = scalar_mode(reduction)
    if mean is None:
        return None
    t = t.astype(np.intp, copy=False)  # signed: a value stays itself (unsigned targets go the general way)
    if kernels.call("ce", "first_bad_target")(t, data.shape[1], ignore_index) >= 0:
        return None
    return KernelCrossEntropy(t, ignore_index, mean, isinstance(x, Variable) and x.requires_grad)(x)


def check_smoothing(label_smoothing, op="softmax_cross_entropy"):
    """label_smoothing as a float in [0, 1]; ValueError naming op otherwise."""
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing!r}")
    return float(label_smoothing)


def describe(x, t, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Validate a cross entropy call; return its CrossEntropyCall and the Function's inputs, (x,) or (x, q)."""
    op = "softmax_cross_entropy"
    x = check_float(as_variable(x, f"{op}: input"), op, "input")
    mode = check_reduction(reduction)
    eps = check_smoothing(label_smoothing)
    lay = Layout.of(x.shape, op)
    if lay.c == 0:
        raise ValueError(f"{op}: expected at least one class, got input shape {x.shape}")
    t = t if isinstance(t, Variable) else real_numbers(t, "target", op)
    shape = as_array(t).shape
    if shape not in (x.shape, lay.out_shape):
        raise ValueError(f"{op}: target shape {shape} does not match input shape {x.shape}; expected "
                         f"{lay.out_shape} for class indices or {x.shape} for class probabilities")
    if shape != x.shape:
        lay, targets, w = class_index_targets(x.data, t, weight, ignore_index, op)
        return CrossEntropyCall(lay, targets.reduction(mode, lay), eps, w, targets), (x,)
    t_data = on_input_backend(t, x.data, op)
    if t_data.dtype.kind != "f":
        raise TypeError(f"{op}: targets shaped like the input {x.shape} are class probabilities and must "
                        f"be floating point, got {t_data.dtype}; class indices have shape {lay.out_shape}")
    check_ignore_index(ignore_index, op)
    if ignore_index >= 0:
        raise ValueError(f"{op}: ignore_index={ignore_index} is not supported for probability targets; "
                         f"expected a negative ignore_index")
    w = class_weight(weight, lay.c, x.dtype, op, x.data)
    q = float_target(t, t_data, x.dtype)
    red = Reduction.of_count(mode, lay.out_shape, lay.kept, lay.positions, x.dtype, get_array_module(x.data))
    return CrossEntropyCall(lay, red, eps, w, None), (x, q)


@float32_for_half
def softmax_cross_entropy(x, t, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits x (C,), (N, C) or (N, C, d1, ...) against targets t, fused and exact.

    t holds class indices (any integer dtype, x's shape without the class axis) or class
    probabilities (floats, x's shape; a Variable gets a gradient). weight (C,) rescales each class;
    ignore_index marks class-index positions that count for nothing; label_smoothing eps mixes the
    target with the uniform distribution: (1 - eps) target + eps / C. 'mean' divides by the sum of
    the targets' weights for class indices and by the number of positions for probabilities.
    This is torch's cross_entropy; the class axis is 1 (0 for (C,) input). docs/losses.md has the formulas.
    """
    common = _common(x, t, weight, ignore_index, reduction, label_smoothing)
    if common is not None:
        return common
    call, inputs = describe(x, t, weight=weight, ignore_index=ignore_index, reduction=reduction,
                            label_smoothing=label_smoothing)
    return SoftmaxCrossEntropy(call)(*inputs)


cross_entropy = softmax_cross_entropy
