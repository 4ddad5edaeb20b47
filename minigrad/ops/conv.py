"""Convolution: im2col/col2im, conv2d and deconv2d (one BLAS matmul each) and their gradients, in DeZero's layouts."""
import numpy as np

from minigrad.backend import get_array_module, operands
from minigrad.function import Function
from minigrad.ops import reductions
from minigrad.ops.elementwise import astype
from minigrad.ops.windows import Window, check_image, conv_outsize, copy_split, deconv_outsize, pair, workspace
from minigrad.shapes import check_float, half_in_float32


def _matrix(col):
    """(N, C, KH, KW, OH, OW) -> DeZero's im2col matrix (N * OH * OW, C * KH * KW)."""
    n, c, kh, kw, oh, ow = col.shape
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw)


def _unmatrix(col, n, c, win, oh, ow):
    kh, kw = win.k
    if col.shape != (n * oh * ow, c * kh * kw):
        raise ValueError(f"col2im: a matrix of shape {col.shape} does not match {(n * oh * ow, c * kh * kw)} "
                         f"(N * OH * OW, C * KH * KW)")
    return col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)


class Im2col(Function):
    """The windows of x as columns; `win`, `to_matrix` set at construction."""

    saves_inputs = keeps_output = False

    def __init__(self, win, to_matrix):
        self.win, self.to_matrix = win, to_matrix

    def forward(self, x):
        check_image(x, "im2col")
        self.shape = x.shape
        col = self.win.views(x)
        return _matrix(col) if self.to_matrix else col.copy()

    def backward(self, gy):
        return Col2im(self.win, self.shape, self.to_matrix)(gy)


class Col2im(Function):
    """The adjoint of Im2col for an image of shape `shape` (N, C, H, W)."""

    saves_inputs = keeps_output = False

    def __init__(self, win, shape, to_matrix):
        self.win, self.shape, self.to_matrix = win, tuple(shape), to_matrix

    @half_in_float32
    def forward(self, col):
        n, c, h, w = self.shape
        oh, ow = self.win.outsize(h, w)
        if self.to_matrix:
            col = _unmatrix(col, n, c, self.win, oh, ow)
        elif col.shape != (n, c) + self.win.k + (oh, ow):
            raise ValueError(f"col2im: columns of shape {col.shape} do not match {(n, c) + self.win.k + (oh, ow)} "
                             f"(N, C, KH, KW, OH, OW) for an image of shape {self.shape}")
        return self.win.scatter(col, self.shape)

    def backward(self, gy):
        return Im2col(self.win, self.to_matrix)(gy)


def _channels_first(x):
    """(N, C, ...) -> a (C, N * ...) matrix, copied by the CPU threads."""
    xp = get_array_module(x)
    out = xp.empty((x.shape[1], x.shape[0]) + x.shape[2:], dtype=x.dtype)
    return copy_split(out.swapaxes(0, 1), x, 0).base.reshape(x.shape[1], -1)


def _conv(x, W, win):
    """The raw convolution: the im2col buffer and one BLAS matmul, (OC, K) @ (K, N * OH * OW)."""
    xp = get_array_module(x, W)
    n, oc = x.shape[0], W.shape[0]
    oh, ow = win.outsize(*x.shape[2:])
    y = (W.reshape(oc, -1) @ win.columns(x)).reshape(oc, n, oh, ow)
    return copy_split(xp.empty((n, oc, oh, ow), dtype=y.dtype), y.swapaxes(0, 1), 0)


def _deconv(x, W, win, outsize):
    """The raw transposed convolution: with stride 1 a convolution with the kernel flipped; otherwise one matmul
    to columns, then the columns summed into the image."""
    n, c, h, w = x.shape
    oc, (kh, kw), (ph, pw) = W.shape[1], win.k, win.p
    if win.s == (1, 1) and ph < kh and pw < kw:
        flipped = W[:, :, ::-1, ::-1].swapaxes(0, 1)
        return _conv(x, flipped, Window(win.k, 1, (kh - 1 - ph, kw - 1 - pw), win.op))
    xp = get_array_module(x, W)
    col = workspace(xp, (oc * kh * kw, n * h * w), x.dtype)
    xp.matmul(W.reshape(c, -1).T, _channels_first(x), out=col)
    return win.scatter(col.reshape(oc, kh, kw, n, h, w).transpose(3, 0, 1, 2, 4, 5), (n, oc) + outsize)


