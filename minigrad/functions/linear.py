"""The affine map y = x @ W + b as one Function (W has shape (in_size, out_size))."""
from minigrad.backend import get_array_module
from minigrad.core import Function, matmul, reshape, sum_to, transpose


class Linear(Function):
    def forward(self, x, W, b=None):
        if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[0]:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {W.shape}; "
                             f"expected x (..., in_size) and W (in_size, out_size)")
        if b is not None and b.shape != (W.shape[1],):
            raise ValueError(f"linear: bias of shape {b.shape} does not match weight of shape {W.shape}; "
                             f"expected ({W.shape[1]},)")
        y = get_array_module(x).matmul(x, W)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        needs = self.needs_input_grad
        gx = matmul(gy, transpose(W)) if needs[0] else None
        gW = gb = None
        if needs[1]:
            x2 = reshape(x, (-1, x.shape[-1]))
            gW = matmul(transpose(x2), reshape(gy, (-1, gy.shape[-1])))
        if len(self.inputs) == 3 and needs[2]:
            gb = sum_to(gy, self.inputs[2].shape)
        return gx, gW, gb


def linear(x, W, b=None):
    """x @ W + b for x of shape (..., in_size), W (in_size, out_size) and b (out_size,) or None."""
    return Linear()(x, W) if b is None else Linear()(x, W, b)
