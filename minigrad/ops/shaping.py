"""Shape ops: reshape (flatten, expand_dims, squeeze), transpose, broadcast_to and its inverse sum_to, indexing."""
import math

import numpy as np

from minigrad import backend, kernels, shapes
from minigrad.core import Variable, as_variable
from minigrad.function import Function
from minigrad.shapes import half_in_float32


class Copy(Function):
    """y = a copy of x (an array of its own), gradient passed through."""

    keeps_output = saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class _ToShape(Function):
    """A Function to the shape given at construction; keeps the input's shape for the backward."""

    keeps_output = saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        return self.to_shape(x)


class Reshape(_ToShape):
    def to_shape(self, x):
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} "
                             f"(size {x.size}) into shape {self.shape}") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


class Transpose(Function):
    keeps_output = saves_inputs = False

    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        if self.axes is not None and sorted(a % max(x.ndim, 1) for a in self.axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of the "
                             f"{x.ndim} axes of an input of shape {x.shape}")
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        return transpose(gy, tuple(np.argsort([a % len(self.axes) for a in self.axes])))


class BroadcastTo(_ToShape):
    def to_shape(self, x):
        try:
            return backend.get_array_module(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class SumTo(_ToShape):
    def to_shape(self, x):
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


def sum_to_array(x, shape):
    """shapes.sum_to on arrays; a sum over leading axes only (a bias gradient) of a C-ordered NumPy float array runs
    on the CPU kernel (kernels/rows.py), so that Linear's plain backward and its recorded one agree bit for bit."""
    shape = tuple(shape)
    k = len(shape)
    if x.ndim > k and x.shape[x.ndim - k:] == shape and x.size and x.flags.c_contiguous and kernels.fused(x):
        return kernels.call("rows", "column_sums")(x.reshape(-1, math.prod(shape))).reshape(shape)
    return shapes.sum_to(x, shape)


def _index(slices):
    """Unwrap Variables inside an index and reject float indices early."""
    if isinstance(slices, tuple):
        return tuple(_index(s) for s in slices)
    if isinstance(slices, Variable):
        slices = slices.data
    if backend.is_array(slices) and slices.dtype.kind not in "biu":
        raise IndexError(f"index arrays must be integer or boolean, got dtype {slices.dtype}")
    return slices


def _is_basic(slices):
    """True when the index has no arrays or lists (no element can be selected twice)."""
    items = slices if isinstance(slices, tuple) else (slices,)
    return all(s is None or s is Ellipsis or isinstance(s, (slice, int, np.integer)) for s in items)


class GetItem(Function):
    """x[slices]; keeps the input's shape for the backward."""

    keeps_output = saves_inputs = False

    def __init__(self, slices):
        self.slices = _index(slices)

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.slices]

    def backward(self, gy):
        return GetItemGrad(self.slices, self.x_shape)(gy)


class GetItemGrad(Function):
    """Scatter gy into zeros of the input's shape, accumulating repeated indices."""

    keeps_output = saves_inputs = False

    def __init__(self, slices, in_shape):
        self.slices = slices
        self.in_shape = in_shape

    @half_in_float32
    def forward(self, gy):
        gx = backend.get_array_module(gy).zeros(self.in_shape, dtype=gy.dtype)
        s = self.slices
        if _is_basic(s):
            gx[s] = gy
        elif backend.picks_rows(gx, s, gy) and kernels.fused(gx):  # one index array (an embedding)
            k = math.prod(gx.shape[1:])
            kernels.call("rows", "add_rows")(gx.reshape(len(gx), k), s.reshape(-1),
                                             np.ascontiguousarray(gy).reshape(s.size, k))
        else:
            backend.scatter_add(gx, s, gy)
        return gx

    def backward(self, ggx):
        return get_item(ggx, self.slices)


def copy(x):
    """A copy of x with an array of its own (torch's clone), recorded: gradients pass through."""
    return Copy()(x)


def reshape(x, shape):
    """x with a new shape of the same size (x itself if it has it already)."""
    return as_variable(x, "reshape: x").reshape((shape,) if isinstance(shape, (int, np.integer)) else shape)


def flatten(x, start_axis=0, end_axis=-1):
    """x with axes start_axis to end_axis (inclusive) merged into one, as torch.flatten (all axes by default;
    flatten(x, 1) keeps the batch axis, as DeZero's flatten and torch's nn.Flatten)."""
    x = as_variable(x, "flatten: x")
    if x.ndim == 0:
        return reshape(x, (1,))
    lo, hi = (shapes.normalize_axis(a, x.ndim, "flatten")[0] for a in (start_axis, end_axis))
    if lo > hi:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for an input of shape "
                         f"{x.shape}")
    return reshape(x, x.shape[:lo] + (int(np.prod(x.shape[lo:hi + 1])),) + x.shape[hi + 1:])


def expand_dims(x, axis):
    """x with a new axis of length 1 at position axis (np.expand_dims, torch.unsqueeze)."""
    x = as_variable(x, "expand_dims: x")
    ax = shapes.normalize_axis(axis, x.ndim + 1, "expand_dims")[0]
    return reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])


def squeeze(x, axis=None):
    """x without its axes of length 1 (all of them, or those in axis: an int or a tuple). An axis of another
    length is a ValueError, as in NumPy (torch leaves it silently)."""
    x = as_variable(x, "squeeze: x")
    axes = tuple(a for a, n in enumerate(x.shape) if n == 1) if axis is None else \
        shapes.normalize_axis(axis, x.ndim, "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of x of shape {x.shape} has length {x.shape[a]}, not 1")
    return reshape(x, tuple(n for a, n in enumerate(x.shape) if a not in axes))


def transpose(x, axes=None):
    """Permute the axes (reverse them when axes is None)."""
    return Transpose(axes)(x)


def broadcast_to(x, shape):
    """Broadcast x to `shape` (gradient: sum back to x's shape)."""
    x = as_variable(x, "broadcast_to: x")
    return x if x.shape == tuple(shape) else BroadcastTo(shape)(x)


def sum_to(x, shape):
    """Sum x down to `shape`, undoing a broadcast (gradient: broadcast back)."""
    x = as_variable(x, "sum_to: x")
    return x if x.shape == tuple(shape) else SumTo(shape)(x)


def get_item(x, slices):
    """x[slices]: basic and integer/boolean array indexing; repeated indices accumulate gradients."""
    return GetItem(slices)(x)


def embed_id(x, W):
    """Rows W[x] of the embedding matrix W (V, D) for integer ids x of any shape: (..., D). Ids outside [0, V)
    raise IndexError (indexing would wrap -1 to the last row); repeated ids accumulate their gradients."""
    ids = as_variable(x, "embed_id: x").data
    W = as_variable(W, "embed_id: W")
    if W.ndim != 2:
        raise ValueError(f"embed_id: W must be a (vocabulary, dimension) matrix, got shape {W.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embed_id: ids must be integers, got {ids.dtype}")
    lo, hi = (int(ids.min()), int(ids.max())) if ids.size else (0, -1)  # no ids: nothing out of range
    if lo < 0 or hi >= W.shape[0]:
        bad = lo if lo < 0 else hi
        raise IndexError(f"embed_id: id {bad} is out of range for a vocabulary of {W.shape[0]} "
                         f"(expected 0 <= id < {W.shape[0]})")
    return get_item(W, ids)


def unreduce(gy, x_shape, axes, keepdims):
    """The gradient gy of a reduction over axes, broadcast back to the input's shape x_shape."""
    return broadcast_to(gy if keepdims else reshape(gy, shapes.keepdims_shape(x_shape, axes)), x_shape)
