"""Function: an operation of the graph, recorded when called on Variables (define-by-run)."""
import weakref

import numpy as np

from minigrad import guards
from minigrad.config import MODE
from minigrad.core import LAST_WRITE, OPS, Variable, as_output, as_variable

__all__ = ["Function"]

_new = object.__new__
_NEEDS = {}  # needs_input_grad patterns, shared between Functions


class Function:
    """An operation: subclass with forward(*arrays) -> array(s) and backward(*gys) -> Variable(s).

    What backward may use: self.inputs (always kept; a class whose backward never reads their values
    sets `saves_inputs = False`), self.outputs (weak references, only when the class keeps
    `keeps_output = True`), self.needs_input_grad, and the attributes that forward or the constructor
    set on self, which the class docstring names. backward receives the output gradients
    as Variables (None for an output that got none) and returns one gradient per input (a Variable,
    or None where `needs_input_grad` is False). Instances are single use.
    """

    registry = OPS  # name -> public Function subclass defined inside minigrad
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
                needs, gen = tuple([x.requires_grad for x in inputs]), 0
                for x in inputs:
                    if x.generation > gen:
                        gen = x.generation
            if True in needs:
                self.generation = gen
                self._stamp = LAST_WRITE[0]
                self.inputs = inputs
                self.needs_input_grad = _NEEDS.setdefault(needs, needs)  # one shared tuple per pattern
                if single:
                    y = _new(Variable)  # Variable._from_op, inlined on this hot path
                    y._data = ys if type(ys) is np.ndarray else as_output(ys)
                    y.name = y.grad = None
                    y.index = y._version = 0
                    y.creator = self
                    y.generation = gen + 1
                    y.requires_grad = True
                    if self.keeps_output:
                        self._output = weakref.ref(y)
                    return y
                outputs = [Variable._from_op(as_output(y), self, i) for i, y in enumerate(ys)]
                self._outputs = tuple(map(weakref.ref, outputs))
                return outputs
        if single:
            return Variable._from_op(as_output(ys), None, 0)
        return [Variable._from_op(as_output(y), None, 0) for y in ys]

    def _variables(self, inputs):
        return tuple([v if isinstance(v, Variable) else as_variable(v, f"{type(self).__name__} input {i}")
                      for i, v in enumerate(inputs)])

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
