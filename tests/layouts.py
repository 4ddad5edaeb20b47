"""Memory layouts for the layout sweeps: views holding given values in C, F, negative-stride, sliced, broadcast
and read-only memory."""
import numpy as np


def _negative(a):
    """a's values in a view with every stride negative."""
    every = tuple(range(a.ndim))
    return np.flip(np.flip(a, every).copy(), every)


def _sliced(a):
    """a's values every other element of a larger array, along every axis."""
    big = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _broadcast(a):
    """a's first entry along axis 0 repeated by a zero stride (other values than a: compare with its own copy)."""
    return np.broadcast_to(a[:1], a.shape) if a.ndim and len(a) else a


def _read_only(a):
    b = a.copy()
    b.flags.writeable = False
    return b


LAYOUTS = {"C": lambda a: a.copy(order="C"), "F": np.asfortranarray, "negative-stride": _negative, "sliced": _sliced,
           "broadcast": _broadcast, "read-only": _read_only}


def laid_out(arrays, layout):
    """Each array of one or more dimensions in the layout (0-d ones as they are)."""
    return tuple(LAYOUTS[layout](a) if isinstance(a, np.ndarray) and a.ndim else a for a in arrays)
