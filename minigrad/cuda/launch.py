"""Launching numba-cuda kernels on CuPy arrays (and, in numba's CUDA simulator, on the memory they describe)."""
import os

import numpy as np
from numba import cuda

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
MAX_THREADS = 256  # threads per block at most: the size of the kernels' shared reduction arrays


class _Described:
    """An object whose __array_interface__ is a device array's __cuda_array_interface__ (simulator only)."""

    def __init__(self, owner):
        cai = owner.__cuda_array_interface__
        self.owner = owner  # keeps the memory alive as long as the view
        self.__array_interface__ = {"shape": cai["shape"], "typestr": cai["typestr"], "data": cai["data"],
                                    "strides": cai.get("strides"), "version": 3}


def arg(a):
    """What a kernel receives for array a: a itself on a GPU, where numba reads its __cuda_array_interface__;
    in the simulator, which runs kernels on host memory, a NumPy view of the memory that interface describes."""
    if SIMULATOR and not isinstance(a, np.ndarray):
        return np.asarray(_Described(a))
    return a


def threads(n):
    """Threads per block for rows of n elements: a power of two, at most MAX_THREADS (8 in the simulator,
    where every thread is a Python thread)."""
    top = 8 if SIMULATOR else MAX_THREADS
    t = min(32, top)
    while t < top and t < n:
        t *= 2
    return t


def launch(kernel, blocks, block_threads, *args):
    """kernel[blocks, block_threads](*args), arrays passed through arg(); nothing to launch for 0 blocks."""
    if blocks > 0:
        kernel[blocks, block_threads](*[arg(a) if hasattr(a, "__cuda_array_interface__") else a for a in args])


__all__ = ["MAX_THREADS", "SIMULATOR", "arg", "cuda", "launch", "threads"]
