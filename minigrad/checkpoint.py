"""Parameters to and from .npz files: written to a temporary file and renamed, loaded all or nothing."""
import os
import tempfile
import zipfile

import numpy as np

from minigrad.backend import as_numpy, get_array_module


def npz_path(path):
    """The file name used both ways: `path` with '.npz' added when it has no such suffix (as np.savez does)."""
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


def param_arrays(named_params, op="save_weights"):
    """{name: NumPy array} of {name: Parameter}; ValueError for a Parameter without an array yet."""
    arrays = {}
    for name, p in named_params.items():
        if p.data is None:
            raise ValueError(f"{op}: parameter {name} has no array yet (lazily sized: run a forward "
                             f"pass or load_weights first)")
        arrays[name] = as_numpy(p.data)
    return arrays


def save(named_params, path):
    """Write {name: Parameter} to path (see npz_path); the previous file survives any failure."""
    return write(param_arrays(named_params), path)


def write(arrays, path):
    """Write {name: NumPy array} to path (see npz_path) as an .npz without pickles: to a temporary file beside it,
    then renamed over it, so the previous file survives any failure."""
    path = npz_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale(folder, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f"{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            # The entries are written one by one, as np.savez does, so that no name can collide with a keyword
            # of np.savez (a parameter called 'file' or 'allow_pickle').
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, a in arrays.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as entry:
                        np.lib.format.write_array(entry, np.ascontiguousarray(a), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _remove_stale(folder, name):
    """Remove the temporaries that saves of `name` left behind when killed (named name.PID.XXXX.tmp): those whose
    process is gone. A save still running in another process keeps its own."""
    for entry in os.listdir(folder):
        pid = entry[len(name) + 1:].split(".")[0]
        if not (entry.startswith(name + ".") and entry.endswith(".tmp") and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(folder, entry))
            except FileNotFoundError:  # another save removed it first
                pass
        except PermissionError:  # alive, another user's
            pass


def _fits(shape, pattern):
    return len(shape) == len(pattern) and all(p is None or p == s for s, p in zip(shape, pattern))


def load(named_params, path, owner, lazy_shapes=None):
    """Read a file written by save into {name: Parameter}: every entry is checked and converted before any
    Parameter changes. Parameters without an array yet (lazily sized) take the file's array when it fits
    lazy_shapes[name] = (shape pattern with None for any size, dtype or None for the file's)."""
    path = npz_path(path)
    with np.load(path, allow_pickle=False) as npz:
        stored = {name: npz[name] for name in npz.files}
    new = converted(named_params, stored, path, owner, lazy_shapes)
    for name, p in named_params.items():
        p.data = new[name]


def converted(named_params, stored, path, owner, lazy_shapes=None):
    """{name: array for the Parameter}: stored's arrays checked against named_params (names, shapes, dtypes) and
    converted to each Parameter's device and dtype; nothing is assigned."""
    missing = sorted(set(named_params) - set(stored))
    extra = sorted(set(stored) - set(named_params))
    if missing or extra:
        raise ValueError(f"load_weights: {path} does not match this {owner}: missing {missing}, "
                         f"unexpected {extra}")
    new = {}
    for name, p in named_params.items():
        a = stored[name]
        if a.dtype.kind not in "fbiu":
            raise TypeError(f"load_weights: {name} in {path} has dtype {a.dtype}, expected real numbers")
        if p.data is None:  # lazily sized: created from the file, as the layer's configuration allows
            pattern, dtype = (lazy_shapes or {}).get(name, (None, None))
            if pattern is not None and not _fits(a.shape, pattern):
                want = ", ".join("any" if s is None else str(s) for s in pattern) + ("," if len(pattern) == 1 else "")
                raise ValueError(f"load_weights: {name} has shape {a.shape} in {path}, but this {owner} is "
                                 f"configured for ({want})")
            if dtype is not None and not np.can_cast(a.dtype, dtype, casting="same_kind"):
                raise TypeError(f"load_weights: {name} has dtype {a.dtype} in {path}, which does not convert to "
                                f"the layer's {dtype}")
            new[name] = a if dtype is None else a.astype(dtype)
            continue
        if a.shape != p.shape:
            raise ValueError(f"load_weights: {name} has shape {a.shape} in {path}, expected {p.shape}")
        if not np.can_cast(a.dtype, p.dtype, casting="same_kind"):
            raise TypeError(f"load_weights: {name} has dtype {a.dtype} in {path}, which does not convert to "
                            f"the parameter's {p.dtype}")
        new[name] = get_array_module(p.data).asarray(a, dtype=p.dtype)
    return new
