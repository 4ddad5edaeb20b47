"""Variable and the backward engine: the graph's nodes, and how gradients flow through it."""
import heapq
import itertools

import numpy as np

from minigrad import arrays, backend, guards
from minigrad.config import MODE

__all__ = ["Parameter", "Variable", "as_array", "as_operand", "as_variable", "as_output", "grad", "wrap"]

OPS = {}  # Function.registry: name -> public Function subclass defined inside minigrad (minigrad.function)
# A clock numbers every assignment to a Variable's .data; a recorded Function notes the latest number, so a
# saved Variable with a later one was changed in place after the forward.
_CLOCK = itertools.count(1)
LAST_WRITE = [0]


class Variable(arrays.NumpyFace):
    """A node of the graph: an array (`data`), its gradient (`grad`) and the Function that made it."""

    __slots__ = ("_data", "_version", "name", "grad", "creator", "generation", "index", "requires_grad",
                 "__weakref__")

    def __init__(self, data, name=None):
        if isinstance(data, Variable):
            raise TypeError("Variable data must be an array, got a Variable; use as_variable(x)")
        self._data = arrays.to_array(data)
        self.name = name
        self.grad = self.creator = None
        self.generation = self.index = self._version = 0
        self.requires_grad = self._data.dtype.kind == "f"  # integer labels and masks take no gradient

    @classmethod
    def _from_op(cls, data, creator, index):
        """Fast constructor for Function outputs (creator None: not recorded)."""
        v = cls.__new__(cls)
        v._data, v.name, v.grad, v.index, v.creator, v._version = data, None, None, index, creator, 0
        v.generation = 0 if creator is None else creator.generation + 1
        v.requires_grad = creator is not None
        return v

    @property
    def data(self):
        """The array. Assigning to it (`w.data = ...`, `w.data -= lr * g`) is seen by the graph: a Function
        that saved this Variable refuses to run its backward with the changed values."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value
        self._version = LAST_WRITE[0] = next(_CLOCK)

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    dtype = property(lambda self: self._data.dtype)

    def __len__(self):
        return len(self._data)

    def cleargrad(self):
        self.grad = None

    def unchain(self):
        """Cut this Variable from its creator (it becomes a leaf)."""
        self.creator = None

    def unchain_backward(self):
        """Cut every Variable behind this one from its creator (truncated BPTT): the graph that made this Variable
        is freed once nothing else holds it; this Variable keeps its own creator. Iterative, any depth."""
        todo, seen = [self.creator] if self.creator is not None else [], set()
        while todo:
            f = todo.pop()
            for x in f.inputs:
                if x.creator is not None and id(x.creator) not in seen:
                    seen.add(id(x.creator))
                    todo.append(x.creator)
                x.unchain()

    # The operators call minigrad's primitives by name: they live in minigrad.ops (which imports this
    # module) and register themselves in Function.registry when minigrad is imported.
    def __add__(self, other): return OPS["Add"]()(self, as_operand(other, self))
    def __radd__(self, other): return OPS["Add"]()(as_operand(other, self), self)
    def __sub__(self, other): return OPS["Sub"]()(self, as_operand(other, self))
    def __rsub__(self, other): return OPS["Sub"]()(as_operand(other, self), self)
    def __mul__(self, other): return OPS["Mul"]()(self, as_operand(other, self))
    def __rmul__(self, other): return OPS["Mul"]()(as_operand(other, self), self)
    def __truediv__(self, other): return OPS["Div"]()(self, as_operand(other, self))
    def __rtruediv__(self, other): return OPS["Div"]()(as_operand(other, self), self)
    def __pow__(self, other): return OPS["Pow"]()(self, as_operand(other, self))
    def __rpow__(self, other): return OPS["Pow"]()(as_operand(other, self), self)
    def __neg__(self): return OPS["Neg"]()(self)
    def __matmul__(self, other): return OPS["MatMul"]()(self, other)
    def __rmatmul__(self, other): return OPS["MatMul"]()(other, self)
    def __getitem__(self, slices): return OPS["GetItem"](slices)(self)

    @property
    def T(self):
        return OPS["Transpose"]()(self)

    def transpose(self, *axes):
        """The axes permuted: x.transpose(1, 0, 2), x.transpose((1, 0, 2)); reversed without axes."""
        if len(axes) == 1 and (isinstance(axes[0], (tuple, list)) or axes[0] is None):
            axes = axes[0]
        return OPS["Transpose"](axes or None)(self)

    def reshape(self, *shape):
        """x.reshape(2, 3) or x.reshape((2, 3)); x itself when the shape is unchanged."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self if shape == self.data.shape else OPS["Reshape"](shape)(self)

    def sum(self, axis=None, keepdims=False):
        return OPS["Sum"](axis, keepdims)(self)

    def backward(self, grad=None, retain_grad=False, create_graph=False):
        """Accumulate d(self)/d(leaf) * grad into every leaf's .grad (grad defaults to ones); each .grad is an
        array of its own. create_graph=True records the gradients' graph (warns: mg.grad avoids a cycle)."""
        backward(self, grad, retain_grad, create_graph)


