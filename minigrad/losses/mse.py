"""Mean squared error (fused, DeZero's convention) and classification accuracy (no gradient)."""
import numpy as np

from minigrad.backend import get_array_module
from minigrad.core import Variable, as_variable
from minigrad.function import Function
from minigrad.shapes import check_float, half_in_float32, sum_array


class MeanSquaredError(Function):
    """sum((x0 - x1)^2) / n, n = len(x0) (1 for 0-d); keeps n, the backward recomputes the difference."""

    keeps_output = False

    @half_in_float32
    def forward(self, x0, x1):
        diff = x0 - x1
        self.n = len(diff) if diff.ndim else 1
        with np.errstate(invalid="ignore", divide="ignore"):  # no rows: NaN, as a mean of nothing
            return sum_array(diff * diff, None) / self.n

    def backward(self, gy):
        x0, x1 = self.inputs
        g = (x0 - x1) * (gy * (2.0 / self.n if self.n else 0.0))
        n0, n1 = self.needs_input_grad
        return (g if n0 else None), (-g if n1 else None)


def mean_squared_error(x0, x1):
    """sum((x0 - x1)^2) / len(x0), as DeZero defines it: the summed squared errors averaged over the first axis
    (torch's mse_loss for (N,) and (N, 1); for (N, D) torch also divides by D). Fused: one Function, gradient
    2 (x0 - x1) / N. x0 and x1 must have the same shape; an array x1 takes x0's float dtype."""
    x0 = check_float(as_variable(x0, "mean_squared_error: x0"), "mean_squared_error", "x0")
    if not isinstance(x1, Variable):
        data = as_variable(x1, "mean_squared_error: x1").data
        x1 = as_variable(get_array_module(x0.data).asarray(data, dtype=x0.dtype))
    if x0.shape != x1.shape:
        raise ValueError(f"mean_squared_error: shapes {x0.shape} and {x1.shape} differ; expected the same shape")
    return MeanSquaredError()(x0, x1)


def accuracy(y, t):
    """The fraction of positions whose scores y (N, C, ...) have their arg-max at the integer label t (N, ...),
    as a Variable without a graph (float(accuracy(y, t)) gives the number)."""
    y, t = as_variable(y, "accuracy: y").data, as_variable(t, "accuracy: t").data
    if y.ndim < 2 or t.shape != y.shape[:1] + y.shape[2:]:
        raise ValueError(f"accuracy: scores of shape {y.shape} and labels of shape {t.shape}; expected (N, C) "
                         f"and (N,), or (N, C, d...) and (N, d...)")
    if t.dtype.kind not in "iu":
        raise TypeError(f"accuracy: labels must be integers, got {t.dtype}")
    hits = y.argmax(axis=1) == t
    return Variable(get_array_module(y).asarray(hits.mean() if hits.size else np.nan, dtype=np.float64))
