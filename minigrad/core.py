"""Variable, Function, the backward engine, and the primitive ops Variable's operators use."""
import heapq
import operator
import weakref

import numpy as np

from minigrad import backend
from minigrad.backend import get_array_module
from minigrad.config import Config, using_config

_NUMBER_TYPES = (int, float, bool, np.generic)


# ----------------------------------------------------------------------------- Variable

def _to_array(data):
    """Turn user data (array, number, nested list) into an array; TypeError for anything else."""
    if backend.is_array(data):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    if isinstance(data, (int, float, bool)):
        return np.asarray(data, dtype=Config.default_dtype if isinstance(data, float) else None)
    if isinstance(data, (list, tuple)):
        try:
            a = np.asarray(data)
        except ValueError as e:
            raise TypeError(f"Variable data must be a rectangular nested list of numbers: {e}") from None
        if a.dtype.kind == "f":
            return a.astype(Config.default_dtype, copy=False)
        if a.dtype.kind in "biu":
            return a
        raise TypeError(f"Variable data must be a nested list of numbers, got elements of dtype {a.dtype}")
    raise TypeError(f"Variable data must be an ndarray, a number or a nested list of numbers, "
                    f"got {type(data).__name__}")


class Variable:
    """A node of the graph: an array (`data`), its gradient (`grad`) and the Function that made it."""

    __slots__ = ("data", "name", "grad", "creator", "generation", "index", "requires_grad",
                 "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: np.ones(3) * x is a Variable

    def __init__(self, data, name=None):
        if isinstance(data, Variable):
            raise TypeError("Variable data must be an array, got a Variable; use as_variable(x)")
        self.data = _to_array(data)
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0
        self.index = 0
        # Only floating point data can take gradients (integer labels, masks cannot).
        self.requires_grad = self.data.dtype.kind in "fc"

    @classmethod
    def _from_op(cls, data, creator, index):
        """Fast constructor for Function outputs (creator None: not recorded)."""
        v = cls.__new__(cls)
        v.data = data
        v.name = None
        v.grad = None
        v.index = index
        v.creator = creator
        if creator is None:
            v.generation = 0
            v.requires_grad = False
        else:
            v.generation = creator.generation + 1
            v.requires_grad = True
        return v

    # -- array-like attributes
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = str(self.data).replace("\n", "\n" + " " * 9)
        extra = ""
        if self.data.dtype != np.float64:
            extra += f", dtype={self.data.dtype}"
        if self.name is not None:
            extra += f", name={self.name!r}"
        if self.creator is not None:
            extra += f", creator={type(self.creator).__name__}"
        return f"variable({body}{extra})"

    def cleargrad(self):
        self.grad = None

    def unchain(self):
        """Cut this Variable from its creator (it becomes a leaf)."""
        self.creator = None

    def to_cpu(self):
        """Move the data (and the gradient) to a NumPy array; returns self."""
        self.data = backend.as_numpy(self.data)
        if self.grad is not None:
            self.grad.to_cpu()
        return self

    def to_gpu(self, device=None):
        """Move the data (and the gradient) to a CuPy array on GPU `device` (default: the current one);
        raises RuntimeError saying why without a GPU."""
        self.data = backend.as_cupy(self.data, device)
        if self.grad is not None:
            self.grad.to_gpu(device)
        return self

    # -- shape methods
    @property
    def T(self):
        return transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 0:
            axes = None
        elif len(axes) == 1 and (isinstance(axes[0], (tuple, list)) or axes[0] is None):
            axes = axes[0]
        return transpose(self, axes)

    def sum(self, axis=None, keepdims=False):
        return sum(self, axis, keepdims)

    # -- operators
    def __add__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Add()(self, other)

    def __radd__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Add()(self, other)

    def __sub__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Sub()(self, other)

    def __rsub__(self, other):
        return sub(_constant(other, self), self)

    def __mul__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Mul()(self, other)

    def __rmul__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Mul()(self, other)

    def __truediv__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Div()(self, other)

    def __rtruediv__(self, other):
        return div(_constant(other, self), self)

    def __pow__(self, other):
        if not isinstance(other, Variable):
            other = _constant(other, self)
        return Pow()(self, other)

    def __rpow__(self, other):
        return pow(_constant(other, self), self)

    def __neg__(self):
        return neg(self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __getitem__(self, slices):
        return get_item(self, slices)

    # Comparisons give plain arrays (nothing to differentiate); hashing stays by identity.
    def __eq__(self, other):
        return self.data == _data(other)

    def __ne__(self, other):
        return self.data != _data(other)

    def __lt__(self, other):
        return self.data < _data(other)

    def __le__(self, other):
        return self.data <= _data(other)

    def __gt__(self, other):
        return self.data > _data(other)

    def __ge__(self, other):
        return self.data >= _data(other)

    __hash__ = object.__hash__

    # -- backward
    def backward(self, grad=None, retain_grad=False, create_graph=False):
        """Accumulate d(self)/d(leaf) * grad into every leaf's .grad (grad defaults to ones)."""
        _backprop(self, grad, retain_grad, create_graph, None)


class Parameter(Variable):
    """A Variable holding trainable state (collected by layers and updated by optimizers)."""

    __slots__ = ()


def _data(x):
    """The array inside a Variable; anything else unchanged."""
    return x.data if isinstance(x, Variable) else x


def as_variable(x):
    """x itself if it is a Variable, else a constant Variable (no gradient) wrapping the array."""
    if isinstance(x, Variable):
        return x
    v = Variable(x)
    v.requires_grad = False
    return v


def _constant(x, like):
    """A constant operand for a binary op with `like` (a Variable).

    Scalars (Python or numpy numbers, 0-d arrays) take like's float dtype, as torch does with wrapped
    numbers, so that float32 stays float32 under NumPy 2's promotion rules.
    """
    if isinstance(x, Variable):
        return x
    dtype = like.data.dtype
    if isinstance(x, _NUMBER_TYPES) or (backend.is_array(x) and x.ndim == 0):
        if dtype.kind == "f" or (isinstance(x, int) and dtype.kind in "iu"):
            return as_variable(get_array_module(like).asarray(x, dtype=dtype))
    return as_variable(x)


# ----------------------------------------------------------------------------- Function

_get_data = operator.attrgetter("data")
_get_requires_grad = operator.attrgetter("requires_grad")
_get_generation = operator.attrgetter("generation")
_new = object.__new__
_NEEDS = {}  # needs_input_grad patterns, shared between Functions

def _as_output(y):
    """numpy turns 0-d results into scalars; make them arrays again."""
    if type(y) is np.ndarray:
        return y
    if isinstance(y, np.generic) or not backend.is_array(y):
        return np.asarray(y)
    return y


class Function:
    """An operation: subclass with forward(*arrays) -> array(s) and backward(*gys) -> Variable(s).

    backward receives the output gradients as Variables (None for an output that got none) and
    returns one gradient per input (a Variable, or None where `needs_input_grad` is False).
    Instances are single use.
    """

    registry = {}  # name -> public Function subclass defined inside minigrad
    _called = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] == "minigrad" and not cls.__name__.startswith("_"):
            Function.registry[cls.__name__] = cls

    def __call__(self, *inputs):
        if self._called:
            raise RuntimeError(f"this {type(self).__name__} instance was already called; "
                               f"Functions are single use, create a new instance per call")
        self._called = True
        for x in inputs:
            if not isinstance(x, Variable):
                inputs = tuple(map(as_variable, inputs))
                break
        # map() with attrgetters keeps this hot path free of per-call comprehension objects.
        ys = self.forward(*map(_get_data, inputs))
        single = type(ys) is not tuple
        if Config.enable_backprop:
            needs = tuple(map(_get_requires_grad, inputs))
            if True in needs:
                gen = max(map(_get_generation, inputs))
                self.generation = gen
                self.inputs = inputs
                # One shared tuple per pattern: fewer objects for the cycle collector to track.
                self.needs_input_grad = _NEEDS.setdefault(needs, needs)
                if single:
                    y = _new(Variable)  # Variable._from_op, inlined on this hot path
                    y.data = ys if type(ys) is np.ndarray else _as_output(ys)
                    y.name = y.grad = None
                    y.index = 0
                    y.creator = self
                    y.generation = gen + 1
                    y.requires_grad = True
                    if self.keeps_output:
                        self._output = weakref.ref(y)
                    return y
                outputs = [Variable._from_op(_as_output(y), self, i) for i, y in enumerate(ys)]
                self._outputs = tuple(map(weakref.ref, outputs))
                return outputs
        if single:
            return Variable._from_op(_as_output(ys), None, 0)
        outputs = [Variable._from_op(_as_output(y), None, 0) for y in ys]
        return outputs

    keeps_output = True  # False for single-output Functions whose backward never reads it
    _output = None  # weakref to the output (single-output Functions)
    _outputs = None  # weakrefs to the outputs when there are several

    @property
    def outputs(self):
        """Weak references to the outputs: self.outputs[0]() is the first output (or None if freed)."""
        if self._outputs is not None:
            return self._outputs
        if self._output is None:
            raise AttributeError(f"{type(self).__name__} was not recorded or does not keep its output "
                                 f"(keeps_output = False)")
        return (self._output,)

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__}.backward")


