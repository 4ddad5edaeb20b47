"""linear_cross_entropy: softmax_cross_entropy(linear(x, W, b), t) over blocks of rows, never the whole logits."""
import numbers

import numpy as np

from minigrad import blas, kernels
from minigrad.backend import get_array_module, operands
from minigrad.blocks import for_blocks
from minigrad.config import Config
from minigrad.core import Variable, as_variable
from minigrad.function import Function
from minigrad.losses.ce import BLOCK, CrossEntropyCall, SoftmaxCrossEntropyGrad, check_smoothing
from minigrad.losses.reduction import check_reduction
from minigrad.losses.targets import class_index_targets
from minigrad.ops.elementwise import astype
from minigrad.ops.linear import linear, matmul
from minigrad.ops.reductions import sum
from minigrad.ops.shaping import transpose
from minigrad.shapes import check_float

OP = "linear_cross_entropy"


class LinearCrossEntropy(Function):
    """softmax_cross_entropy(x @ W + b, t) for x (N, D), W (D, V), b (V,), one block of `rows` rows at a time.

    Each block's logits (rows x V, the only large array) are computed by one matmul, turned into loss terms and,
    while recording a reduced loss, into the block's logit gradient for gy = 1, whose products with W and x are
    added to the gradients of x, W and b at once: no logits are recomputed. Keeps `grads` (those gradients, for
    gy = 1) for the backward, once. A loss with reduction 'none' gets per-row gy: its backward goes over the
    blocks again. `call` (the CrossEntropyCall), `rows` and `wanted` (which of x, W, b take a gradient) are set
    at construction.
    """

    keeps_output = False
    grads = None

    def __init__(self, call, rows, wanted):
        self.call, self.rows, self.wanted = call, rows, wanted

    def forward(self, x, W, b=None):
        operands(x, W, b)
        cl = self.call
        eager = Config.enable_backprop and any(self.wanted) and not cl.reduction.keeps_positions
        loss, grads = self.blocks(x, W, b, cl.reduction.coef if eager else None, self.wanted)
        self.grads = grads if eager else None
        return cl.reduction.reduce(loss)

    def blocks(self, x, W, b, coef, needs=(True, True, True)):
        """The loss terms (N, 1) and, given coef (the gradient scale per row, or one for all), the gradients of
        x, W and b that `needs` asks for (else None)."""
        xp = get_array_module(x, W)
        cl = self.call
        n, v = len(x), W.shape[1]
        needs = tuple(needs) + (False,) * (3 - len(needs))
        loss = xp.empty((n, 1), dtype=x.dtype)
        grads = coef is not None
        gx = xp.empty_like(x) if grads and needs[0] else None
        gW = xp.zeros_like(W) if grads and needs[1] else None
        gb = xp.zeros_like(b) if grads and b is not None and needs[2] else None
        coef = None if coef is None else xp.broadcast_to(coef, (n, 1))
        z = xp.empty((min(self.rows, n), v), dtype=x.dtype)
        compiled = kernels.fused(z)  # the rows on the CPU kernels (docs/kernels.md)
        for lo in range(0, n, self.rows):
            hi = min(lo + self.rows, n)
            zb, xb = z[:hi - lo], x[lo:hi]
            xp.matmul(xb, W, out=zb)
            if b is not None:
                zb += b

            def rows(a, c, lo=lo, zb=zb):  # rows lo + a to lo + c, cache-sized, on the CPU threads
                k = None if coef is None else coef[lo + a:lo + c]
                if compiled:
                    return kernels.call("ce", "index_block")(cl, zb[a:c], lo + a, lo + c, k, loss[lo + a:lo + c])
                with np.errstate(invalid="ignore", divide="ignore"):  # -inf or +inf logits give NaN, as torch
                    loss[lo + a:lo + c] = cl.rows(zb[a:c], zb[a:c], lo + a, lo + c, None, k)
            for_blocks(rows, hi - lo, v, xp, BLOCK)
            if gx is not None:
                xp.matmul(zb, W.T, out=gx[lo:hi])
            if gW is not None:
                blas.add_product(xb.T, zb, gW)  # one GEMM adding into gW (no temporary, no extra pass)
            if gb is not None:
                gb += zb.sum(axis=0)
        return loss, (gx, gW, gb)

    def backward(self, gy):
        x, W = self.inputs[:2]
        b = self.inputs[2] if len(self.inputs) == 3 else None
        needs = self.needs_input_grad
        cl = self.call
        if Config.enable_backprop:  # create_graph: the composite's gradient, recorded (logits-sized)
            gz = SoftmaxCrossEntropyGrad(cl)(linear(x, W, b), gy)
            return (matmul(gz, transpose(W)) if needs[0] else None,
                    matmul(transpose(x), gz) if needs[1] else None,
                    sum(gz, axis=0) if b is not None and needs[2] else None)
        grads, self.grads = self.grads, None  # handed out once: they may become the .grad arrays
        if grads is None:  # 'none': gy per row
            k = cl.reduction.scale(gy.data.reshape(-1, 1))
            _, grads = self.blocks(x.data, W.data, None if b is None else b.data, k, needs)
        elif not cl.reduction.is_unit(gy.data):
            for g in grads:
                if g is not None:
                    g *= gy.data
        return tuple(None if g is None else Variable(g) for g in grads)