class _Convolution(Function):
    """What Conv2d and Deconv2d share: the checks, the bias, and the gradients' pattern. Forward sets `win`
    (stride and pad from the construction, the kernel from W)."""

    keeps_output = False

    def __init__(self, win, outsize=None):
        self.win, self.outsize = win, outsize

    @half_in_float32
    def forward(self, x, W, b=None):
        check_image(x, self.op)
        if W.ndim != 4:
            raise ValueError(f"{self.op}: W must be 4-D, got shape {W.shape}")
        for name, a in (("x", x), ("W", W), ("b", b)):
            if a is not None:
                check_float(a, self.op, name)
        hint = ("; x looks channels-last (N, H, W, C): minigrad takes (N, C, H, W), x.transpose(0, 3, 1, 2)"
                if x.shape[3] == W.shape[self.in_axis] or x.shape[3] <= 4 < x.shape[1] else "")
        if x.shape[1] != W.shape[self.in_axis]:
            raise ValueError(f"{self.op}: x of shape {x.shape} has {x.shape[1]} channels but W of shape {W.shape} "
                             f"{self.layout} expects {W.shape[self.in_axis]}{hint}")
        oc = W.shape[1 - self.in_axis]
        if b is not None and b.shape != (oc,):
            raise ValueError(f"{self.op}: b of shape {b.shape} does not match the {oc} output channels; "
                             f"expected ({oc},)")
        self.win = self.win.with_kernel(W, self.op)
        self.check_fits(x, hint)
        operands(x, W, b)
        # One dtype rule for every path: the result's is that of x, W and b together (float32 with float64 is
        # float64), and the work runs in it.
        dtype = np.result_type(x.dtype, W.dtype) if b is None else np.result_type(x.dtype, W.dtype, b.dtype)
        y = self.compute(x.astype(dtype, copy=False), W.astype(dtype, copy=False))
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        needs = self.needs_input_grad
        gx = _as(self.input_grad(gy, W, x.shape[2:]), x) if needs[0] else None
        gW = _as(self.weight_grad(x, gy), W) if needs[1] else None
        gb = _as(reductions.sum(gy, axis=(0, 2, 3)), self.inputs[2]) if len(needs) == 3 and needs[2] else None
        return gx, gW, gb


def _as(g, x):
    """The gradient g in its input x's dtype (cast, recorded, when the result's dtype was wider)."""
    return g if g.dtype == x.dtype else astype(g, x.dtype)


class Conv2d(_Convolution):
    """y = conv2d(x, W) + b for x (N, C, H, W), W (OC, C, KH, KW), b (OC,)."""

    op, in_axis, layout = "conv2d", 1, "(OC, C, KH, KW)"

    def check_fits(self, x, hint):
        try:
            self.win.outsize(*x.shape[2:])
        except ValueError as e:
            raise ValueError(f"{e}{hint}") from None

    def compute(self, x, W):
        return _conv(x, W, self.win)

    def input_grad(self, gy, W, size):
        return deconv2d(gy, W, None, self.win.s, self.win.p, size)

    def weight_grad(self, x, gy):
        return Conv2dGradW(self.win)(x, gy)


