"""Fused CUDA kernels for the losses, written with numba-cuda; numba is imported only when a loss sees a CuPy array."""
import functools

import numpy as np

from minigrad.config import Config


@functools.lru_cache(maxsize=None)
def usable():
    """True when numba-cuda is installed and can run kernels: on a CUDA GPU, or in numba's CUDA simulator."""
    try:
        from minigrad.cuda import launch
    except ImportError:
        return False
    return launch.SIMULATOR or launch.cuda.is_available()


def fused(xp):
    """True when a loss on arrays of module xp runs the fused kernels: CuPy arrays, Config.cuda_kernels on,
    and kernels usable()."""
    return xp is not np and Config.cuda_kernels and usable()
