"""Stable softmax, log_softmax, logsumexp, sigmoid and log_sigmoid as twice-differentiable Functions."""
from minigrad import kernels, numerics
from minigrad.config import Config
from minigrad.core import as_variable, wrap
from minigrad.function import Function
from minigrad.ops.arithmetic import neg
from minigrad.ops.elementwise import exp, float32_for_half
from minigrad.ops.reductions import sum
from minigrad.ops.shaping import unreduce
from minigrad.shapes import check_float, half_in_float32, normalize_axis


def class_axis(ndim):
    """The class axis of the losses: 1 for inputs of two or more dimensions, else 0."""
    return 1 if ndim >= 2 else 0


class _AlongAxis(Function):
    """A Function over one axis (default: the class axis; several where many_axes), validated against the input."""

    many_axes = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.axes = normalize_axis(class_axis(x.ndim) if self.axis is None else self.axis, x.ndim, self.op)
        if len(self.axes) > 1 and not self.many_axes:
            raise ValueError(f"{self.op}: expected one axis, got {self.axis}")
        self.ax = self.axes if self.many_axes else self.axes[0] if self.axes else None  # None for a 0-d input
        return self.compute(x)


class _Softmax(_AlongAxis):
    """softmax or log_softmax (log): float32 on the CPU kernels, else NumPy (numerics)."""

    saves_inputs = False  # backward reads the output only

    def compute(self, x):
        if self.ax is not None and kernels.fused_float32(x):
            return kernels.call("activations", "softmax")(x, self.ax, self.log)
        return (numerics.log_softmax if self.log else numerics.softmax)(x, self.ax)

    def backward(self, gy):
        y = self.outputs[0]()
        if not Config.enable_backprop and self.ax is not None and kernels.fused_float32(y._data) \
                and gy.dtype == y.dtype:  # a plain backward: one pass per row
            return wrap(kernels.call("activations", "softmax_grad")(y._data, gy._data, self.ax, self.log))
        if self.log:
            return gy - exp(y) * sum(gy, self.ax, keepdims=True)
        return y * (gy - sum(gy * y, self.ax, keepdims=True))


class Softmax(_Softmax):
    op = "softmax"
    log = False


class LogSoftmax(_Softmax):
    op = "log_softmax"
    log = True


class LogSumExp(_AlongAxis):
    op = "logsumexp"
    many_axes = True
    def __init__(self, axis, keepdims):
        super().__init__(axis)
        self.keepdims = keepdims

    def compute(self, x):
        self.x_shape = x.shape
        if len(self.axes) == 1 and kernels.fused_float32(x):
            y = kernels.call("activations", "logsumexp")(x, self.axes[0])
        else:
            y = numerics.logsumexp(x, self.ax)
        return y if self.keepdims else y.reshape([s for i, s in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):
        x = self.inputs[0]
        y = unreduce(self.outputs[0](), self.x_shape, self.axes, self.keepdims)
        return unreduce(gy, self.x_shape, self.axes, self.keepdims) * exp(x - y)


def _plain_grad(name, f, gy):
    """The plain backward of the elementwise Function f on the kernels, or None: recording a graph, or where the
    kernels do not apply."""
    if Config.enable_backprop:
        return None
    gx = kernels.elementwise_grad(name, f.inputs[0]._data, f.outputs[0]()._data, gy._data)
    return None if gx is None else wrap(gx)


class Sigmoid(Function):
    @half_in_float32
    def forward(self, x):
        y = kernels.elementwise("sigmoid", x)
        return numerics.sigmoid(x) if y is None else y

    def backward(self, gy):
        # sigmoid'(x) = sigmoid(x) sigmoid(-x), accurate in both tails where y (1 - y) rounds to 0 at y = 1;
        # built from Sigmoid again, so every higher derivative keeps that accuracy.
        gx = _plain_grad("sigmoid", self, gy)
        if gx is not None:
            return gx
        if not Config.enable_backprop:  # a plain backward: the same steps on the arrays
            return wrap(gy._data * self.outputs[0]()._data * numerics.sigmoid(self.inputs[0]._data, negate=True))
        return gy * self.outputs[0]() * sigmoid(neg(self.inputs[0]))


class LogSigmoid(Function):
    @half_in_float32
    def forward(self, x):
        y = kernels.elementwise("log_sigmoid", x)
        return numerics.log_sigmoid(x) if y is None else y

    def backward(self, gy):
        gx = _plain_grad("log_sigmoid", self, gy)
        return gy * sigmoid(neg(self.inputs[0])) if gx is None else gx


@float32_for_half
def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) along axis (default: 1 for 2+ dimensions, else 0), stable at any scale."""
    return Softmax(axis)(check_float(as_variable(x, "softmax: x"), "softmax"))


def softmax_simple(x, axis=1):
    """softmax as a composite graph, DeZero's name: exp(x - m) / sum(exp(x - m)), m the (constant) row max."""
    x = check_float(as_variable(x, "softmax_simple: x"), "softmax_simple")
    y = exp(x - x.data.max(axis=axis, keepdims=True))
    return y / sum(y, axis, keepdims=True)


@float32_for_half
def log_softmax(x, axis=None):
    """x - logsumexp(x) along axis (default as softmax), exact for logits of any magnitude."""
    return LogSoftmax(axis)(check_float(as_variable(x, "log_softmax: x"), "log_softmax"))


@float32_for_half
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along axis (an int or a tuple of ints; default as softmax), without overflow; -inf over
    an empty axis."""
    return LogSumExp(axis, keepdims)(check_float(as_variable(x, "logsumexp: x"), "logsumexp"))


def sigmoid(x):
    """1 / (1 + exp(-x)), accurate to float precision in both tails."""
    return Sigmoid()(check_float(as_variable(x, "sigmoid: x"), "sigmoid"))


def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): exact for large |x| (log_sigmoid(-1e4) = -1e4)."""
    return LogSigmoid()(check_float(as_variable(x, "log_sigmoid: x"), "log_sigmoid"))
