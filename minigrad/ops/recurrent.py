"""The LSTM cell as one Function: gates' pre-activations and the previous cell in, the new hidden state and cell out."""
import numpy as np

from minigrad import kernels, numerics
from minigrad.backend import get_array_module
from minigrad.config import Config
from minigrad.core import as_variable, wrap
from minigrad.function import Function
from minigrad.ops.activations import sigmoid
from minigrad.ops.elementwise import tanh
from minigrad.ops.shaping import GetItemGrad
from minigrad.shapes import check_float


def _gates(z, hidden, xp_sigmoid, xp_tanh):
    """f, i, o, u of the pre-activations z (N, 4H)."""
    return [xp_sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in range(3)] + [xp_tanh(z[:, 3 * hidden:])]


class LSTMCell(Function):
    """c = f c_prev + i u and h = o tanh(c), with f, i, o = sigmoid and u = tanh of the column blocks of z (N, 4H);
    outputs (h, c). Inputs (z,) for the first step (no c_prev) or (z, c_prev). float32 runs on the CPU kernels."""

    def forward(self, z, cp=None):
        hidden = z.shape[1] // 4
        if kernels.fused_float32(z) and (cp is None or cp.dtype == z.dtype):
            return kernels.call("activations", "lstm")(z, cp)
        xp = get_array_module(z)
        work = z.astype(np.float32) if z.dtype == np.float16 else z  # float16 in float32
        f, i, o, u = _gates(work, hidden, numerics.sigmoid, xp.tanh)
        c = i * u if cp is None else f * cp + i * u
        return (o * xp.tanh(c)).astype(z.dtype, copy=False), c.astype(z.dtype, copy=False)

    def backward(self, gh, gc):
        z = self.inputs[0]
        cp = self.inputs[1] if len(self.inputs) == 2 else None
        c = self.outputs[1]()
        if not Config.enable_backprop and c is not None:  # a plain backward, on the arrays
            arrays = [None if v is None else v._data for v in (z, cp, c, gh, gc)]
            if kernels.fused_float32(z._data) and all(a is None or a.dtype == z.dtype for a in arrays):
                gz, gcp = kernels.call("activations", "lstm_grad")(*arrays)
            else:
                gz, gcp = _plain_grad(*arrays)
            return (wrap(gz),) if cp is None else (wrap(gz), wrap(gcp))
        hidden = z.shape[1] // 4
        f, i, o, u = _gates(z, hidden, sigmoid, tanh)
        c = i * u if cp is None else f * cp + i * u
        tc = tanh(c)
        g = 0 if gc is None else gc
        if gh is not None:
            g = g + gh * o * (1 - tc * tc)
        zero = z[:, :hidden] * 0
        go = zero if gh is None else gh * tc * o * (1 - o)
        gf = zero if cp is None else g * cp * f * (1 - f)
        gz = _concat_columns([gf, g * u * i * (1 - i), go, g * i * (1 - u * u)], z.shape)
        return (gz,) if cp is None else (gz, g * f)


def _plain_grad(z, cp, c, gh, gc):
    """gz and gcp (None without cp) from arrays, float16 in float32 (gh, gc may be None)."""
    xp = get_array_module(z)
    dtype = z.dtype
    up = (lambda a: a.astype(np.float32)) if dtype == np.float16 else (lambda a: a)
    z, c = up(z), up(c)
    hidden = z.shape[1] // 4
    (f, f_), (i, i_), (o, o_) = [(numerics.sigmoid(z[:, k * hidden:(k + 1) * hidden]),
                                  numerics.sigmoid(z[:, k * hidden:(k + 1) * hidden], negate=True)) for k in range(3)]
    u, tc = xp.tanh(z[:, 3 * hidden:]), xp.tanh(c)
    g = xp.zeros_like(c) if gc is None else up(gc)
    if gh is not None:
        g = g + up(gh) * o * (1 - tc * tc)
    gz = xp.empty_like(z)
    gz[:, :hidden] = 0 if cp is None else g * up(cp) * f * f_
    gz[:, hidden:2 * hidden] = g * u * i * i_
    gz[:, 2 * hidden:3 * hidden] = 0 if gh is None else up(gh) * tc * o * o_
    gz[:, 3 * hidden:] = g * i * (1 - u * u)
    return gz.astype(dtype, copy=False), None if cp is None else (g * f).astype(dtype, copy=False)


def _concat_columns(blocks, shape):
    """The (N, 4H) Variable whose column blocks are `blocks` (each (N, H)), differentiably: each scattered into
    zeros of the shape (get_item's backward) and summed."""
    hidden = shape[1] // 4
    total = None
    for k, b in enumerate(blocks):
        part = GetItemGrad((slice(None), slice(k * hidden, (k + 1) * hidden)), shape)(b)
        total = part if total is None else total + part
    return total


def lstm_cell(z, c_prev=None):
    """(h, c) of an LSTM cell from its gates' pre-activations z (N, 4H), columns f, i, o, u, and the previous cell
    c_prev (N, H) or None (the first step): c = f c_prev + i u, h = o tanh(c)."""
    z = check_float(as_variable(z, "lstm_cell: z"), "lstm_cell")
    if z.ndim != 2 or z.shape[1] % 4:
        raise ValueError(f"lstm_cell: z must have shape (N, 4H), got {z.shape}")
    if c_prev is None:
        return LSTMCell()(z)
    c_prev = as_variable(c_prev, "lstm_cell: c_prev")
    if c_prev.shape != (z.shape[0], z.shape[1] // 4):
        raise ValueError(f"lstm_cell: c_prev must have shape {(z.shape[0], z.shape[1] // 4)}, got {c_prev.shape}")
    return LSTMCell()(z, c_prev)
