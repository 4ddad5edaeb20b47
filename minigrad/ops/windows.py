"""Sliding windows over images (N, C, H, W): strided views, their adjoint, and the reused im2col buffer."""
import numbers
import threading

import numpy as np

from minigrad.backend import get_array_module
from minigrad.blocks import for_blocks

_LOCAL = threading.local()  # each thread's im2col buffer
BLOCK = 1 << 18  # elements per threaded block of a copy


def pair(v, what, op, least):
    """v (an int or a pair of ints) as a pair of ints >= least; TypeError/ValueError naming op and what."""
    vs = (v, v) if isinstance(v, numbers.Integral) else v
    if (not isinstance(vs, (tuple, list)) or len(vs) != 2
            or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vs)):
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {v!r}")
    if min(vs) < least:
        raise ValueError(f"{op}: {what} must be at least {least}, got {v!r}")
    return int(vs[0]), int(vs[1])


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
        hp, wp = h + 2 * ph + sh - 1, w + 2 * pw + sw - 1
        covered = (sh, sw) == (kh, kw) and (sh * oh, sw * ow) == (hp - sh + 1, wp - sw + 1)
        img = (xp.empty if covered else xp.zeros)((n, c, hp, wp), dtype=col.dtype)
        disjoint = sh >= kh and sw >= kw  # each pixel in at most one window: assign instead of add

        def add(lo, hi):
            for j in range(kh):
                for i in range(kw):
                    part = img[lo:hi, :, j:j + sh * oh:sh, i:i + sw * ow:sw]
                    if disjoint:
                        part[...] = col[lo:hi, :, j, i]
                    else:
                        part += col[lo:hi, :, j, i]
        for_blocks(add, n, c * hp * wp * kh * kw, xp, BLOCK)
        return img[:, :, ph:ph + h, pw:pw + w]

    def columns(self, x):
        """x's windows copied, by the CPU threads, to a (C * KH * KW, N * OH * OW) matrix in this thread's
        workspace: valid until the thread's next call."""
        v = self.views(x)
        n, c, kh, kw, oh, ow = v.shape
        col = workspace(get_array_module(x), (c, kh, kw, n, oh, ow), x.dtype)
        copy_split(col.transpose(3, 0, 1, 2, 4, 5), v, 0)
        return col.reshape(c * kh * kw, n * oh * ow)


def workspace(xp, shape, dtype):
    """A scratch array for the calling thread, its memory reused from call to call (the thread keeps the largest
    one asked for). A fresh NumPy array of im2col's size costs more in page faults than filling it does; CuPy
    has its memory pool."""
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    buf = getattr(_LOCAL, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _LOCAL.buf = None  # free the old one first
        buf = _LOCAL.buf = np.empty(nbytes, dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)