class Parameter(Variable):
    """A Variable holding trainable state (collected by layers and updated by optimizers). Parameter(None) is
    lazily sized: its layer's first forward pass, or load_weights, assigns its array."""

    __slots__ = ()

    def __init__(self, data, name=None):
        super().__init__(np.zeros(0) if data is None else data, name)
        if data is None:
            self._data = None


def as_array(x):
    """The array inside a Variable; anything else unchanged."""
    return x.data if isinstance(x, Variable) else x


def as_variable(x, what="Variable data"):
    """x itself if it is a Variable, else a constant Variable (no gradient) wrapping the array; a TypeError
    naming `what` (e.g. 'softmax: x') for data that is not real numbers."""
    if isinstance(x, Variable):
        return x
    return Variable._from_op(arrays.to_array(x, what), None, 0)


_PY_NUMBERS = frozenset((float, int, bool))


def as_operand(x, like):
    """x as the other operand of a binary op with the Variable `like`. Scalars (Python or numpy numbers, 0-d
    arrays) take like's float dtype, as torch's wrapped numbers do: float32 stays float32 under NumPy 2."""
    if isinstance(x, Variable):
        return x
    data = like._data
    if type(x) in _PY_NUMBERS or isinstance(x, np.generic) or (backend.is_array(x) and x.ndim == 0):
        dtype = data.dtype
        if dtype.kind == "f" or (isinstance(x, int) and dtype.kind in "iu"):
            xp = np if type(data) is np.ndarray else backend.get_array_module(data)
            return Variable._from_op(xp.asarray(x, dtype=dtype), None, 0)
    return as_variable(x)


def as_output(y):
    """numpy turns 0-d results into scalars; make them arrays again."""
    if type(y) is np.ndarray:
        return y
    return np.asarray(y) if isinstance(y, np.generic) or not backend.is_array(y) else y


def _add_grads(a, b, create_graph):
    """a + b for gradients: a recorded add with create_graph, else a plain array sum."""
    return a + b if create_graph else Variable._from_op(as_output(a._data + b._data), None, 0)


def _sum_raw(a, b, create_graph):
    """Like _add_grads, but without create_graph a raw array (0-d ones as numpy scalars, cheaper to add)."""
    return a + b if create_graph else (a._data[()] if isinstance(a, Variable) else a) + b._data[()]


def wrap(g):
    """g as a Variable: g itself, or a constant around the array g (numpy scalars become 0-d arrays)."""
    return g if isinstance(g, Variable) else Variable._from_op(as_output(g), None, 0)


