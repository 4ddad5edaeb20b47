"""Fused softmax cross entropy: SoftmaxCrossEntropy and its gradient SoftmaxCrossEntropyGrad."""
import numbers

import numpy as np

from minigrad._blocks import for_blocks
from minigrad.backend import get_array_module
from minigrad.config import Config
from minigrad.core import Function, Variable, _data, as_variable, reshape, sum
from minigrad.functions.activations import _float_input, log_softmax, softmax
from minigrad.functions.elementwise import astype
from minigrad.losses.checks import check_reduction, class_count, class_weight, index_target_shape
from minigrad.losses.nll import NLLLoss
from minigrad.losses.targets import kept_shape, pick, reduce_positions, view_shape

BLOCK = 1 << 19  # elements per block of rows: the logits and gradient rows of a block stay in cache


class _Setup:
    """What a cross entropy and its gradient share: the view of the logits, targets, class weights,
    smoothing eps and the reduction's per-position scale `coef` (the loss is sum(coef * l))."""

    def __init__(self, xp, x_shape, dtype, reduction, eps, w, picked=None):
        self.x_shape = tuple(x_shape)
        self.view = view_shape(x_shape)
        self.kept = kept_shape(self.view)
        self.kept_size = int(np.prod(self.kept[1:]))  # positions per row of the view
        self.out_shape = index_target_shape(x_shape)
        self.c = c = self.view[1]
        self.reduction, self.eps, self.w, self.picked = reduction, eps, w, picked
        self.w_b = None if w is None else w.reshape((1, c) + (1,) * (len(self.view) - 2))
        self.w_sum = c if w is None else w.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            if picked is None:  # probability targets: 'mean' averages over positions, whatever the weights
                self.denom = int(np.prod(self.kept))
                self.coef = xp.asarray(1 / self.denom if reduction == "mean" and self.denom else 1, dtype=dtype)
            else:
                self.denom = picked.total
                self.valid = picked.valid.astype(dtype)
                # a_n = sum_c P[n, c] of the smoothed weighted target P = (1-eps) w[t] onehot + (eps/C) w
                self.mass = (1 - eps) * picked.wt + ((eps / c) * self.w_sum) * self.valid
                self.coef = self.valid / picked.total if reduction == "mean" else self.valid
                self.coef = xp.where(picked.valid, self.coef, 0)  # 0, not NaN, where ignored
        self.grad = None  # the forward's gradient for gy = 1, if it recorded a graph

    def scale(self, gy):
        """k_n = gy_n * coef_n, the factor of position n's gradient (arrays or Variables)."""
        if self.reduction == "none":
            gy = reshape(gy, self.kept) if isinstance(gy, Variable) else gy.reshape(self.kept)
        return gy * self.coef

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
        return q if self.eps == 0 else q * (1 - self.eps) + self.eps / self.c

    def targets(self, q, lo, hi):
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
            qb = qb * k
            e -= self.weighted(qb)
            return
        p, t = self.picked, self.picked.t[lo:hi]
        xp.put_along_axis(e, t, xp.take_along_axis(e, t, axis=1) - k * (1 - self.eps) * p.wt[lo:hi], axis=1)
        if self.eps:
            e -= self.weighted(k * (self.eps / self.c))


class SoftmaxCrossEntropy(Function):
    """-sum_c P[n, c] log_softmax(x)[n, c] per position, P the weighted (smoothed) target."""

    def __init__(self, setup):
        self.setup = setup

    def forward(self, x, q=None):
        st = self.setup
        xp = get_array_module(x)
        x = x.reshape(st.view)
        q = None if q is None else q.reshape(st.view)
        # Recording a graph: exp(x - max) of each block becomes the gradient for gy = 1 while the block
        # is in cache, in the one logits-sized buffer that the backward scales by gy (or hands out).
        g = xp.empty_like(x) if Config.enable_backprop else None
        loss = xp.empty(st.kept, x.dtype)
        coef = xp.broadcast_to(st.coef, st.kept)

        def block(lo, hi):
            with np.errstate(invalid="ignore", divide="ignore"):  # -inf rows or +inf give NaN, as torch
                xb = x[lo:hi]
                e = xp.empty_like(xb) if g is None else g[lo:hi]
                # z = x - max <= 0: exp(z) cannot overflow, and log_softmax = z - log(s) has no cancellation.
                xp.subtract(xb, xb.max(axis=1, keepdims=True), out=e)
                qb, mass = st.targets(q, lo, hi)
                if qb is None:
                    p = st.picked
                    zq = (1 - st.eps) * p.wt[lo:hi] * xp.take_along_axis(e, p.t[lo:hi], axis=1)
                    if st.eps:
                        zq += (st.eps / st.c) * st.class_sum(e)
                else:
                    zq = st.class_sum(qb * e)
                xp.exp(e, out=e)
                s = e.sum(axis=1, keepdims=True)
                lb = mass * xp.log(s) - zq
                loss[lo:hi] = lb if qb is not None else xp.where(st.picked.valid[lo:hi], lb, 0)
                if g is not None:
                    st.to_gradient(e, s, coef[lo:hi], qb, mass, lo, hi)

        for_blocks(block, st.view[0], st.c * st.kept_size, xp, BLOCK)
        st.grad = g
        return reduce_positions(loss, st.reduction, st.out_shape, st.denom)

    def backward(self, gy):
        st = self.setup
        x = self.inputs[0]
        gx = SoftmaxCrossEntropyGrad(st)(x, gy, *self.inputs[1:]) if self.needs_input_grad[0] else None
        if len(self.inputs) == 1:
            return gx
        gq = None
        if self.needs_input_grad[1]:  # d/dq of -sum_c w_c q_c lp_c is -(1-eps) w lp
            gq = st.scale(gy) * (-(1 - st.eps)) * log_softmax(reshape(x, st.view), axis=1)
            gq = reshape(st.weighted(gq), st.x_shape)
        return gx, gq