def _rows(n, v, chunk_size):
    """Rows per block: chunk_size, or enough rows for a block of about 1/16 of the logits (at least 2^18
    elements, so that small problems take one block)."""
    if chunk_size is None:
        return max(1, min(n, max(-(-n // 16), (1 << 18) // max(v, 1))))
    if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"{OP}: chunk_size must be a positive int (rows per block), got {chunk_size!r}")
    return int(chunk_size)


def linear_cross_entropy(x, W, t, b=None, *, weight=None, ignore_index=-100, reduction="mean",
                         label_smoothing=0.0, chunk_size=None):
    """softmax_cross_entropy(linear(x, W, b), t, ...) for x (N, D), W (D, V) in linear's layout, b (V,) or None and
    class indices t (N,), without the N x V logits: blocks of chunk_size rows (by default about 1/16 of the
    logits each). Gradients to x, W and b; weight, ignore_index, reduction and label_smoothing as
    softmax_cross_entropy's. torch's linear_cross_entropy takes the weight as (V, D). float16 is computed in
    float32."""
    x = check_float(as_variable(x, f"{OP}: x"), OP)
    W = check_float(as_variable(W, f"{OP}: W"), OP, "W")
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ValueError(f"{OP}: x of shape {x.shape} and W of shape {W.shape} do not match; expected x (N, D) and "
                         f"W (D, V)")
    if b is not None:
        b = check_float(as_variable(b, f"{OP}: b"), OP, "b")
        if b.shape != (W.shape[1],):
            raise ValueError(f"{OP}: b of shape {b.shape} does not match W of shape {W.shape}; expected "
                             f"({W.shape[1]},)")
    dtype = np.result_type(*(v.dtype for v in (x, W, b) if v is not None))  # as linear: promote (gradients cast back)
    x, W, b = (a if a is None or a.dtype == dtype else astype(a, dtype) for a in (x, W, b))
    mode, eps = check_reduction(reduction), check_smoothing(label_smoothing, OP)
    n, v = x.shape[0], W.shape[1]
    if v == 0:
        raise ValueError(f"{OP}: expected at least one class, got W of shape {W.shape}")
    t_shape = t.shape if hasattr(t, "shape") else np.shape(t)
    if tuple(t_shape) != (n,):
        raise ValueError(f"{OP}: target of shape {tuple(t_shape)} does not match x of shape {x.shape}; expected "
                         f"class indices of shape ({n},)")
    rows = _rows(n, v, chunk_size)
    if x.dtype == np.float16:  # as torch: half inputs computed in float32, the loss returned in half
        x, W, b = (None if a is None else astype(a, np.float32) for a in (x, W, b))
        y = linear_cross_entropy(x, W, t, b, weight=weight, ignore_index=ignore_index, reduction=reduction,
                                 label_smoothing=label_smoothing, chunk_size=rows)
        return astype(y, np.float16)
    xp = get_array_module(x, W)
    logits = xp.broadcast_to(xp.zeros((), dtype=x.dtype), (n, v))  # the logits' shape, dtype and backend only
    lay, targets, w = class_index_targets(logits, t, weight, ignore_index, OP)
    call = CrossEntropyCall(lay, targets.reduction(mode, lay), eps, w, targets)
    inputs = (x, W) if b is None else (x, W, b)
    return LinearCrossEntropy(call, rows, tuple(v.requires_grad for v in inputs))(*inputs)