# ----------------------------------------------------------------------------- backward engine

def _seed(y, grad):
    if grad is None:
        xp = get_array_module(y)
        return as_variable(xp.ones_like(y.data))
    g = as_variable(grad)
    if g.shape != y.shape:
        raise ValueError(f"grad has shape {g.shape}, expected the output's shape {y.shape}")
    return g


def _add_grads(a, b, create_graph):
    """a + b for gradients: a recorded add with create_graph, else a plain array sum."""
    if create_graph:
        return add(a, b)
    return Variable._from_op(_as_output(a.data + b.data), None, 0)


def _sum_raw(a, b, create_graph):
    """Like _add_grads, but without create_graph a stays a raw array (wrapped once at the end)."""
    if create_graph:
        return add(a, b)
    # [()] turns 0-d arrays into numpy scalars, whose sums are several times cheaper.
    return (a.data[()] if isinstance(a, Variable) else a) + b.data[()]


def _wrap(g):
    return g if isinstance(g, Variable) else Variable._from_op(_as_output(g), None, 0)


def _backprop(y, grad, retain_grad, create_graph, wanted):
    """Reverse-mode sweep from y, functions popped by generation from a heap (no recursion).

    Leaves accumulate into .grad (non-leaves too with retain_grad), unless `wanted` (a dict
    id -> Variable) is given: then the gradients of those Variables are returned in a dict and no
    .grad is touched.
    """
    gy = _seed(y, grad)
    sums = {}  # id(x) -> [x, gradient so far] for every x whose gradient is reported
    report = retain_grad or wanted is not None

    with using_config("enable_backprop", create_graph):
        f = y.creator
        if f is None or report:
            sums[id(y)] = [y, gy]
        if f is not None:
            pending = {f: [None] * (1 if f._outputs is None else len(f._outputs))}
            pending[f][y.index] = gy
            heap = [(-f.generation, 0, f)]
            count = 1
            pop, push = heapq.heappop, heapq.heappush
            while heap:
                f = pop(heap)[2]
                gxs = f.backward(*pending.pop(f))
                if type(gxs) is not tuple:
                    gxs = (gxs,)
                for x, gx, need in zip(f.inputs, gxs, f.needs_input_grad):
                    if gx is None or not need:
                        continue
                    if gx.data.shape != x.data.shape:
                        raise RuntimeError(f"{type(f).__name__}.backward returned a gradient of "
                                           f"shape {gx.shape} for an input of shape {x.shape}")
                    g = x.creator
                    if g is None or report:
                        entry = sums.get(id(x))
                        if entry is None:
                            sums[id(x)] = [x, gx]
                        else:
                            entry[1] = _sum_raw(entry[1], gx, create_graph)
                        if g is None:
                            continue
                    slots = pending.get(g)
                    if slots is None:
                        slots = pending[g] = [None] * (1 if g._outputs is None else len(g._outputs))
                        push(heap, (-g.generation, count, g))
                        count += 1
                    i = x.index
                    slots[i] = gx if slots[i] is None else _add_grads(slots[i], gx, create_graph)
        if wanted is not None:
            return {k: _wrap(v[1]) for k, v in sums.items() if k in wanted}
        for x, gx in sums.values():
            gx = _wrap(gx)
            x.grad = gx if x.grad is None else _add_grads(x.grad, gx, create_graph)
    return None


