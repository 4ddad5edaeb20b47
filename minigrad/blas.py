"""NumPy's OpenBLAS: its thread count held at one, its GEMM for c += a @ b, its idle workers lent to row blocks."""
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
def _libraries():
    """The OpenBLAS libraries bundled with NumPy that load, loaded."""
    found = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))):
        try:
            found.append(ctypes.CDLL(path))
        except OSError:
            continue
    return tuple(found)


@functools.lru_cache(maxsize=1)
def controls():
    """get() and set(n) of the BLAS thread count of NumPy's bundled OpenBLAS, or None (another BLAS, or none
    found): then single_thread() does nothing."""
    for lib in _libraries():
        for get, set_ in _NAMES:
            if hasattr(lib, get) and hasattr(lib, set_):
                getter, setter = getattr(lib, get), getattr(lib, set_)
                getter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
                return SimpleNamespace(get=getter, set=setter)
    return None


# cblas_?gemm of the 64-bit-integer builds NumPy's wheels bundle: (order, transa, transb, m, n, k, alpha, a, lda,
# b, ldb, beta, c, ldc) with int64 sizes
_GEMM = {np.float32: ("scipy_cblas_sgemm64_", "cblas_sgemm64_", ctypes.c_float),
         np.float64: ("scipy_cblas_dgemm64_", "cblas_dgemm64_", ctypes.c_double)}
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


@functools.lru_cache(maxsize=None)
def _gemm(dtype):
    """NumPy's bundled cblas GEMM for dtype (float32 or float64), or None."""
    names = _GEMM.get(dtype)
    if names is None:
        return None
    for lib in _libraries():
        for name in names[:2]:
            if hasattr(lib, name):
                fn, i64, real, ptr = getattr(lib, name), ctypes.c_int64, names[2], ctypes.c_void_p
                fn.argtypes = [ctypes.c_int] * 3 + [i64] * 3 + [real, ptr, i64, ptr, i64, real, ptr, i64]
                fn.restype = None
                return fn
    return None


def gemm_address(dtype):
    """The address of NumPy's bundled cblas GEMM for dtype (float32 or float64), for compiled code to call; 0 where
    there is none (another BLAS)."""
    fn = _gemm(np.dtype(dtype).type)
    return ctypes.cast(fn, ctypes.c_void_p).value if fn is not None else 0


def _operand(a):
    """(transpose flag, leading dimension) of a 2-d array as a row-major BLAS operand, or None."""
    item = a.itemsize
    rows, cols = a.shape
    s0, s1 = a.strides
    if (s1 == item or cols == 1) and s0 % item == 0 and s0 // item >= max(1, cols):
        return _NO_TRANS, s0 // item
    if (s0 == item or rows == 1) and s1 % item == 0 and s1 // item >= max(1, rows):
        return _TRANS, s1 // item
    return None


def gemm_fields(a, b, c):
    """[transa, transb, m, n, k, a, lda, b, ldb, c, ldc] of the row-major GEMM c = a @ b (addresses as ints) for 2-d
    NumPy arrays of one dtype, c C-ordered and apart from a and b; None where a layout does not fit."""
    oa, ob, oc = _operand(a), _operand(b), _operand(c)
    if None in (oa, ob, oc) or oc[0] != _NO_TRANS or np.may_share_memory(c, a) or np.may_share_memory(c, b):
        return None
    return [oa[0], ob[0], c.shape[0], c.shape[1], a.shape[1], a.ctypes.data, oa[1], b.ctypes.data, ob[1],
            c.ctypes.data, oc[1]]


def add_product(a, b, c):
    """c += a @ b for 2-d NumPy arrays: one GEMM with beta = 1 where a, b and c share a float32 or float64 dtype
    and lie in rows or columns with unit stride (any leading dimension: slices and transposed views), else
    NumPy's product and a sum."""
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2 or a.shape[1] != b.shape[0] or c.shape != (a.shape[0], b.shape[1]):
        raise ValueError(f"add_product: shapes {a.shape} @ {b.shape} do not give {c.shape}")
    plain = all(type(v) is np.ndarray for v in (a, b, c)) and a.dtype == b.dtype == c.dtype and c.flags.writeable
    gemm = _gemm(c.dtype.type) if plain else None
    fields = gemm_fields(a, b, c) if gemm is not None else None
    if fields is None:
        c += a @ b
        return c
    if c.size and a.shape[1]:
        ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc = fields
        gemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, pa, lda, pb, ldb, 1.0, pc, ldc)
    return c


