"""Matrix products: MatMul with numpy's matmul rules, and the affine map y = x @ W + b as one Function."""
import numpy as np

from minigrad import kernels
from minigrad.backend import get_array_module
from minigrad.config import Config
from minigrad.core import wrap
from minigrad.function import Function
from minigrad.ops.elementwise import astype
from minigrad.ops.shaping import reshape, sum_to, sum_to_array, transpose
from minigrad.shapes import broadcast_shapes, half_in_float32


class MatMul(Function):
    keeps_output = False

    @half_in_float32
    def forward(self, x, W):
        k0 = x.shape[-1] if x.ndim else None
        k1 = W.shape[-2] if W.ndim >= 2 else (W.shape[0] if W.ndim else None)
        if k0 is None or k1 is None or k0 != k1:
            raise ValueError(f"matmul: shapes {x.shape} and {W.shape} are not aligned "
                             f"(the last axis of the first must match the "
                             f"{'first' if W.ndim < 2 else 'second-to-last'} axis of the second)")
        if x.ndim > 2 or W.ndim > 2:
            broadcast_shapes("matmul (batch axes)", x.shape[:-2], W.shape[:-2])
        if x.ndim == 2 and W.ndim == 2:
            return product(x, W)
        return get_array_module(x, W).matmul(x, W)

    def backward(self, gy):
        x, W = self.inputs
        # Treat 1-D operands as matrices (1, k) and (k, 1), as matmul itself does.
        x2 = reshape(x, (1, x.shape[0])) if x.ndim == 1 else x
        W2 = reshape(W, (W.shape[0], 1)) if W.ndim == 1 else W
        gy_shape = broadcast_shapes("matmul", x2.shape[:-2], W2.shape[:-2]) + (x2.shape[-2], W2.shape[-1])
        gy = reshape(gy, gy_shape)
        half = gy.dtype == np.float16  # products summed over the batch axes: in float32, rounded once at the end
        if half:
            gy, x2, W2 = astype(gy, np.float32), astype(x2, np.float32), astype(W2, np.float32)
        gx = gW = None
        if self.needs_input_grad[0]:
            gx = reshape(sum_to(matmul(gy, _swap_last(W2)), x2.shape), x.shape)
            gx = astype(gx, x.dtype) if half else gx
        if self.needs_input_grad[1]:
            gW = reshape(sum_to(matmul(_swap_last(x2), gy), W2.shape), W.shape)
            gW = astype(gW, W.dtype) if half else gW
        return gx, gW


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, axes)


class Linear(Function):
    keeps_output = False

    @half_in_float32
    def forward(self, x, W, b=None):
        if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[0]:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {W.shape}; "
                             f"expected x (..., in_size) and W (in_size, out_size)")
        if b is not None and b.shape != (W.shape[1],):
            raise ValueError(f"linear: bias of shape {b.shape} does not match weight of shape {W.shape}; "
                             f"expected ({W.shape[1]},)")
        if x.ndim > 2:  # one matrix product over every row: numpy's matmul would loop over the leading axes
            y = get_array_module(x, W, b).matmul(x.reshape(-1, x.shape[-1]), W).reshape(x.shape[:-1] + W.shape[1:])
        else:
            y = get_array_module(x, W, b).matmul(x, W)
        if (b is not None and y.size >= kernels.LIGHT and kernels.fused(y) and b.dtype == y.dtype
                and y.flags.c_contiguous):  # on the CPU threads
            kernels.call("rows", "add_bias")(y.reshape(-1, y.shape[-1]), b)
        elif b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        needs = self.needs_input_grad
        if not Config.enable_backprop:  # a plain backward: the same products on the arrays, no Functions
            g, w, xd = gy._data, W._data, x._data
            g2, x2 = g.reshape(-1, g.shape[-1]), xd.reshape(-1, xd.shape[-1])
            gx, gW = _products(g2, w, x2) if needs[0] and needs[1] else (None, None)
            if gx is None:
                gx = product(g2, w.T) if needs[0] else None
                gW = x2.T @ g2 if needs[1] else None
            gx, gW = None if gx is None else wrap(gx.reshape(xd.shape)), None if gW is None else wrap(gW)
            has_b = len(self.inputs) == 3 and needs[2]  # the bias gradient: gy summed over its leading axes
            gb = (sum_to_array(g, g.shape[-1:]) if g.ndim > 1 else g.copy()) if has_b else None
            return gx, gW, None if gb is None else wrap(gb)
        gx = matmul(gy, transpose(W)) if needs[0] else None
        gW = gb = None
        if needs[1]:
            x2 = reshape(x, (-1, x.shape[-1]))
            gW = matmul(transpose(x2), reshape(gy, (-1, gy.shape[-1])))
        if len(self.inputs) == 3 and needs[2]:
            gb = sum_to(gy, self.inputs[2].shape)
        return gx, gW, gb


SIDE_BY_SIDE = 1 << 21  # multiply-adds per product from which a Linear's two backward products run at once
FEW_ROWS = 128  # up to this many rows they do not: product's route for g @ W.T is faster (an LSTM step: 1.36 ms
# against 1.57 side by side, batch 32, hidden 256; an MLP step at batch 100: 7.2 against 7.4 ms)


def _products(g, W, x):
    """(gx, gW) = (g @ W.T, x.T @ g), both at once, one per thread (kernels/gemm.py), where the kernels take these
    arrays, g has more than FEW_ROWS rows and each product SIDE_BY_SIDE multiply-adds; else (None, None)."""
    if not (len(g) > FEW_ROWS and g.size * W.shape[0] >= SIDE_BY_SIDE and kernels.fused(g)
            and g.dtype == W.dtype == x.dtype):
        return None, None
    gx, gW = np.empty(x.shape, g.dtype), np.empty(W.shape, g.dtype)
    done = kernels.call("gemm", "side_by_side")([(g, W.T, gx), (x.T, g, gW)])
    return (gx, gW) if done else (None, None)


def product(x, W):
    """x @ W for 2-d arrays. Where W is a transposed view (F-ordered) and x has a few rows, OpenBLAS is about 1.5x
    faster at the same product taken as (W.T @ x.T).T (measured at 32-128 rows of x against (1024, 256-784) W;
    equal from 256 rows, slower at 2048)."""
    if len(x) <= 128 and type(W) is np.ndarray and W.flags.f_contiguous and not W.flags.c_contiguous:
        return (W.T @ x.T).T
    return x @ W


def matmul(x, W):
    """Matrix product with numpy's matmul rules (1-D operands, broadcast batch axes)."""
    return MatMul()(x, W)


def linear(x, W, b=None):
    """x @ W + b for x of shape (..., in_size), W (in_size, out_size) and b (out_size,) or None."""
    return Linear()(x, W) if b is None else Linear()(x, W, b)
