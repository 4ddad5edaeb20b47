"""Compiled CPU kernels (numba, optional): the fused losses and the transcendental ops, one pass each."""
import functools
import importlib.util

import numpy as np

from minigrad.config import Config

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
LIGHT = 1 << 18  # elements from which a light kernel (one add per element: a bias, a sum, x + y) runs in two parts
COMMON = 1 << 20  # the common loss calls up to this many elements run as one kernel call (on one thread)
# fastmath without nnan and ninf (NaN and inf keep their IEEE meaning), and without arcp and afn (approximate
# division and functions), which round differently in a loop's vector body and its scalar remainder, so that an
# element's result would depend on where its array lies in memory; reassoc lets float sums vectorize
FAST = {"contract", "reassoc"}
JIT = {"nogil": True, "cache": True, "fastmath": FAST, "error_model": "numpy"}
# for arithmetic whose order matters (cancellations, range reductions): no reassoc
EXACT = {"contract"}
JIT_EXACT = {**JIT, "fastmath": EXACT}


@functools.lru_cache(maxsize=1)
def installed():
    """True when numba can be imported (it is imported on the first kernel call, not here)."""
    return importlib.util.find_spec("numba") is not None


def fused(x):
    """True when the array x goes to a CPU kernel: a float32 or float64 NumPy array, numba installed and
    Config.cpu_kernels on (MINIGRAD_CPU_KERNELS=0 turns it off for a process)."""
    return type(x) is np.ndarray and x.dtype in DTYPES and Config.cpu_kernels and installed()


def fused_float32(x):
    """True when the array x goes to a float32 elementwise kernel: a non-empty float32 NumPy array (float64 stays
    with NumPy, whose vectorized libm is as fast and accurate), numba installed, Config.cpu_kernels on."""
    return type(x) is np.ndarray and x.dtype == DTYPES[0] and x.size and Config.cpu_kernels and installed()


_MODULES = {}


def call(module, name):
    """The kernel `name` of minigrad.kernels.<module>, its module imported on first use (numba with it) and kept:
    an import statement costs about half a microsecond per call, a dict lookup a tenth of that."""
    try:
        found = _MODULES[module]
    except KeyError:
        import importlib
        found = _MODULES[module] = importlib.import_module(f"minigrad.kernels.{module}")
    return getattr(found, name)


def elementwise(name, x):
    """op(x) (name: exp, log, tanh, sigmoid, log_sigmoid, gelu_tanh) on the float32 kernels, or None where they do not apply:
    the caller computes it with NumPy then."""
    return call("activations", "elementwise")(name, x) if fused_float32(x) else None


def elementwise_grad(name, x, y, gy):
    """The backward of op (tanh, sigmoid, log_sigmoid, gelu_tanh) at x, with y = op(x), times gy (all arrays) on the float32
    kernels, or None where they do not apply."""
    if not fused_float32(x) or gy.dtype != x.dtype or gy.shape != x.shape:
        return None
    return call("activations", "elementwise_grad")(name, x, y, gy)


def adam_step(p, g, m, v, decay, c1, b2, c2, step, s, eps):
    """Adam's step on the kernel (kernels/optim.py) where p, g, m and v are C-contiguous NumPy arrays of one float32
    or float64 dtype and shape; True where it ran, False (nothing changed) where the caller's NumPy path must."""
    arrays = (p, g, m, v)
    if not (fused(p) and all(type(a) is np.ndarray and a.dtype == p.dtype and a.shape == p.shape
                             and a.flags.c_contiguous for a in arrays) and p.flags.writeable):
        return False
    call("optim", "adam")(p, g, m, v, decay, c1, b2, c2, step, s, eps)
    return True
