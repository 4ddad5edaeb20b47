"""DeZero's dezero.functions: minigrad's functions under DeZero's names, signatures and formulas."""
import numpy as np

import minigrad.functions as F
from minigrad.core import OPS, as_variable
from minigrad.functions import (  # noqa: F401 (re-exported: the same name and behaviour in DeZero)
    accuracy,
    average_pooling,
    batch_norm,
    broadcast_to,
    clip,
    col2im,
    conv2d,
    cos,
    deconv2d,
    embed_id,
    exp,
    expand_dims,
    get_item,
    im2col,
    leaky_relu,
    linear,
    log,
    matmul,
    max,
    min,
    pooling,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax_cross_entropy,
    softmax_cross_entropy_simple,
    softmax_simple,
    sum,
    sum_to,
    tanh,
    transpose,
)
from minigrad.ops.arithmetic import add, div, mul, neg, pow, sub  # noqa: F401

mean = average = F.mean
batch_nrom = batch_norm  # DeZero's spelling, kept by the book's code


def softmax(x, axis=1):
    return F.softmax(x, axis)


def log_softmax(x, axis=1):
    return F.log_softmax(x, axis)


def flatten(x):
    """x reshaped to (N, -1), keeping the batch axis (DeZero's flatten; minigrad's flatten(x, 1))."""
    return F.flatten(x, 1)


def dropout(x, dropout_ratio=0.5):
    return F.dropout(x, dropout_ratio)


def _targets_like(x, t):
    """t reshaped to x's shape when their ranks differ, as DeZero's losses do."""
    t = as_variable(t, "t")
    return t if t.ndim == x.ndim else reshape(t, x.shape)


def mean_squared_error(x0, x1):
    """sum((x0 - x1) ** 2) / len(x0 - x1), broadcasting x0 against x1 as DeZero's does."""
    diff = as_variable(x0, "x0") - x1
    return F.sum(diff * diff) / len(diff)


def mean_squared_error_simple(x0, x1):
    return mean_squared_error(x0, x1)


def sigmoid_cross_entropy(x, t):
    """The binary cross entropy of logits x summed and divided by len(x), as DeZero's; computed by the fused
    sigmoid_bce (exact where DeZero's clipped log(sigmoid) saturates at log(1e-15))."""
    x = as_variable(x, "x")
    return F.sigmoid_bce(x, _targets_like(x, t).data.astype(x.dtype), reduction="sum") / len(x)


def binary_cross_entropy(p, t):
    """-sum(t log p + (1 - t) log(1 - p)) / len(t) with p clipped to [1e-15, 0.999], DeZero's formula."""
    p = as_variable(p, "p")
    t = _targets_like(p, t)
    q = F.clip(p, 1e-15, 0.999)
    return -F.sum(t * F.log(q) + (1 - t) * F.log(1 - q)) / len(t)


def linear_simple(x, W, b=None):
    y = F.matmul(x, W)
    return y if b is None else y + b


def sigmoid_simple(x):
    return 1 / (1 + F.exp(-as_variable(x, "x")))


# DeZero's Function classes, minigrad's by the same name (constructor arguments as minigrad's)
globals().update({name: OPS[name] for name in (
    "Sin", "Cos", "Tanh", "Exp", "Log", "Reshape", "Transpose", "GetItem", "GetItemGrad", "Sum", "SumTo",
    "BroadcastTo", "MatMul", "Linear", "Sigmoid", "ReLU", "Softmax", "LogSoftmax", "LeakyReLU", "MeanSquaredError",
    "SoftmaxCrossEntropy", "BatchNorm", "Max", "Min", "Clip")})

__all__ = sorted(n for n in dir() if not n.startswith("_") and n not in ("np", "F", "OPS", "as_variable"))