class SoftmaxCrossEntropyGrad(Function):
    """The gradient k_n (a_n softmax(x)[n] - P[n]) of SoftmaxCrossEntropy, k_n = gy_n * coef_n.

    Inputs (x, gy) for class indices, (x, gy, q) for probability targets.
    """

    def __init__(self, setup):
        self.setup = setup

    def forward(self, x, gy, q=None):
        st = self.setup
        xp = get_array_module(x)
        x = x.reshape(st.view)
        q = None if q is None else q.reshape(st.view)
        g, st.grad = st.grad, None  # the forward's gradient for gy = 1, handed out once
        if g is not None and st.reduction != "none" and gy.ndim == 0 and gy == 1:
            return g.reshape(st.x_shape)
        unit = g is not None
        if unit:
            k = xp.broadcast_to(gy.reshape(st.kept) if st.reduction == "none" else gy, st.kept)
        else:
            g, k = xp.empty_like(x), xp.broadcast_to(st.scale(gy), st.kept)

        def block(lo, hi):
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                e, kb = g[lo:hi], k[lo:hi]
                if unit:
                    e *= kb
                    return
                xb = x[lo:hi]
                xp.exp(xp.subtract(xb, xb.max(axis=1, keepdims=True), out=e), out=e)
                st.to_gradient(e, e.sum(axis=1, keepdims=True), kb, *st.targets(q, lo, hi), lo, hi)

        for_blocks(block, st.view[0], st.c * st.kept_size, xp, BLOCK)
        return g.reshape(st.x_shape)

    def backward(self, ggx):
        st = self.setup
        x, gy = self.inputs[:2]
        u = reshape(ggx, st.view)
        sm = softmax(reshape(x, st.view), axis=1)
        su = sum(sm * u, axis=1, keepdims=True)
        k = st.scale(gy)
        if st.picked is None:
            q = st.smoothed(reshape(self.inputs[2], st.view))
            mass, qu = st.class_sum_var(q), st.class_sum_var(q * u)
        else:
            mass = st.mass
            # sum_c P_c u_c = (1-eps) w[t] u[t] + (eps/C) valid sum_c w_c u_c; NLLLoss gives -w[t] u[t]
            qu = reshape(NLLLoss(st.picked, "none")(ggx), st.kept) * (-(1 - st.eps))
            if st.eps:
                qu = qu + st.class_sum_var(u) * ((st.eps / st.c) * st.valid)
        needs = self.needs_input_grad
        gx = reshape(k * mass * sm * (u - su), st.x_shape) if needs[0] else None
        h = (mass * su - qu) * st.coef  # d(gx . ggx)/d(gy), per position
        ggy = (reshape(h, st.out_shape) if st.reduction == "none" else sum(h)) if needs[1] else None
        if st.picked is None:
            gq = None
            if needs[2]:
                gq = k * (1 - st.eps) * (su - u)
                gq = reshape(st.weighted(gq), st.x_shape)
            return gx, ggy, gq
        return gx, ggy


def _smoothing(label_smoothing):
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"softmax_cross_entropy: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing!r}")
    return float(label_smoothing)


def softmax_cross_entropy(x, t, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits x (C,), (N, C) or (N, C, d1, ...) against targets t, fused and exact.

    t holds class indices (any integer dtype, x's shape without the class axis) or class
    probabilities (floats, x's shape; a Variable gets a gradient). weight (C,) rescales each class;
    ignore_index marks class-index positions that count for nothing; label_smoothing eps mixes the
    target with the uniform distribution: (1 - eps) target + eps / C. 'mean' divides by the sum of
    the targets' weights for class indices and by the number of positions for probabilities.
    This is torch's cross_entropy; the class axis is 1 (0 for (C,) input).
    """
    op = "softmax_cross_entropy"
    x = _float_input(x, op)
    reduction = check_reduction(reduction)
    eps = _smoothing(label_smoothing)
    c = class_count(x.shape, op)
    if c == 0:
        raise ValueError(f"{op}: expected at least one class, got input shape {x.shape}")
    xp = get_array_module(x.data)
    t_data = _data(t)
    shape = getattr(t_data, "shape", None)
    if shape not in (x.shape, index_target_shape(x.shape)):
        raise ValueError(f"{op}: target shape {shape} does not match input shape {x.shape}; expected "
                         f"{index_target_shape(x.shape)} for class indices or {x.shape} for class probabilities")
    if shape == x.shape:
        if t_data.dtype.kind != "f":
            raise TypeError(f"{op}: targets shaped like the input {x.shape} are class probabilities and must "
                            f"be floating point, got {t_data.dtype}; class indices have shape "
                            f"{index_target_shape(x.shape)}")
        if ignore_index >= 0:
            raise ValueError(f"{op}: ignore_index={ignore_index} is not supported for probability targets; "
                             f"expected a negative ignore_index")
        w = class_weight(weight, c, x.dtype, op)
        q = as_variable(t)
        q = astype(q, x.dtype) if q.dtype != x.dtype else q
        return SoftmaxCrossEntropy(_Setup(xp, x.shape, x.dtype, reduction, eps, w))(x, q)
    picked, w = pick(x.shape, x.dtype, t_data, weight, ignore_index, op)
    return SoftmaxCrossEntropy(_Setup(xp, x.shape, x.dtype, reduction, eps, w, picked))(x)


cross_entropy = softmax_cross_entropy