class Deconv2d(_Convolution):
    """y = the transposed convolution of x (N, C, H, W) with W (C, OC, KH, KW), plus b (OC,), of spatial size
    `outsize` (forward sets it when None)."""

    op, in_axis, layout = "deconv2d", 0, "(C, OC, KH, KW)"

    def check_fits(self, x, hint):  # every input size fits; compute checks pad and outsize
        pass

    def compute(self, x, W):
        (kh, kw), (sh, sw), (ph, pw) = self.win.k, self.win.s, self.win.p
        h, w = x.shape[2:]
        least = deconv_outsize(h, kh, sh, ph), deconv_outsize(w, kw, sw, pw)
        if min(least) < 1:
            raise ValueError(f"{self.op}: pad {(ph, pw)} is too large for an input of spatial size {(h, w)} with "
                             f"kernel {(kh, kw)} and stride {(sh, sw)}: the output would be {least}; expected "
                             f"2 pad <= stride (H - 1) + KH - 1")
        oh, ow = self.outsize = pair(least if self.outsize is None else self.outsize, "outsize", self.op, 1)
        if (conv_outsize(oh, kh, sh, ph), conv_outsize(ow, kw, sw, pw)) != (h, w):
            raise ValueError(f"{self.op}: outsize {self.outsize} does not fit an input of spatial size {(h, w)} "
                             f"with kernel {(kh, kw)}, stride {(sh, sw)} and pad {(ph, pw)}; expected height in "
                             f"[{least[0]}, {least[0] + sh - 1}] and width in [{least[1]}, {least[1] + sw - 1}]")
        return _deconv(x, W, self.win, self.outsize)

    def input_grad(self, gy, W, size):
        return conv2d(gy, W, None, self.win.s, self.win.p)

    def weight_grad(self, x, gy):
        return Conv2dGradW(self.win)(gy, x)


class Conv2dGradW(Function):
    """The gradient of conv2d(x, W) with respect to W (OC, C, KH, KW) for upstream gradient gy (N, OC, OH, OW)."""

    keeps_output = False

    def __init__(self, win):
        self.win = win

    @half_in_float32
    def forward(self, x, gy):
        oc = gy.shape[1]
        gW = _channels_first(gy) @ self.win.columns(x).T
        return gW.reshape((oc, x.shape[1]) + self.win.k)

    def backward(self, ggW):
        x, gy = self.inputs
        needs = self.needs_input_grad
        gx = deconv2d(gy, ggW, None, self.win.s, self.win.p, x.shape[2:]) if needs[0] else None
        ggy = conv2d(x, ggW, None, self.win.s, self.win.p) if needs[1] else None
        return gx, ggy


def conv2d(x, W, b=None, stride=1, pad=0):
    """2-D convolution (cross-correlation, as torch's conv2d) of x (N, C, H, W) with W (OC, C, KH, KW), plus
    b (OC,): (N, OC, OH, OW) with OH = (H + 2 pad - KH) // stride + 1. stride and pad: an int or a pair."""
    win = Window(1, stride, pad, "conv2d")
    return Conv2d(win)(x, W) if b is None else Conv2d(win)(x, W, b)


def deconv2d(x, W, b=None, stride=1, pad=0, outsize=None):
    """Transposed convolution (torch's conv_transpose2d) of x (N, C, H, W) with W (C, OC, KH, KW), plus b (OC,):
    the gradient of conv2d with respect to its input. outsize (OH, OW) picks among the sizes whose convolution
    has x's size; by default the smallest, stride * (H - 1) + KH - 2 pad."""
    win = Window(1, stride, pad, "deconv2d")
    return Deconv2d(win, outsize)(x, W) if b is None else Deconv2d(win, outsize)(x, W, b)


def im2col(x, kernel_size, stride=1, pad=0, to_matrix=True):
    """The windows of x (N, C, H, W): (N * OH * OW, C * KH * KW) when to_matrix, else (N, C, KH, KW, OH, OW)."""
    return Im2col(Window(kernel_size, stride, pad, "im2col"), to_matrix)(x)


def col2im(col, input_shape, kernel_size, stride=1, pad=0, to_matrix=True):
    """The adjoint of im2col: windows summed back into an image of input_shape (N, C, H, W)."""
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(f"col2im: input_shape must be (N, C, H, W), got {input_shape!r}")
    return Col2im(Window(kernel_size, stride, pad, "col2im"), shape, to_matrix)(col)
