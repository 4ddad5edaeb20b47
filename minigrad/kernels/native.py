"""Kernels spread over the CPU threads with no GIL: each part's arguments packed into a frame of int64s."""
import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

from minigrad import blas
from minigrad.backend import address
from minigrad.blocks import pool, workers
from minigrad.kernels import JIT, LIGHT

ENTRY = types.void(types.voidptr)  # an entry's C signature: void entry(int64 *frame), for numba's cfunc
SPLIT = 1 << 15  # elements per part at least (one part per thread): a hand-off here costs a few us, building the
SPLIT_LIGHT = LIGHT // 2  # frames ~10 us; a light kernel (an add, a sum per element) needs more elements to gain

# A frame is one part's arguments as int64s: its length, the part's index i and its rows lo, hi, then per argument
# a C-ordered array's address and shape (contiguous), a strided array's address, shape and strides in bytes
# (strided), a float's bits (bits) or an int. An entry (a numba cfunc of signature ENTRY) reads them back in the
# same order (frame, span, then the readers below) and calls its kernel on rows lo..hi; lend_native calls it on
# OpenBLAS's workers, where no Python runs.


@intrinsic
def _pointer(typingctx, address, like):
    """The int64 address as a pointer to values of like's type."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))
    return types.CPointer(like)(types.int64, like), codegen


@njit(**JIT)
def frame(p):
    """The frame at address p (an entry's argument) as an int64 array."""
    return carray(p, (carray(p, (1,), np.int64)[0],), np.int64)


@njit(**JIT)
def span(f):
    """(i, lo, hi, 4): the part's index, its rows and the first argument's field."""
    return f[1], f[2], f[3], 4


@njit(**JIT)
def integer(f, j):
    """(the int at field j of frame f, the next field)."""
    return f[j], j + 1


@njit(**JIT)
def real(f, j):
    """(the float64 at field j of frame f, the next field)."""
    return carray(_pointer(f.ctypes.data + 8 * j, 0.0), (1,))[0], j + 1


@njit(**JIT)
def vector(f, j, z):
    """(the C-ordered 1-d array of z's dtype at field j of frame f, the next field)."""
    return carray(_pointer(f[j], z), (f[j + 1],)), j + 2


@njit(**JIT)
def matrix(f, j, z):
    """(the C-ordered 2-d array of z's dtype at field j of frame f, the next field)."""
    return carray(_pointer(f[j], z), (f[j + 1], f[j + 2])), j + 3


@njit(**JIT)
def cube(f, j, z):
    """(the C-ordered 3-d array of z's dtype at field j of frame f, the next field)."""
    return carray(_pointer(f[j], z), (f[j + 1], f[j + 2], f[j + 3])), j + 4


@njit(**JIT)
def strided4(f, j, z):
    """(the 4-d array of z's dtype, any strides, at field j of frame f, the next field)."""
    shape, strides = (f[j + 1], f[j + 2], f[j + 3], f[j + 4]), (f[j + 5], f[j + 6], f[j + 7], f[j + 8])
    return np.lib.stride_tricks.as_strided(carray(_pointer(f[j], z), (1,)), shape=shape, strides=strides), j + 9


def contiguous(a):
    """A C-ordered array's fields: its address and shape."""
    if not a.flags.c_contiguous:
        raise ValueError(f"native.contiguous: an array of shape {a.shape} and strides {a.strides} is not C-ordered")
    return [address(a), *a.shape]


def strided(a):
    """A 4-d array's fields: its address, shape and strides (bytes)."""
    return [address(a), *a.shape, *a.strides]


def bits(x):
    """A float's field: its float64 bits."""
    return int(np.float64(x).view(np.int64))


def parts(n, size, light=False):
    """The parts to cut range(n) (rows of `size` elements) into: one per CPU thread, or fewer where a part would
    have fewer than SPLIT elements (SPLIT_LIGHT for a light kernel)."""
    most = min(n * size // (SPLIT_LIGHT if light else SPLIT), n)
    return 1 if most < 2 else min(workers(), most)  # small work: one part, without asking the OS for the CPUs


def run(entry, n, k, fields):
    """entry (a cfunc of signature ENTRY) called at once on k parts of rows 0..n, each with the arguments `fields`
    (a list of int64s): on OpenBLAS's idle workers (blas.lend_native), else on a pool of threads (ctypes lets go of
    the GIL), the first part on this thread."""
    m = 4 + len(fields)
    frames = np.array([[m, i, i * n // k, (i + 1) * n // k, *fields] for i in range(k)], np.int64)
    if k > 1 and blas.lend_native(entry.address, frames):
        return
    others = [pool(k - 1).submit(entry.ctypes, address(row)) for row in frames[1:]]
    entry.ctypes(address(frames[0]))
    for future in others:
        future.result()
