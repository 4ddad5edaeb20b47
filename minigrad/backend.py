"""Array backend switch: the only module that imports cupy (lazily); NumPy otherwise."""
import numpy as np

_cupy = None
_cupy_error = None  # why the GPU is unavailable, kept for error messages


def _load_cupy():
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy
            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as e:  # ImportError, or a CUDA error when no device is present
            _cupy_error = f"{type(e).__name__}: {e}"
    return _cupy


def gpu_available():
    """True when cupy imports and sees at least one CUDA device."""
    return _load_cupy() is not None


def gpu_unavailable_reason():
    """Why the GPU cannot be used, or None when it can."""
    _load_cupy()
    return _cupy_error


def require_gpu(flag="--gpu"):
    """Stop a script at once, with one line naming the [gpu] extra, when flag asks for a GPU that is not there."""
    if not gpu_available():
        raise SystemExit(f"{flag}: no usable GPU ({gpu_unavailable_reason()}); on a machine with an NVIDIA GPU, "
                         f"install CuPy with the [gpu] extra: pip install 'minigrad[gpu]'")


def is_cupy_array(x):
    """True for a cupy ndarray (cupy is loaded only once such an array is seen)."""
    if type(x).__module__.partition(".")[0] != "cupy":
        return False
    return _load_cupy() is not None and isinstance(x, _cupy.ndarray)


def is_array(x):
    """True for a numpy or cupy ndarray."""
    return isinstance(x, np.ndarray) or is_cupy_array(x)


def get_array_module(*arrays):
    """The module (numpy or cupy) that owns the arrays (Variables are looked through).

    Arrays of both kinds in one call raise TypeError naming both: ops never copy between host and
    device behind the caller's back.
    """
    host = device = None
    for x in arrays:
        if type(x) is np.ndarray:
            host = x
            continue
        data = getattr(x, "data", None)
        if type(data) is np.ndarray:  # the common case: a Variable on the host
            host = data
            continue
        if not is_array(x):
            x = data  # a Variable carries its array in .data
        if isinstance(x, np.ndarray):
            host = x
        elif is_cupy_array(x):
            device = x
    if device is None:
        return np
    if host is not None and host.ndim > 0:
        raise TypeError(f"a NumPy array of shape {host.shape} and a CuPy array of shape {device.shape} (on GPU "
                        f"{device.device.id}) in one operation; move one with as_cupy/as_numpy or "
                        f"Variable.to_gpu()/to_cpu()")
    return _cupy


def operands(*arrays):
    """The arrays of one op, ready for it: beside a device array, 0-d host arrays become scalars (as torch treats
    0-d CPU tensors); host arrays of rank 1 or more beside device arrays are a TypeError naming both."""
    if get_array_module(*arrays) is np:
        return arrays
    return tuple(a[()] if isinstance(a, np.ndarray) else a for a in arrays)


def like(x, a):
    """a on x's backend: a itself when they share one, a number or 0-d host array copied to x's device;
    a TypeError naming both when a host array of rank 1 or more meets a device array (either way)."""
    xp = get_array_module(x, a)
    if xp is np or is_cupy_array(a):
        return a
    return xp.asarray(a)


_ONES = {}  # dtype -> a read-only 0-d one


def ones_like(a):
    """Ones shaped like a; for a 0-d host array a shared read-only one (the seed of a scalar's backward: no
    allocation each time, and nothing can write it)."""
    if type(a) is np.ndarray and not a.ndim:
        one = _ONES.get(a.dtype)
        if one is None:
            one = _ONES[a.dtype] = np.ones((), a.dtype)
            one.flags.writeable = False
        return one
    return get_array_module(a).ones_like(a)


def memory_root(a):
    """The array that owns a's memory (a itself when it is not a view)."""
    while a.base is not None:
        a = a.base
    return a


def address(a):
    """The address of a NumPy array's first element."""
    return a.__array_interface__["data"][0]


def writable(a):
    """True when every element of a can be written without touching another (no broadcast, no read-only)."""
    if type(a) is np.ndarray and a.base is None:  # owns its memory: not a view, so not a broadcast
        return a.flags.writeable
    if isinstance(a, np.ndarray) and not a.flags.writeable:
        return False
    return all(stride != 0 or n == 1 for stride, n in zip(a.strides, a.shape))


def flat_view(a):
    """a as a 1-D view of its memory, for writes through it; ValueError when that would take a copy (a is not
    C-contiguous), where ravel() would write into the copy and lose the writes."""
    if not a.flags.c_contiguous:
        raise ValueError(f"flat_view: an array of shape {a.shape} and strides {a.strides} is not C-contiguous")
    return a.reshape(-1)


def as_numpy(x):
    """A numpy array with the data of x (a number, numpy or cupy array)."""
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def as_cupy(x, device=None):
    """A cupy array with the data of x (on GPU `device`, default the current one); raises RuntimeError
    saying why when there is no GPU."""
    cupy = _load_cupy()
    if cupy is None:
        raise RuntimeError(f"no GPU available: {_cupy_error}")
    if device is None:
        return cupy.asarray(x)
    with cupy.cuda.Device(device):
        return cupy.asarray(x)


def picks_rows(a, indices, b):
    """True where indices, one non-empty NumPy integer array, picks rows of the array a and b holds one row per
    index (an embedding's gradient): the case scatter_add (and the CPU kernel, ops/shaping.py) add row by row."""
    return isinstance(indices, np.ndarray) and indices.dtype.kind in "iu" and indices.size > 0 and a.ndim > 0 \
        and np.shape(b) == indices.shape + a.shape[1:]


def scatter_add(a, indices, b):
    """a[indices] += b with repeated indices accumulated (np.add.at or cupyx.scatter_add). Rows picked by one
    integer array (an embedding's backward) are summed by sorting instead: np.add.at takes an element at a time,
    and the rows of a repeated index summed by reduceat cost a few times less."""
    if is_cupy_array(a):
        import cupyx
        cupyx.scatter_add(a, indices, b)
    elif picks_rows(a, indices, b):
        rows = indices.reshape(-1)
        rows = np.where(rows < 0, rows + len(a), rows)  # -1 and n - 1 are one row
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        a[rows[starts]] += np.add.reduceat(np.asarray(b).reshape(rows.shape + a.shape[1:])[order], starts, axis=0)
    else:
        np.add.at(a, indices, b)


def erfc(a):
    """The complementary error function of a CuPy array, on its device (cupyx.scipy.special)."""
    import cupyx.scipy.special
    return cupyx.scipy.special.erfc(a)