def grad(y, xs, gy=None, create_graph=False):
    """Gradients of y with respect to each Variable in xs (None where y does not depend on it).

    Unlike y.backward(), no .grad attribute is read or written.
    """
    xs = list(xs)
    found = _backprop(y, gy, False, create_graph, {id(x): x for x in xs})
    return [found.get(id(x)) for x in xs]


# ----------------------------------------------------------------------------- numpy helpers

def _sum_to(x, shape):
    """Sum the array x down to `shape` (the inverse of broadcasting)."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and x.shape[i + lead] != 1)
    y = x.sum(axes, keepdims=True) if axes else x
    return y.reshape(shape) if y.shape != tuple(shape) else y


def _broadcast_shapes(op, a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"{op}: shapes {a} and {b} cannot be broadcast together") from None


def _normalize_axis(axis, ndim, op):
    """A tuple of non-negative axes (all of them for None); ValueError naming a bad axis."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = max(ndim, 1)  # a 0-d input accepts axis 0 and -1, as in torch
    for a in axes:
        if not -n <= a < n:
            raise ValueError(f"{op}: axis {a} is out of range for an input with {ndim} dimensions")
    out = tuple(int(a) % n for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return out if ndim else ()


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _unreduce(gy, x_shape, axes, keepdims):
    """Broadcast the gradient of a reduction over `axes` back to the input's shape."""
    if not keepdims:
        gy = reshape(gy, _keepdims_shape(x_shape, axes))
    return broadcast_to(gy, x_shape)


# ----------------------------------------------------------------------------- arithmetic

class _Binary(Function):
    """Elementwise op of two broadcastable inputs; reduces gradients back to each input's shape."""

    keeps_output = False
    shapes = None  # the input shapes, kept only when they differ (broadcasting)

    def forward(self, x0, x1):
        if x0.shape != x1.shape:
            _broadcast_shapes(type(self).__name__.lower(), x0.shape, x1.shape)
            self.shapes = (x0.shape, x1.shape)
        return self.op(x0, x1)

    def reduce(self, gx0, gx1):
        if self.shapes is None:
            return gx0, gx1
        s0, s1 = self.shapes
        if gx0 is not None and gx0.shape != s0:
            gx0 = sum_to(gx0, s0)
        if gx1 is not None and gx1.shape != s1:
            gx1 = sum_to(gx1, s1)
        return gx0, gx1


class Add(_Binary):
    op = staticmethod(operator.add)

    def backward(self, gy):
        return (gy, gy) if self.shapes is None else self.reduce(gy, gy)


class Sub(_Binary):
    op = staticmethod(operator.sub)

    def backward(self, gy):
        return self.reduce(gy, -gy if self.needs_input_grad[1] else None)


class Mul(_Binary):
    op = staticmethod(operator.mul)

    def backward(self, gy):
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return self.reduce(gy * x1 if n0 else None, gy * x0 if n1 else None)


class Div(_Binary):
    op = staticmethod(operator.truediv)

    def backward(self, gy):
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        gx0 = gy / x1 if n0 else None
        gx1 = -gy * x0 / (x1 * x1) if n1 else None
        return self.reduce(gx0, gx1)


class Pow(_Binary):
    op = staticmethod(operator.pow)
    keeps_output = True
    def backward(self, gy):
        x, c = self.inputs
        n0, n1 = self.needs_input_grad
        gx = gy * c * x ** (c - 1) if n0 else None
        gc = gy * self.outputs[0]() * log(x) if n1 else None
        return self.reduce(gx, gc)


class Neg(Function):
    keeps_output = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]()


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