def _own(g, handed, create_graph):
    """g as a Variable whose array is its own: writable, not a broadcast, sharing no memory with a gradient
    already handed out or the caller's seed (their memory owners' ids are in `handed`)."""
    v = wrap(g)
    root = backend.memory_root(v._data)
    if id(root) in handed or not backend.writable(v._data):
        v = OPS["Copy"]()(v) if create_graph else Variable._from_op(v._data.copy(), None, 0)
        root = v._data  # a fresh copy owns its memory
    handed.add(id(root))
    return v


def _backprop(y, grad, report, create_graph):
    """Reverse-mode sweep from y, Functions popped by generation from a heap (no recursion).

    Returns {id(x): [x, gradient]} for every leaf x, and for every non-leaf too when `report`; a
    gradient may be a raw array (wrap it with _wrap) unless create_graph.
    """
    if not isinstance(y, Variable):
        raise TypeError(f"expected a Variable to differentiate, got {type(y).__name__}")
    if not y.requires_grad:
        raise RuntimeError(guards.NO_GRAPH)
    if grad is None:
        gy = Variable._from_op(backend.ones_like(y._data), None, 0)
    else:
        gy = as_variable(grad)
        if gy.shape != y.shape:
            raise ValueError(f"grad has shape {gy.shape}, expected the output's shape {y.shape}")
    sums = {}  # id(x) -> [x, gradient so far]
    anomalies = MODE.get()[1]
    token = MODE.set([create_graph, anomalies])  # using_config("enable_backprop", create_graph), inlined
    try:
        f = y.creator
        if f is None or report:
            sums[id(y)] = [y, gy]
        if f is None:
            return sums
        pending = {f: [None] * (1 if f._outputs is None else len(f._outputs))}
        pending[f][y.index] = gy
        heap = [(-f.generation, 0, f)]
        count = 1
        pop, push, last_write = heapq.heappop, heapq.heappush, LAST_WRITE
        while heap:
            f = pop(heap)[2]
            if last_write[0] > f._stamp:  # some .data was assigned after f was recorded
                guards.check_saved(f)
            gxs = f.backward(*pending.pop(f)) if not anomalies else guards.checked_backward(f, pending.pop(f))
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx, need in zip(f.inputs, gxs, f.needs_input_grad):
                if gx is None or not need:
                    continue
                if type(gx) is not Variable and not isinstance(gx, Variable):
                    raise TypeError(f"{type(f).__name__}.backward returned a {type(gx).__name__} for input "
                                    f"{f.inputs.index(x)}; expected a Variable (wrap an array as Variable(gx)) or None")
                if gx._data.shape != x._data.shape:
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
    finally:
        MODE.reset(token)
    return sums


def backward(y, grad=None, retain_grad=False, create_graph=False):
    """Variable.backward: accumulate d(y)/d(x) * grad into x.grad for every leaf x (and every x when
    retain_grad); each .grad set here is an array of its own."""
    if create_graph:
        guards.warn_once("cycle", guards.CYCLE_WARNING, stacklevel=3)
    found = _backprop(y, grad, retain_grad, create_graph)
    handed = set() if grad is None else {id(backend.memory_root(as_array(grad)))}
    for x, gx in found.values():
        x.grad = _own(gx, handed, create_graph) if x.grad is None else _add_grads(x.grad, wrap(gx), create_graph)


def grad(y, xs, gy=None, create_graph=False):
    """Gradients of y with respect to each Variable in xs (a list, or a single Variable: a list of one),
    None where y does not depend on it. Unlike y.backward(), no .grad attribute is read or written."""
    xs = [xs] if isinstance(xs, Variable) else list(xs)
    for i, x in enumerate(xs):
        if not isinstance(x, Variable):
            raise TypeError(f"grad: xs[{i}] is a {type(x).__name__}, expected a Variable")
    found = _backprop(y, gy, True, create_graph)
    handed = set() if gy is None else {id(backend.memory_root(as_array(gy)))}
    return [_own(found[id(x)][1], handed, create_graph) if id(x) in found else None for x in xs]
