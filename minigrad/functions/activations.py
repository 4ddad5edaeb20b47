"""Stable softmax, log_softmax, logsumexp, sigmoid and log_sigmoid as twice-differentiable Functions."""
from minigrad import _numerics
from minigrad.core import (
    Function,
    _normalize_axis,
    _unreduce,
    as_variable,
    exp,
    neg,
    sum,
)


def class_axis(ndim):
    """The class axis of the losses: 1 for inputs of two or more dimensions, else 0."""
    return 1 if ndim >= 2 else 0


def _float_input(x, op):
    x = as_variable(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    return x


class _AlongAxis(Function):
    """A Function over one axis (default: the class axis), validated against the input."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.axes = _normalize_axis(class_axis(x.ndim) if self.axis is None else self.axis, x.ndim,
                                    type(self).__name__.lower())
        if len(self.axes) > 1:
            raise ValueError(f"{type(self).__name__.lower()}: expected one axis, got {self.axis}")
        self.ax = self.axes[0] if self.axes else None  # None for a 0-d input
        return self.compute(x)


class Softmax(_AlongAxis):
    def compute(self, x):
        return _numerics.softmax(x, self.ax)

    def backward(self, gy):
        y = self.outputs[0]()
        return y * (gy - sum(gy * y, self.ax, keepdims=True))


class LogSoftmax(_AlongAxis):
    def compute(self, x):
        return _numerics.log_softmax(x, self.ax)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy - exp(y) * sum(gy, self.ax, keepdims=True)


class LogSumExp(_AlongAxis):
    def __init__(self, axis, keepdims):
        super().__init__(axis)
        self.keepdims = keepdims

    def compute(self, x):
        self.x_shape = x.shape
        y = _numerics.logsumexp(x, self.ax)
        return y if self.keepdims else y.reshape([s for i, s in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):
        x = self.inputs[0]
        y = _unreduce(self.outputs[0](), self.x_shape, self.axes, self.keepdims)
        return _unreduce(gy, self.x_shape, self.axes, self.keepdims) * exp(x - y)


class Sigmoid(Function):
    def forward(self, x):
        return _numerics.sigmoid(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * y * (1 - y)


class LogSigmoid(Function):
    keeps_output = False

    def forward(self, x):
        return _numerics.log_sigmoid(x)

    def backward(self, gy):
        return gy * sigmoid(neg(self.inputs[0]))


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) along axis (default: 1 for 2+ dimensions, else 0), stable at any scale."""
    return Softmax(axis)(_float_input(x, "softmax"))


def log_softmax(x, axis=None):
    """x - logsumexp(x) along axis (default as softmax), exact for logits of any magnitude."""
    return LogSoftmax(axis)(_float_input(x, "log_softmax"))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along axis (default as softmax), without overflow."""
    return LogSumExp(axis, keepdims)(_float_input(x, "logsumexp"))


def sigmoid(x):
    """1 / (1 + exp(-x)), accurate to float precision in both tails."""
    return Sigmoid()(_float_input(x, "sigmoid"))


def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): exact for large |x| (log_sigmoid(-1e4) = -1e4)."""
    return LogSigmoid()(_float_input(x, "log_sigmoid"))
