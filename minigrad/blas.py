"""NumPy's OpenBLAS held at one thread while minigrad spreads a batch of small products over its own threads."""
import contextlib
import ctypes
import functools
import glob
import os
import threading
from types import SimpleNamespace

import numpy as np

# (get, set) names in the OpenBLAS builds NumPy's wheels bundle (scipy-openblas, older 64-bit ones, plain)
_NAMES = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]


@functools.lru_cache(maxsize=1)
def controls():
    """get() and set(n) of the BLAS thread count of NumPy's bundled OpenBLAS, or None (another BLAS, or none
    found): then single_thread() does nothing."""
    for path in sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _NAMES:
            if hasattr(lib, get) and hasattr(lib, set_):
                getter, setter = getattr(lib, get), getattr(lib, set_)
                getter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
                return SimpleNamespace(get=getter, set=setter)
    return None


_lock = threading.Lock()
_depth, _saved = 0, None


def _after_fork():
    """A forked child has none of the threads that were inside single_thread: a fresh lock, the count put back."""
    global _lock, _depth
    _lock = threading.Lock()
    if _depth and controls() is not None:
        controls().set(_saved)
    _depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def single_thread():
    """OpenBLAS on one thread inside the block (the count is process-wide: the first of nested or concurrent
    blocks saves it, the last one out puts it back)."""
    global _depth, _saved
    ctl = controls()
    if ctl is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = ctl.get()
            ctl.set(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                ctl.set(_saved)
