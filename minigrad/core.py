"""Variable, Function and the backward engine: the graph, and how gradients flow through it."""
import heapq
import itertools
import warnings
import weakref

import numpy as np

from minigrad import arrays, backend, guards
from minigrad.config import MODE

__all__ = ["Function", "Parameter", "Variable", "as_array", "as_operand", "as_variable", "grad"]

_OPS = {}  # Function.registry: name -> public Function subclass defined inside minigrad
# A clock numbers every assignment to a Variable's .data; a recorded Function notes the latest number, so a
# saved Variable with a later one was changed in place after the forward.
_CLOCK = itertools.count(1)
_LAST_WRITE = [0]


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
        self._version = _LAST_WRITE[0] = next(_CLOCK)

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


_new = object.__new__
_NEEDS = {}  # needs_input_grad patterns, shared between Functions


def _as_output(y):
    """numpy turns 0-d results into scalars; make them arrays again."""
    if type(y) is np.ndarray:
        return y
    return np.asarray(y) if isinstance(y, np.generic) or not backend.is_array(y) else y


class Function:
    """An operation: subclass with forward(*arrays) -> array(s) and backward(*gys) -> Variable(s).

    What backward may use: self.inputs (always kept; a class whose backward never reads their values
    sets `saves_inputs = False`), self.outputs (weak references, only when the class keeps
    `keeps_output = True`), self.needs_input_grad, and the attributes that forward or the constructor
    set on self, which the class docstring names. backward receives the output gradients
    as Variables (None for an output that got none) and returns one gradient per input (a Variable,
    or None where `needs_input_grad` is False). Instances are single use.
    """

    registry = _OPS  # name -> public Function subclass defined inside minigrad
    keeps_output = True  # False for single-output Functions whose backward never reads the output
    saves_inputs = True  # False for Functions whose backward never reads the inputs' values
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
        # One- and two-input calls are most calls: they are spelled out, as builtins like map() and max() cost
        # more than the attribute reads they replace.
        n = len(inputs)
        if n == 2:
            x0, x1 = inputs
            if not (isinstance(x0, Variable) and isinstance(x1, Variable)):
                x0, x1 = inputs = self._variables(inputs)
            ys = self.forward(x0._data, x1._data)
        elif n == 1:
            x0 = inputs[0]
            if not isinstance(x0, Variable):
                x0, = inputs = self._variables(inputs)
            ys = self.forward(x0._data)
        else:
            for x in inputs:
                if not isinstance(x, Variable):
                    inputs = self._variables(inputs)
                    break
            ys = self.forward(*[x._data for x in inputs])
        single = type(ys) is not tuple
        recording, anomalies = MODE.get()  # Config.enable_backprop and .detect_anomaly in this thread
        if anomalies:
            self.call_site = guards.call_site()
            guards.check_finite(self, "forward", (ys,) if single else ys, self.call_site)
        if recording:
            if n == 2:
                needs, gen, gen1 = (x0.requires_grad, x1.requires_grad), x0.generation, x1.generation
                gen = gen if gen > gen1 else gen1
            elif n == 1:
                needs, gen = (x0.requires_grad,), x0.generation
            else:
                needs = tuple([x.requires_grad for x in inputs])
                gen = max([x.generation for x in inputs], default=0)
            if True in needs:
                self.generation = gen
                self._stamp = _LAST_WRITE[0]
                self.inputs = inputs
                self.needs_input_grad = _NEEDS.setdefault(needs, needs)  # one shared tuple per pattern
                if single:
                    y = _new(Variable)  # Variable._from_op, inlined on this hot path
                    y._data = ys if type(ys) is np.ndarray else _as_output(ys)
                    y.name = y.grad = None
                    y.index = y._version = 0
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

    def _variables(self, inputs):
        return tuple(as_variable(v, f"{type(self).__name__} input {i}") for i, v in enumerate(inputs))

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


def _add_grads(a, b, create_graph):
    """a + b for gradients: a recorded add with create_graph, else a plain array sum."""
    return a + b if create_graph else Variable._from_op(_as_output(a._data + b._data), None, 0)


