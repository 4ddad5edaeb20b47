"""Variable, Function and the backward engine: the graph, and how gradients flow through it."""
import heapq
import operator
import weakref

import numpy as np

from minigrad import backend
from minigrad.config import Config, using_config

__all__ = ["Function", "Parameter", "Variable", "as_array", "as_operand", "as_variable", "grad"]

_OPS = {}  # Function.registry: name -> public Function subclass defined inside minigrad

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
        if a.dtype.kind in "fbiu":
            return a.astype(Config.default_dtype, copy=False) if a.dtype.kind == "f" else a
        raise TypeError(f"Variable data must be a nested list of numbers, got elements of dtype {a.dtype}")
    raise TypeError(f"Variable data must be an ndarray, a number or a nested list of numbers, "
                    f"got {type(data).__name__}")


class Variable:
    """A node of the graph: an array (`data`), its gradient (`grad`) and the Function that made it."""

    __slots__ = ("data", "name", "grad", "creator", "generation", "index", "requires_grad", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: np.ones(3) * x is a Variable

    def __init__(self, data, name=None):
        if isinstance(data, Variable):
            raise TypeError("Variable data must be an array, got a Variable; use as_variable(x)")
        self.data = _to_array(data)
        self.name = name
        self.grad = self.creator = None
        self.generation = self.index = 0
        self.requires_grad = self.data.dtype.kind in "fc"  # integer labels and masks take no gradient

    @classmethod
    def _from_op(cls, data, creator, index):
        """Fast constructor for Function outputs (creator None: not recorded)."""
        v = cls.__new__(cls)
        v.data, v.name, v.grad, v.index, v.creator = data, None, None, index, creator
        v.generation = 0 if creator is None else creator.generation + 1
        v.requires_grad = creator is not None
        return v

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = str(self.data).replace("\n", "\n" + " " * 9)
        extra = "" if self.data.dtype == np.float64 else f", dtype={self.data.dtype}"
        extra += "" if self.name is None else f", name={self.name!r}"
        extra += "" if self.creator is None else f", creator={type(self.creator).__name__}"
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

    # The operators call minigrad's primitives by name: they live in minigrad.ops (which imports this
    # module) and register themselves in Function.registry when minigrad is imported.
    def __add__(self, other): return _OPS["Add"]()(self, as_operand(other, self))
    def __radd__(self, other): return _OPS["Add"]()(as_operand(other, self), self)
    def __sub__(self, other): return _OPS["Sub"]()(self, as_operand(other, self))
    def __rsub__(self, other): return _OPS["Sub"]()(as_operand(other, self), self)
    def __mul__(self, other): return _OPS["Mul"]()(self, as_operand(other, self))
    def __rmul__(self, other): return _OPS["Mul"]()(as_operand(other, self), self)
    def __truediv__(self, other): return _OPS["Div"]()(self, as_operand(other, self))
    def __rtruediv__(self, other): return _OPS["Div"]()(as_operand(other, self), self)
    def __pow__(self, other): return _OPS["Pow"]()(self, as_operand(other, self))
    def __rpow__(self, other): return _OPS["Pow"]()(as_operand(other, self), self)
    def __neg__(self): return _OPS["Neg"]()(self)
    def __matmul__(self, other): return _OPS["MatMul"]()(self, other)
    def __rmatmul__(self, other): return _OPS["MatMul"]()(other, self)
    def __getitem__(self, slices): return _OPS["GetItem"](slices)(self)

    @property
    def T(self):
        return _OPS["Transpose"]()(self)

    def transpose(self, *axes):
        """The axes permuted: x.transpose(1, 0, 2), x.transpose((1, 0, 2)); reversed without axes."""
        if len(axes) == 1 and (isinstance(axes[0], (tuple, list)) or axes[0] is None):
            axes = axes[0]
        return _OPS["Transpose"](axes or None)(self)

    def reshape(self, *shape):
        """x.reshape(2, 3) or x.reshape((2, 3)); x itself when the shape is unchanged."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self if shape == self.data.shape else _OPS["Reshape"](shape)(self)

    def sum(self, axis=None, keepdims=False):
        return _OPS["Sum"](axis, keepdims)(self)

    # Comparisons give plain arrays (nothing to differentiate); hashing stays by identity.
    def __eq__(self, other): return self.data == as_array(other)
    def __ne__(self, other): return self.data != as_array(other)
    def __lt__(self, other): return self.data < as_array(other)
    def __le__(self, other): return self.data <= as_array(other)
    def __gt__(self, other): return self.data > as_array(other)
    def __ge__(self, other): return self.data >= as_array(other)
    __hash__ = object.__hash__

    def backward(self, grad=None, retain_grad=False, create_graph=False):
        """Accumulate d(self)/d(leaf) * grad into every leaf's .grad (grad defaults to ones)."""
        for x, gx in _backprop(self, grad, retain_grad, create_graph).values():
            gx = _wrap(gx)
            x.grad = gx if x.grad is None else _add_grads(x.grad, gx, create_graph)


class Parameter(Variable):
    """A Variable holding trainable state (collected by layers and updated by optimizers)."""

    __slots__ = ()


def as_array(x):
    """The array inside a Variable; anything else unchanged."""
    return x.data if isinstance(x, Variable) else x


def as_variable(x):
    """x itself if it is a Variable, else a constant Variable (no gradient) wrapping the array."""
    if isinstance(x, Variable):
        return x
    v = Variable(x)
    v.requires_grad = False
    return v


_PY_NUMBERS = frozenset((float, int, bool))


def as_operand(x, like):
    """x as the other operand of a binary op with the Variable `like`.

    Scalars (Python or numpy numbers, 0-d arrays) take like's float dtype, as torch does with wrapped
    numbers, so that float32 stays float32 under NumPy 2's promotion rules.
    """
    if isinstance(x, Variable):
        return x
    data = like.data
    if type(x) in _PY_NUMBERS or isinstance(x, np.generic) or (backend.is_array(x) and x.ndim == 0):
        dtype = data.dtype
        if dtype.kind == "f" or (isinstance(x, int) and dtype.kind in "iu"):
            xp = np if type(data) is np.ndarray else backend.get_array_module(data)
            return Variable._from_op(xp.asarray(x, dtype=dtype), None, 0)
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
    return np.asarray(y) if isinstance(y, np.generic) or not backend.is_array(y) else y


class Function:
    """An operation: subclass with forward(*arrays) -> array(s) and backward(*gys) -> Variable(s).

    What backward may use: self.inputs (always kept), self.outputs (weak references, only when the
    class keeps `keeps_output = True`), self.needs_input_grad, and the attributes that forward or the
    constructor set on self, which the class docstring names. backward receives the output gradients
    as Variables (None for an output that got none) and returns one gradient per input (a Variable,
    or None where `needs_input_grad` is False). Instances are single use.
    """

    registry = _OPS  # name -> public Function subclass defined inside minigrad
    keeps_output = True  # False for single-output Functions whose backward never reads the output
    _called = False
    _output = None  # weakref to the output (single-output Functions)
    _outputs = None  # weakrefs to the outputs when there are several

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] == "minigrad" and not cls.__name__.startswith("_"):
            known = Function.registry.setdefault(cls.__name__, cls)
            if known is not cls:  # the operators find their Functions by name: names must be unique
                raise TypeError(f"two minigrad Functions are named {cls.__name__}: in {known.__module__} "
                                f"and in {cls.__module__}")

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
                self.needs_input_grad = _NEEDS.setdefault(needs, needs)  # one shared tuple per pattern
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
        return [Variable._from_op(_as_output(y), None, 0) for y in ys]

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

