"""Convolution: im2col/col2im on strided views, conv2d and deconv2d as one BLAS matmul each, in DeZero's layouts."""
import numbers

from minigrad.backend import get_array_module, operands
from minigrad.blocks import for_blocks
from minigrad.core import Function
from minigrad.ops import reductions


def pair(v, what, op, least):
    """v (an int or a pair of ints) as a pair of ints >= least; TypeError/ValueError naming op and what."""
    vs = (v, v) if isinstance(v, numbers.Integral) else v
    if (not isinstance(vs, (tuple, list)) or len(vs) != 2
            or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vs)):
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {v!r}")
    if min(vs) < least:
        raise ValueError(f"{op}: {what} must be at least {least}, got {v!r}")
    return int(vs[0]), int(vs[1])


BLOCK = 1 << 18  # elements per threaded block of a copy


def copy_split(dst, src, axis):
    """dst[...] = src[...], cut along axis into blocks shared by the CPU threads (NumPy copies release the GIL)."""
    xp = get_array_module(dst)
    lead = (slice(None),) * axis

    def copy(lo, hi):
        dst[lead + (slice(lo, hi),)] = src[lead + (slice(lo, hi),)]
    for_blocks(copy, dst.shape[axis], dst.size // max(dst.shape[axis], 1), xp, BLOCK)
    return dst


def conv_outsize(size, k, s, p):
    """Output length of a convolution or pooling window k with stride s and padding p over size (as torch)."""
    return (size + 2 * p - k) // s + 1


def deconv_outsize(size, k, s, p):
    """Output length of a transposed convolution: the input length whose convolution has length size."""
    return s * (size - 1) + k - 2 * p


def check_image(x, op, what="x"):
    if x.ndim != 4:
        raise ValueError(f"{op}: {what} must be 4-D (N, C, H, W), got shape {x.shape}")


class Window:
    """A kernel (kh, kw) moved with stride (sh, sw) over an input padded by (ph, pw) on each side."""

    def __init__(self, kernel_size, stride, pad, op):
        self.k = pair(kernel_size, "kernel_size", op, 1)
        self.s = pair(stride, "stride", op, 1)
        self.p = pair(pad, "pad", op, 0)
        self.op = op

    def with_kernel(self, W, op):
        """This window's stride and pad with W's kernel (W (., ., KH, KW))."""
        return Window(W.shape[2:], self.s, self.p, op)

    def outsize(self, h, w):
        """(OH, OW) for an (h, w) image, ValueError when the kernel does not fit the padded image."""
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.p
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ValueError(f"{self.op}: kernel {self.k} is larger than the input's {(h, w)} padded by {self.p}")
        return conv_outsize(h, kh, sh, ph), conv_outsize(w, kw, sw, pw)

    def views(self, x, fill=0):
        """Every window of x (N, C, H, W), padded with fill, as a strided view (N, C, KH, KW, OH, OW): no copy
        beyond the padding."""
        xp = get_array_module(x)
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.p
        oh, ow = self.outsize(*x.shape[2:])
        if ph or pw:
            n, c, h, w = x.shape
            padded = xp.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
            copy_split(padded[:, :, ph:ph + h, pw:pw + w], x, 0)
            x = padded
        s0, s1, s2, s3 = x.strides
        return xp.lib.stride_tricks.as_strided(x, x.shape[:2] + (kh, kw, oh, ow), (s0, s1, s2, s3, s2 * sh, s3 * sw))

    def scatter(self, col, shape):
        """The adjoint of views: sum each window column of col (N, C, KH, KW, OH, OW) back into an image of
        shape (N, C, H, W), overlaps added, padding dropped. One strided add per kernel offset."""
        xp = get_array_module(col)
        n, c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.p
        oh, ow = col.shape[4:]
        img = xp.zeros((n, c, h + 2 * ph + sh - 1, w + 2 * pw + sw - 1), dtype=col.dtype)

        def add(lo, hi):
            for j in range(kh):
                for i in range(kw):
                    img[lo:hi, :, j:j + sh * oh:sh, i:i + sw * ow:sw] += col[lo:hi, :, j, i]
        for_blocks(add, n, img[0].size * kh * kw, xp, BLOCK)
        return img[:, :, ph:ph + h, pw:pw + w]

    def columns(self, x):
        """The im2col buffer: x's windows copied to a (C * KH * KW, N * OH * OW) matrix, by the CPU threads."""
        v = self.views(x)
        n, c, kh, kw, oh, ow = v.shape
        col = get_array_module(x).empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
        copy_split(col.transpose(3, 0, 1, 2, 4, 5), v, 0)
        return col.reshape(c * kh * kw, n * oh * ow)


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


def _check_weight(x, W, op, in_axis):
    if W.ndim != 4:
        raise ValueError(f"{op}: W must be 4-D, got shape {W.shape}")
    if x.shape[1] != W.shape[in_axis]:
        layout = "(OC, C, KH, KW)" if in_axis == 1 else "(C, OC, KH, KW)"
        raise ValueError(f"{op}: x of shape {x.shape} has {x.shape[1]} channels but W of shape {W.shape} "
                         f"{layout} expects {W.shape[in_axis]}")


def _check_bias(b, oc, op):
    if b is not None and b.shape != (oc,):
        raise ValueError(f"{op}: b of shape {b.shape} does not match the {oc} output channels; expected ({oc},)")


def _channels_first(x):
    """(N, C, ...) -> a (C, N * ...) matrix, copied by the CPU threads."""
    xp = get_array_module(x)
    out = xp.empty((x.shape[1], x.shape[0]) + x.shape[2:], dtype=x.dtype)
    return copy_split(out.swapaxes(0, 1), x, 0).base.reshape(x.shape[1], -1)


def _conv(x, W, win):
    """The raw convolution: the im2col buffer and one BLAS matmul, (OC, K) @ (K, N * OH * OW)."""
    xp = get_array_module(x, W)
    n, oc = x.shape[0], W.shape[0]
    col = win.columns(x)
    oh, ow = win.outsize(*x.shape[2:])
    y = (W.reshape(oc, -1) @ col).reshape(oc, n, oh, ow)
    return copy_split(xp.empty((n, oc, oh, ow), dtype=y.dtype), y.swapaxes(0, 1), 0)


def _deconv(x, W, win, outsize):
    """The raw transposed convolution: one matmul to columns, then the columns summed into the image."""
    n, c, h, w = x.shape
    oc, (kh, kw) = W.shape[1], win.k
    col = W.reshape(c, -1).T @ _channels_first(x)  # (OC * KH * KW, N * H * W)
    return win.scatter(col.reshape(oc, kh, kw, n, h, w).transpose(3, 0, 1, 2, 4, 5), (n, oc) + outsize)


class Conv2d(Function):
    """y = conv2d(x, W) + b for x (N, C, H, W), W (OC, C, KH, KW), b (OC,); forward sets `win` (stride and pad
    from the construction, the kernel from W)."""

    keeps_output = False

    def __init__(self, win):
        self.win = win

    def forward(self, x, W, b=None):
        op = "conv2d"
        check_image(x, op)
        _check_weight(x, W, op, 1)
        _check_bias(b, W.shape[0], op)
        self.win = self.win.with_kernel(W, op)
        operands(x, W, b)
        y = _conv(x, W, self.win)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        needs = self.needs_input_grad
        gx = deconv2d(gy, W, None, self.win.s, self.win.p, x.shape[2:]) if needs[0] else None
        gW = Conv2dGradW(self.win)(x, gy) if needs[1] else None
        gb = reductions.sum(gy, axis=(0, 2, 3)) if len(needs) == 3 and needs[2] else None
        return gx, gW, gb


class Deconv2d(Function):
    """y = the transposed convolution of x (N, C, H, W) with W (C, OC, KH, KW), plus b (OC,), of spatial size
    `outsize`; forward sets `win` (as Conv2d's) and `outsize`."""

    keeps_output = False

    def __init__(self, win, outsize):
        self.win, self.outsize = win, outsize

    def forward(self, x, W, b=None):
        op = "deconv2d"
        check_image(x, op)
        _check_weight(x, W, op, 0)
        _check_bias(b, W.shape[1], op)
        self.win = self.win.with_kernel(W, op)
        (kh, kw), (sh, sw), (ph, pw) = self.win.k, self.win.s, self.win.p
        h, w = x.shape[2:]
        if self.outsize is None:
            self.outsize = deconv_outsize(h, kh, sh, ph), deconv_outsize(w, kw, sw, pw)
        oh, ow = self.outsize = pair(self.outsize, "outsize", op, 1)
        if (conv_outsize(oh, kh, sh, ph), conv_outsize(ow, kw, sw, pw)) != (h, w):
            raise ValueError(f"{op}: outsize {self.outsize} does not fit an input of spatial size {(h, w)} with "
                             f"kernel {(kh, kw)}, stride {(sh, sw)} and pad {(ph, pw)}; expected height in "
                             f"[{deconv_outsize(h, kh, sh, ph)}, {deconv_outsize(h, kh, sh, ph) + sh - 1}] and "
                             f"width in [{deconv_outsize(w, kw, sw, pw)}, {deconv_outsize(w, kw, sw, pw) + sw - 1}]")
        operands(x, W, b)
        y = _deconv(x, W, self.win, self.outsize)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        needs = self.needs_input_grad
        gx = conv2d(gy, W, None, self.win.s, self.win.p) if needs[0] else None
        gW = Conv2dGradW(self.win)(gy, x) if needs[1] else None
        gb = reductions.sum(gy, axis=(0, 2, 3)) if len(needs) == 3 and needs[2] else None
        return gx, gW, gb


class Conv2dGradW(Function):
    """The gradient of conv2d(x, W) with respect to W (OC, C, KH, KW) for upstream gradient gy (N, OC, OH, OW)."""

    keeps_output = False

    def __init__(self, win):
        self.win = win

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