def add(x0, x1):
    """x0 + x1 with numpy broadcasting."""
    x0 = as_variable(x0)
    return Add()(x0, _constant(x1, x0))


def sub(x0, x1):
    """x0 - x1 with numpy broadcasting."""
    x0 = as_variable(x0)
    return Sub()(x0, _constant(x1, x0))


def mul(x0, x1):
    """x0 * x1 with numpy broadcasting."""
    x0 = as_variable(x0)
    return Mul()(x0, _constant(x1, x0))


def div(x0, x1):
    """x0 / x1 with numpy broadcasting."""
    x0 = as_variable(x0)
    return Div()(x0, _constant(x1, x0))


def pow(x, c):
    """x ** c; c may be a number or a Variable (its gradient is y * log(x))."""
    x = as_variable(x)
    return Pow()(x, _constant(c, x))


def neg(x):
    return Neg()(x)


def exp(x):
    return Exp()(x)


def log(x):
    """Natural logarithm."""
    return Log()(x)


# ----------------------------------------------------------------------------- shapes and reductions

class Reshape(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} "
                             f"(size {x.size}) into shape {self.shape}") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


class Transpose(Function):
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
        inv = tuple(np.argsort([a % len(self.axes) for a in self.axes]))
        return transpose(gy, inv)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return get_array_module(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        if _broadcast_shapes("sum_to", x.shape, self.shape) != x.shape:
            raise ValueError(f"sum_to: shape {x.shape} cannot be summed to {self.shape}")
        return _sum_to(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.axes = _normalize_axis(self.axis, x.ndim, "sum")
        self.x_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _unreduce(gy, self.x_shape, self.axes, self.keepdims)


def reshape(x, shape):
    """x with a new shape of the same size."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if as_variable(x).shape == tuple(shape):
        return as_variable(x)
    return Reshape(shape)(x)


def transpose(x, axes=None):
    """Permute the axes (reverse them when axes is None)."""
    return Transpose(axes)(x)


def broadcast_to(x, shape):
    """Broadcast x to `shape` (gradient: sum back to x's shape)."""
    if as_variable(x).shape == tuple(shape):
        return as_variable(x)
    return BroadcastTo(shape)(x)


def sum_to(x, shape):
    """Sum x down to `shape`, undoing a broadcast (gradient: broadcast back)."""
    if as_variable(x).shape == tuple(shape):
        return as_variable(x)
    return SumTo(shape)(x)


def sum(x, axis=None, keepdims=False):
    """Sum over axis (an int, a tuple, or None for all)."""
    return Sum(axis, keepdims)(x)


# ----------------------------------------------------------------------------- matmul and indexing

class MatMul(Function):
    def forward(self, x, W):
        k0 = x.shape[-1] if x.ndim else None
        k1 = W.shape[-2] if W.ndim >= 2 else (W.shape[0] if W.ndim else None)
        if k0 is None or k1 is None or k0 != k1:
            raise ValueError(f"matmul: shapes {x.shape} and {W.shape} are not aligned "
                             f"(the last axis of the first must match the "
                             f"{'first' if W.ndim < 2 else 'second-to-last'} axis of the second)")
        if x.ndim > 2 or W.ndim > 2:
            _broadcast_shapes("matmul (batch axes)", x.shape[:-2], W.shape[:-2])
        return get_array_module(x).matmul(x, W)

    def backward(self, gy):
        x, W = self.inputs
        # Treat 1-D operands as matrices (1, k) and (k, 1), as matmul itself does.
        x2 = reshape(x, (1, x.shape[0])) if x.ndim == 1 else x
        W2 = reshape(W, (W.shape[0], 1)) if W.ndim == 1 else W
        gy_shape = _broadcast_shapes("matmul", x2.shape[:-2], W2.shape[:-2]) + (x2.shape[-2], W2.shape[-1])
        gy = reshape(gy, gy_shape)
        gx = gW = None
        if self.needs_input_grad[0]:
            gx = reshape(sum_to(matmul(gy, _swap_last(W2)), x2.shape), x.shape)
        if self.needs_input_grad[1]:
            gW = reshape(sum_to(matmul(_swap_last(x2), gy), W2.shape), W.shape)
        return gx, gW


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, axes)


def matmul(x, W):
    """Matrix product with numpy's matmul rules (1-D operands, broadcast batch axes)."""
    return MatMul()(x, W)


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
    def __init__(self, slices):
        self.slices = slices

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.slices]

    def backward(self, gy):
        return GetItemGrad(self.slices, self.x_shape)(gy)


class GetItemGrad(Function):
    """Scatter gy into zeros of the input's shape, accumulating repeated indices."""

    def __init__(self, slices, in_shape):
        self.slices = slices
        self.in_shape = in_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        if _is_basic(self.slices):
            gx[self.slices] = gy
        else:
            backend.scatter_add(gx, self.slices, gy)
        return gx

    def backward(self, ggx):
        return get_item(ggx, self.slices)


def get_item(x, slices):
    """x[slices]: basic and integer/boolean array indexing; repeated indices accumulate gradients."""
    return GetItem(_index(slices))(x)