def _add_grads(a, b, create_graph):
    """a + b for gradients: a recorded add with create_graph, else a plain array sum."""
    return a + b if create_graph else Variable._from_op(_as_output(a.data + b.data), None, 0)


def _sum_raw(a, b, create_graph):
    """Like _add_grads, but without create_graph a stays a raw array (wrapped once at the end)."""
    if create_graph:
        return a + b
    # [()] turns 0-d arrays into numpy scalars, whose sums are several times cheaper.
    return (a.data[()] if isinstance(a, Variable) else a) + b.data[()]


def _wrap(g):
    return g if isinstance(g, Variable) else Variable._from_op(_as_output(g), None, 0)


def _backprop(y, grad, report, create_graph):
    """Reverse-mode sweep from y, Functions popped by generation from a heap (no recursion).

    Returns {id(x): [x, gradient]} for every leaf x, and for every non-leaf too when `report`; a
    gradient may be a raw array (wrap it with _wrap) unless create_graph.
    """
    gy = as_variable(backend.get_array_module(y).ones_like(y.data) if grad is None else grad)
    if gy.shape != y.shape:
        raise ValueError(f"grad has shape {gy.shape}, expected the output's shape {y.shape}")
    sums = {}  # id(x) -> [x, gradient so far]
    with using_config("enable_backprop", create_graph):
        f = y.creator
        if f is None or report:
            sums[id(y)] = [y, gy]
        if f is None:
            return sums
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
    return sums


def grad(y, xs, gy=None, create_graph=False):
    """Gradients of y with respect to each Variable in xs (None where y does not depend on it).

    Unlike y.backward(), no .grad attribute is read or written.
    """
    xs = list(xs)
    found = _backprop(y, gy, True, create_graph)
    return [_wrap(found[id(x)][1]) if id(x) in found else None for x in xs]
