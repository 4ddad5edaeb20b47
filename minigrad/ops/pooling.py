"""Pooling: max_pooling (DeZero's pooling) and average_pooling over strided windows, one pass per kernel offset."""
from minigrad.backend import get_array_module
from minigrad.blocks import for_blocks
from minigrad.function import Function
from minigrad.ops.windows import BLOCK, Window, check_image
from minigrad.shapes import check_float, half_in_float32


def _window(kernel_size, stride, pad, op):
    win = Window(kernel_size, stride, pad, op)
    for k, p in zip(win.k, win.p):
        if 2 * p > k:  # torch's rule: a window never lies wholly in the padding
            raise ValueError(f"{op}: pad {win.p} must be at most half the kernel size {win.k}")
    return win


def _offsets(win):
    kh, kw = win.k
    return [(j, i) for j in range(kh) for i in range(kw)]


class MaxPooling(Function):
    """The maximum of each window, padding never chosen (as torch: padded with -inf); a NaN in a window is its
    maximum. Forward sets `index`, the window offset of each maximum (the first among ties)."""

    keeps_output = saves_inputs = False

    def __init__(self, win):
        self.win = win

    def forward(self, x):
        check_image(x, "max_pooling")
        check_float(x, "max_pooling")
        xp = get_array_module(x)
        v = self.win.views(x, fill=-xp.inf)
        self.shape = x.shape
        y = xp.empty(v.shape[:2] + v.shape[4:], dtype=x.dtype)
        offsets = _offsets(self.win)
        index = xp.zeros(y.shape, dtype=xp.int8 if len(offsets) < 128 else xp.int32)

        def block(lo, hi):
            vb, yb, ib = v[lo:hi], y[lo:hi], index[lo:hi]
            yb[...] = vb[:, :, 0, 0]
            for k, (j, i) in enumerate(offsets[1:], 1):
                c = vb[:, :, j, i]
                better = xp.greater(c, yb)
                better |= xp.isnan(c)  # torch: a NaN is the maximum, and the first NaN stays chosen
                xp.maximum(yb, c, out=yb)
                ib *= ~better
                ib += better.astype(ib.dtype) * k
        for_blocks(block, len(y), y.size // max(len(y), 1) * len(offsets), xp, BLOCK)
        self.index = index
        return y

    def backward(self, gy):
        return MaxPoolingGrad(self.win, self.index, self.shape)(gy)


class MaxPoolingGrad(Function):
    """Each upstream gradient gy sent to the position of its window's maximum (`index` from MaxPooling);
    `win`, `index` and the input `shape` set at construction."""

    keeps_output = saves_inputs = False

    def __init__(self, win, index, shape):
        self.win, self.index, self.shape = win, index, shape

    @half_in_float32
    def forward(self, gy):
        xp = get_array_module(gy)
        col = xp.empty(gy.shape[:2] + self.win.k + gy.shape[2:], dtype=gy.dtype)
        for k, (j, i) in enumerate(_offsets(self.win)):
            xp.multiply(gy, self.index == k, out=col[:, :, j, i])
        return self.win.scatter(col, self.shape)

    def backward(self, ggx):
        return MaxPoolingAt(self.win, self.index)(ggx)


class MaxPoolingAt(Function):
    """The value of x at each window's recorded maximum (`index`): MaxPoolingGrad's adjoint."""

    keeps_output = saves_inputs = False

    def __init__(self, win, index):
        self.win, self.index = win, index

    def forward(self, x):
        xp = get_array_module(x)
        self.shape = x.shape
        v = self.win.views(x)
        y = xp.zeros(self.index.shape, dtype=x.dtype)
        for k, (j, i) in enumerate(_offsets(self.win)):
            xp.copyto(y, v[:, :, j, i], where=self.index == k)
        return y

    def backward(self, gy):
        return MaxPoolingGrad(self.win, self.index, self.shape)(gy)


class AveragePooling(Function):
    """The mean of each window, padding counted as zeros (torch's count_include_pad=True, as DeZero)."""

    keeps_output = saves_inputs = False

    def __init__(self, win):
        self.win = win

    @half_in_float32
    def forward(self, x):
        check_image(x, "average_pooling")
        check_float(x, "average_pooling")
        self.shape = x.shape
        v = self.win.views(x)
        y = v[:, :, 0, 0].copy()
        for j, i in _offsets(self.win)[1:]:
            y += v[:, :, j, i]
        y *= 1 / len(_offsets(self.win))
        return y

    def backward(self, gy):
        return AveragePoolingGrad(self.win, self.shape)(gy)


class AveragePoolingGrad(Function):
    """gy / (KH * KW) spread over each window, overlaps added; `win` and the input `shape` set at construction."""

    keeps_output = saves_inputs = False

    def __init__(self, win, shape):
        self.win, self.shape = win, shape

    @half_in_float32
    def forward(self, gy):
        xp = get_array_module(gy)
        g = gy * (1 / len(_offsets(self.win)))
        col = xp.broadcast_to(g[:, :, None, None], g.shape[:2] + self.win.k + g.shape[2:])
        return self.win.scatter(col, self.shape)

    def backward(self, ggx):
        return AveragePooling(self.win)(ggx)


def max_pooling(x, kernel_size, stride=1, pad=0):
    """The maximum over each kernel_size window of x (N, C, H, W), moved by stride (DeZero's default 1; torch's
    max_pool2d defaults to kernel_size), x padded by pad (at most half the kernel) with -inf."""
    return MaxPooling(_window(kernel_size, stride, pad, "max_pooling"))(x)


def pooling(x, kernel_size, stride=1, pad=0):
    """DeZero's name for max_pooling."""
    return max_pooling(x, kernel_size, stride, pad)


def average_pooling(x, kernel_size, stride=1, pad=0):
    """The mean over each kernel_size window of x (N, C, H, W), moved by stride, padding counted as zeros."""
    return AveragePooling(_window(kernel_size, stride, pad, "average_pooling"))(x)