_lock = threading.Lock()
_depth, _saved = 0, None


def _after_fork():
    """A forked child has none of the threads that were inside single_thread or lend_threads: fresh locks, the
    count put back."""
    global _lock, _depth, _lent, _job
    _lock, _lent, _job = threading.Lock(), threading.Lock(), None
    _kept.clear()
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


# OpenBLAS's pthread-compatible entry, gotoblas_pthread(n, fn, args, stride): fn(args + i * stride) for i < n, i = 0
# on the calling thread and the others on the worker threads OpenBLAS keeps for its own products
_ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_job = None  # (fn, results, errors) of the one job running on the workers, while _lent is held
_kept = set()  # the threads whose Python thread state is kept (see _enter)
_lent = threading.Lock()  # held while a job runs on the workers: a second caller (or a nested one) is refused


@functools.lru_cache(maxsize=1)
def _server():
    """(gotoblas_pthread, the c_int holding OpenBLAS's thread count) of NumPy's OpenBLAS, or None."""
    for lib in _libraries():
        if hasattr(lib, "gotoblas_pthread") and hasattr(lib, "blas_num_threads"):
            fn = lib.gotoblas_pthread
            fn.argtypes, fn.restype = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int], ctypes.c_int
            return fn, ctypes.c_int.in_dll(lib, "blas_num_threads")
    return None


def _enter(arg):
    """One thread's part of the job: arg points at the part's index (an int64)."""
    thread = threading.get_ident()
    if thread not in _kept:  # keep this thread's Python state from call to call: making one each time costs ~20 us
        _kept.add(thread)
        ctypes.pythonapi.PyGILState_Ensure()
    fn, results, errors = _job
    i = ctypes.c_int64.from_address(arg).value
    try:
        results[i] = fn(i)
    except BaseException as e:  # noqa: B036 (handed to the caller, which raises it)
        errors[i] = e


_ENTER = _ENTRY(_enter)  # one callback object for the process: made per call, ctypes would leak it in a cycle
_ENTER_ADDRESS = ctypes.cast(_ENTER, ctypes.c_void_p).value


@contextlib.contextmanager
def _lending(k):
    """gotoblas_pthread(k, fn, args, stride) to call inside the block, OpenBLAS held at one thread meanwhile; None
    where NumPy's OpenBLAS has fewer than k threads or is lending them already (a nested or a concurrent call)."""
    server = _server()
    if server is None or not 1 < k <= server[1].value or not _lent.acquire(blocking=False):
        yield None
        return
    try:
        with single_thread():
            yield server[0]
    finally:
        _lent.release()


def lend_threads(fn, k):
    """[fn(0), ..., fn(k - 1)] with fn(0) on the calling thread and the others on OpenBLAS's idle worker threads,
    OpenBLAS held at one thread meanwhile (a BLAS call inside fn runs on the thread that makes it); None, having
    called nothing, where NumPy's OpenBLAS has fewer than k threads or is lending them already (a nested or a
    concurrent call). The first exception raised by a part is raised here, after every part has finished.

    Why: OpenBLAS's workers spin for a while after each product, waiting for the next one, so threads of minigrad's
    own share the cores with them; the workers themselves take the work at once and leave no thread spinning."""
    global _job
    with _lending(k) as run:
        if run is None:
            return None
        results, errors = [None] * k, [None] * k
        indices = (ctypes.c_int64 * k)(*range(k))
        _job = fn, results, errors
        try:
            run(k, _ENTER_ADDRESS, ctypes.addressof(indices), ctypes.sizeof(ctypes.c_int64))
        finally:
            _job = None
    for e in errors:
        if e is not None:
            raise e
    return results


def lend_native(address, frames):
    """The compiled function at address, void f(void *frame), called on each row of frames (a C-ordered 2-d int64
    array) at once: row 0 on the calling thread, the others on OpenBLAS's idle workers, OpenBLAS held at one thread
    meanwhile. No Python runs on the workers, so no GIL is waited for: a hand-off costs a few microseconds where
    lend_threads' costs 30-100. False, having called nothing, where lend_threads would return None."""
    k = len(frames)
    with _lending(k) as run:
        if run is None:
            return False
        run(k, address, frames.ctypes.data, frames.strides[0])
    return True