def _sum_raw(a, b, create_graph):
    """Like _add_grads, but without create_graph a raw array (0-d ones as numpy scalars, cheaper to add)."""
    return a + b if create_graph else (a._data[()] if isinstance(a, Variable) else a) + b._data[()]


def _wrap(g):
    return g if isinstance(g, Variable) else Variable._from_op(_as_output(g), None, 0)


def _own(g, handed, create_graph):
    """g as a Variable whose array is its own: writable, not a broadcast, sharing no memory with a gradient
    already handed out or the caller's seed (their memory owners' ids are in `handed`)."""
    v = _wrap(g)
    root = backend.memory_root(v._data)
    if id(root) in handed or not backend.writable(v._data):
        v = _OPS["Copy"]()(v) if create_graph else Variable._from_op(v._data.copy(), None, 0)
        root = v._data  # a fresh copy owns its memory
    handed.add(id(root))
    return v


def _check_saved(f):
    """Raise if a Variable that f's backward reads had its .data assigned after f was recorded."""
    saved = [("input", i, x) for i, x in enumerate(f.inputs)] if f.saves_inputs else []
    saved += [("output", i, ref()) for i, ref in enumerate(f.outputs)] if f.keeps_output else []
    for kind, i, x in saved:
        if x is not None and x._version > f._stamp:
            raise guards.modified_error(f, kind, i, x)


def _backprop(y, grad, report, create_graph):
    """Reverse-mode sweep from y, Functions popped by generation from a heap (no recursion).

    Returns {id(x): [x, gradient]} for every leaf x, and for every non-leaf too when `report`; a
    gradient may be a raw array (wrap it with _wrap) unless create_graph.
    """
    if not isinstance(y, Variable):
        raise TypeError(f"expected a Variable to differentiate, got {type(y).__name__}")
    if not y.requires_grad:
        raise RuntimeError("this Variable does not require a gradient: it was computed under no_grad(), or "
                           "only from inputs that take none (integer data, constants), so it has no graph to "
                           "differentiate")
    if grad is None:
        gy = Variable._from_op(_ones_like(y._data), None, 0)
    else:
        gy = as_variable(grad)
        if gy.shape != y.shape:
            raise ValueError(f"grad has shape {gy.shape}, expected the output's shape {y.shape}")
    sums = {}  # id(x) -> [x, gradient so far]
    mode = MODE.get()
    anomalies = mode[1]
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
        pop, push, last_write = heapq.heappop, heapq.heappush, _LAST_WRITE
        while heap:
            f = pop(heap)[2]
            if last_write[0] > f._stamp:  # some .data was assigned after f was recorded
                _check_saved(f)
            gxs = f.backward(*pending.pop(f)) if not anomalies else guards.checked_backward(f, pending.pop(f))
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx, need in zip(f.inputs, gxs, f.needs_input_grad):
                if gx is None or not need:
                    continue
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


_ONES = {}  # dtype -> a read-only 0-d one: the seed of a scalar's backward (no allocation; never written)


def _ones_like(a):
    if type(a) is np.ndarray and not a.ndim:
        one = _ONES.get(a.dtype)
        if one is None:
            one = _ONES[a.dtype] = np.ones((), a.dtype)
            one.flags.writeable = False
        return one
    return backend.get_array_module(a).ones_like(a)


def backward(y, grad=None, retain_grad=False, create_graph=False):
    """Variable.backward: accumulate d(y)/d(x) * grad into x.grad for every leaf x (and every x when
    retain_grad); each .grad set here is an array of its own."""
    if create_graph:
        warnings.warn(guards.CYCLE_WARNING, stacklevel=3)
    found = _backprop(y, grad, retain_grad, create_graph)
    handed = set() if grad is None else {id(backend.memory_root(as_array(grad)))}
    for x, gx in found.values():
        x.grad = _own(gx, handed, create_graph) if x.grad is None else _add_grads(x.grad, _wrap(gx), create_graph)


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
