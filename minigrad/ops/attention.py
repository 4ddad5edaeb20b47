"""Scaled dot-product attention (torch's semantics) as one Function that keeps O(L) state: rows' logsumexp."""
import math

import numpy as np

from minigrad import blas, kernels
from minigrad.backend import get_array_module
from minigrad.blocks import for_blocks, workers
from minigrad.config import Config
from minigrad.core import Variable, as_variable, wrap
from minigrad.function import Function
from minigrad.ops.activations import softmax
from minigrad.ops.elementwise import astype, where
from minigrad.ops.linear import matmul
from minigrad.ops.reductions import sum
from minigrad.ops.shaping import transpose
from minigrad.shapes import check_float, check_real

BLOCK = 1 << 21  # score elements per block of query rows: the only L x S work array, never kept
SPLIT = 1 << 15  # scores from which a NumPy batch is spread over the CPU threads (a hand-off costs ~50 us)
CAUSAL_ROWS, CAUSAL_SPLIT = 64, 4  # causal: query rows per block, at least CAUSAL_ROWS, else L / CAUSAL_SPLIT


def _swap(a):
    return a.swapaxes(-1, -2)


class ScaledDotProductAttention(Function):
    """y = P v with P = softmax(q k^T scale + mask) along the keys, for q (..., L, E), k (..., S, E), v (..., S, Ev).

    The scores are made and used one block of query rows at a time; forward keeps each row's logsumexp `lse`
    (..., L) and the output, and the backward recomputes P from them block by block (FlashAttention's scheme), so
    no L x S array outlives a block. `mask` (a boolean array, True where a key is attended, or an additive float
    array, broadcasting to (..., L, S)), `causal`, `scale` and the dropout ratio `p` with its `seed` (the dropout
    mask is drawn again from it in the backward) are set at construction."""

    def __init__(self, mask, causal, scale, p, seed):
        self.mask, self.causal, self.scale, self.p, self.seed = mask, causal, scale, p, seed

    def _scores(self, xp, q, kt, lo, hi, width, mask, fold=False):
        """The masked, scaled scores of query rows lo..hi against keys 0..width: (..., hi - lo, width), -inf where
        a key is masked, for kt = k^T (..., E, S). fold: only q kt, the CPU kernels applying scale and the causal
        mask in their pass."""
        s = xp.matmul(q[..., lo:hi, :], kt[..., :width])
        if fold:
            return s
        s *= s.dtype.type(self.scale)
        if mask is not None:
            m = mask[..., lo:hi, :] if mask.ndim >= 2 and mask.shape[-2] > 1 else mask
            if m.dtype == bool:
                s = xp.where(m, s, -np.inf).astype(s.dtype, copy=False)
            else:
                s += m
        if self.causal:  # -inf above the diagonal of rows lo..hi (where, not +: a score of +inf there is hidden)
            if getattr(self, "_above", None) is None or self._above.shape[0] < hi or self._above.shape[1] < width:
                self._above = xp.triu(xp.ones((max(hi, s.shape[-2]), kt.shape[-1]), dtype=bool), 1)
            s = xp.where(self._above[lo:hi, :width], -np.inf, s).astype(s.dtype, copy=False)
        return s

    def _blocks(self, n_l, n_s, batch):
        """(lo, hi, width) per block of query rows lo..hi and the keys 0..width they may attend, the widest
        first. Causal: rows in blocks of at least CAUSAL_ROWS, each against the keys up to its last row only, so
        that the scores above the diagonal are mostly never made."""
        rows = max(1, min(n_l, BLOCK // max(1, n_s * batch)))
        if self.causal:
            rows = min(rows, max(CAUSAL_ROWS, -(-n_l // CAUSAL_SPLIT)))
        return [(lo, min(lo + rows, n_l), min(n_s, lo + rows) if self.causal else n_s)
                for lo in reversed(range(0, n_l, rows))]

    def _kernel(self, q, n_s):
        """(kernel, fold): whether the CPU kernels make the softmax and its gradient (float32 or float64 NumPy
        arrays, keys to attend; docs/kernels.md), and whether they also apply the scale and the causal mask in
        their pass, taking the scores straight from the matmul (no mask array)."""
        kernel = n_s > 0 and kernels.fused(q)
        return kernel, kernel and self.mask is None

    def _keep(self, xp, shape, lo, width=None):
        """The dropout factors of rows lo.. (shape (..., rows, S)): 0 or 1 / (1 - p), drawn from (seed, lo) so the
        backward draws the same; those of keys 0..width."""
        draw = np.random.default_rng([self.seed, lo]).random(shape) >= self.p
        return xp.asarray(draw[..., :width].astype(np.float32) * (1 / (1 - self.p)))

    def _heads(self, q, k, v):
        """Whether the per-head CPU kernels take the whole call: no mask array, no dropout (docs/kernels.md)."""
        return self.mask is None and not self.p and kernels.fused(q) and kernels.call("heads", "heads_fit")(q, k, v)

    def forward(self, q, k, v):
        if self._heads(q, k, v):
            y, self.lse = kernels.call("heads", "heads_forward")(q, k, v, self.scale, self.causal)
            return y
        xp = get_array_module(q, k, v)
        batch = q.shape[:-2]
        y = xp.empty(batch + (q.shape[-2], v.shape[-1]), dtype=q.dtype)
        self.lse = xp.empty(batch + (q.shape[-2],), dtype=q.dtype)
        self._over_batch(xp, q, k.shape[-2], lambda i, threads: self._forward_rows(
            xp, q[i], k[i], v[i], y[i], self.lse[i], self._mask_part(q, i), threads))
        return y

    def _over_batch(self, xp, q, n_s, part):
        """part(i, threads) for index i over q's first axis: slices of it spread over the CPU threads, each on one
        BLAS thread and its kernels in one call (no pool inside the pool), where the batch is a NumPy one of
        enough scores (SPLIT) and there is no dropout (its draws span the batch); else part(slice(None), True)."""
        n = q.shape[0] if q.ndim > 2 else 1
        scores = q.size // max(1, q.shape[-1]) * n_s
        if xp is not np or n < 2 or self.p or scores < SPLIT or workers() < 2:
            part(slice(None), True)
            return
        per = -(-n // workers())
        with blas.single_thread():
            for_blocks(lambda a, b: part(slice(a, b), False), n, 1, np, per)

    def _mask_part(self, q, i):
        """The mask for the batch index i of q: sliced where it has q's first axis, else as it broadcasts."""
        m = self.mask
        return m[i] if m is not None and m.ndim == q.ndim and m.shape[0] > 1 else m

    def _forward_rows(self, xp, q, k, v, y, lse_out, mask, threads):
        n_l, n_s = q.shape[-2], k.shape[-2]
        kt = xp.ascontiguousarray(_swap(k))  # k^T made once: the products read a transposed view at half speed
        kernel, fold = self._kernel(q, n_s)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for lo, hi, width in self._blocks(n_l, n_s, math.prod(q.shape[:-2])):
                s = self._scores(xp, q, kt, lo, hi, width, mask, fold)
                keep = self._keep(xp, s.shape[:-1] + (n_s,), lo, width) if self.p else None
                if kernel:  # one pass per row on the CPU kernels (docs/kernels.md)
                    lse = xp.empty(s.shape[:-1], dtype=s.dtype)
                    kernels.call("attention", "softmax_lse")(s, lse, self.scale if fold else 1.0, lo,
                                                             self.causal and fold, threads)
                    lse_out[..., lo:hi] = lse
                    e = s
                else:
                    m = s.max(axis=-1, keepdims=True) if n_s else xp.full(s.shape[:-1] + (1,), -np.inf, s.dtype)
                    m = xp.where(xp.isfinite(m), m, 0).astype(s.dtype, copy=False)  # a fully masked row: all -inf
                    e = xp.exp(s - m)
                    total = e.sum(axis=-1, keepdims=True)
                    # a row with nothing to attend to gives zeros (torch's math path gives NaN), and an lse of
                    # +inf, so that exp(s - lse) is 0 there in the backward
                    lse_out[..., lo:hi] = xp.where(total > 0, m + xp.log(total), np.inf)[..., 0]
                    e /= xp.where(total > 0, total, 1)
                if keep is not None:
                    e *= keep.astype(e.dtype, copy=False)
                xp.matmul(e, v[..., :width, :], out=y[..., lo:hi, :])  # straight into y: no copy

    def backward(self, gy):
        q, k, v = self.inputs
        if Config.enable_backprop:
            return self._recorded(q, k, v, gy)
        xp = get_array_module(gy.data)
        q, k, v, go = q.data, k.data, v.data, gy.data
        y = self.outputs[0]().data
        if self._heads(q, k, v):
            gq, gk, gv = kernels.call("heads", "heads_backward")(q, k, v, go, y, self.lse, self.scale, self.causal)
            return wrap(gq), wrap(gk), wrap(gv)
        gq, gk, gv = xp.empty_like(q), xp.empty_like(k), xp.empty_like(v)
        self._over_batch(xp, q, k.shape[-2], lambda i, threads: self._backward_rows(
            xp, q[i], k[i], v[i], go[i], y[i], self.lse[i], self._mask_part(q, i), gq[i], gk[i], gv[i], threads))
        return wrap(gq), wrap(gk), wrap(gv)

    def _backward_rows(self, xp, q, k, v, go, y, lse, mask, gq, gk, gv, threads):
        """gq, gk and gv (given, uninitialized) for this batch: the first (widest) block's products set gk and gv,
        the keys past its width get zeros, and the other blocks add theirs."""
        n_l, n_s = q.shape[-2], k.shape[-2]
        kt, vt = xp.ascontiguousarray(_swap(k)), xp.ascontiguousarray(_swap(v))
        delta = xp.einsum("...i,...i->...", go, y)  # rowsum(dP * P) = rowsum(dO * O), dropout or not
        kernel, fold = self._kernel(q, n_s)
        first = True
        with np.errstate(invalid="ignore", over="ignore"):
            for lo, hi, width in self._blocks(n_l, n_s, math.prod(q.shape[:-2])):
                s = self._scores(xp, q, kt, lo, hi, width, mask, fold)
                g = go[..., lo:hi, :]
                dp = xp.matmul(g, vt[..., :width])
                keep = self._keep(xp, s.shape[:-1] + (n_s,), lo, width).astype(s.dtype, copy=False) \
                    if self.p else None
                if keep is not None:
                    dp *= keep
                if kernel:  # s to P and dp to dS in one pass per row on the CPU kernels
                    kernels.call("attention", "grad")(s, lse[..., lo:hi], dp, delta[..., lo:hi], self.scale,
                                                      self.scale if fold else 1.0, lo, self.causal and fold, threads)
                    p = s
                else:
                    p = xp.exp(s - lse[..., lo:hi, None])
                    dp -= delta[..., lo:hi, None]
                    dp *= p
                    dp *= dp.dtype.type(self.scale)
                xp.matmul(dp, k[..., :width, :], out=gq[..., lo:hi, :])
                pt, dpt = _swap(p if keep is None else p * keep), _swap(dp)
                if first:  # the products written straight into gv and gk
                    xp.matmul(pt, g, out=gv[..., :width, :])
                    xp.matmul(dpt, q[..., lo:hi, :], out=gk[..., :width, :])
                    gv[..., width:, :], gk[..., width:, :] = 0, 0
                    first = False
                else:
                    gv[..., :width, :] += xp.matmul(pt, g)
                    gk[..., :width, :] += xp.matmul(dpt, q[..., lo:hi, :])
        if first:  # no query rows: no gradient
            gk[...], gv[...] = 0, 0

    def _recorded(self, q, k, v, gy):
        """The same gradients from recorded Functions (create_graph): twice differentiable."""
        xp = get_array_module(q.data)
        axes = tuple(range(q.ndim - 2)) + (q.ndim - 1, q.ndim - 2)
        s = matmul(q, transpose(k, axes)) * self.scale
        valid = None
        if self.mask is not None or self.causal:
            with np.errstate(invalid="ignore"):
                scores = self._scores(xp, q.data, _swap(k.data), 0, q.shape[-2], k.shape[-2], self.mask)
                hidden = xp.isinf(scores) & (scores < 0)
            valid = ~hidden.all(axis=-1, keepdims=True)  # rows with a key to attend to
            if self.mask is not None and self.mask.dtype != bool:
                s = s + xp.broadcast_to(self.mask, hidden.shape).astype(s.dtype)
            s = where(hidden, -np.inf, s)
            s = where(xp.broadcast_to(valid, hidden.shape), s, 0.0)  # no NaN from a row of -inf
        p = softmax(s, axis=-1)
        if valid is not None:
            p = p * valid.astype(p.dtype)
        keep = self._block_keep(xp, p.shape, p.dtype) if self.p else None
        gv = matmul(transpose(p if keep is None else p * keep, axes), gy)
        dp = matmul(gy, transpose(v, axes))
        if keep is not None:
            dp = dp * keep
        ds = p * (dp - sum(dp * p, axis=-1, keepdims=True)) * self.scale
        return matmul(ds, k), matmul(transpose(ds, axes), q), gv

    def _block_keep(self, xp, shape, dtype):
        """The dropout factors of every row, drawn block by block as the forward drew them."""
        blocks = sorted(self._blocks(shape[-2], shape[-1], math.prod(shape[:-2])))
        return xp.concatenate([self._keep(xp, shape[:-2] + (hi - lo, shape[-1]), lo) for lo, hi, _ in blocks],
                              axis=-2).astype(dtype)


def scaled_dot_product_attention(q, k, v, mask=None, is_causal=False, dropout=0.0, scale=None):
    """torch's scaled_dot_product_attention: softmax(q k^T * scale + mask) v for q (..., L, E), k (..., S, E) and
    v (..., S, Ev) with the same leading axes; scale defaults to 1 / sqrt(E). mask: a boolean array (True: the key
    is attended) or a float array added to the scores, broadcasting to (..., L, S); is_causal masks the keys after
    each query (top-left aligned, as torch). A query with no key to attend to gives zeros, never NaN. dropout: the
    probability of dropping an attention weight, in training only. One Function; see docs/ops.md#attention."""
    op = "scaled_dot_product_attention"
    q, k, v = (check_float(as_variable(a, f"{op}: {n}"), op, n) for a, n in ((q, "q"), (k, "k"), (v, "v")))
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"{op}: q, k and v must be (..., L, E), (..., S, E), (..., S, Ev) of one rank, got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2] or q.shape[-1] != k.shape[-1] \
            or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: shapes q {q.shape}, k {k.shape}, v {v.shape} do not match; expected (..., L, E), "
                         f"(..., S, E) and (..., S, Ev) with the same leading axes")
    if mask is not None:
        mask = mask.data if isinstance(mask, Variable) else get_array_module(q.data).asarray(mask)
        if mask.dtype != bool and mask.dtype.kind != "f":
            raise TypeError(f"{op}: mask must be boolean (True: attend) or floating (added), got dtype {mask.dtype}")
        scores = q.shape[:-1] + (k.shape[-2],)
        try:
            fits = np.broadcast_shapes(mask.shape, scores) == scores
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{op}: mask of shape {mask.shape} does not broadcast to the scores' shape {scores}")
    if mask is not None and is_causal:
        raise ValueError(f"{op}: give mask or is_causal, not both (as torch)")
    p = check_real(dropout, op, "dropout", lambda r: 0 <= r < 1, "in [0, 1)") if Config.train else 0.0
    if scale is None and q.shape[-1] == 0:
        raise ValueError(f"{op}: q of shape {q.shape} has E = 0 features, so the default scale 1 / sqrt(E) is "
                         f"undefined; give scale")
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else check_real(scale, op, "scale")
    dtypes = {a.dtype for a in (q, k, v)}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: q, k and v must share a dtype, got {[str(d) for d in (q.dtype, k.dtype, v.dtype)]}")
    half = q.dtype == np.float16
    if half:  # computed in float32 and rounded once, as torch on the CPU
        q, k, v = (astype(a, np.float32) for a in (q, k, v))
        mask = mask if mask is None or mask.dtype == bool else mask.astype(np.float32)
    elif mask is not None and mask.dtype != bool:
        mask = mask.astype(q.dtype, copy=False)
    seed = int(np.random.randint(2 ** 31)) if p else 0
    y = ScaledDotProductAttention(mask, bool(is_causal), scale, p, seed)(q, k, v)
    return astype(y, np.float16) if half else y
