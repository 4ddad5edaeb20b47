"""The op library as one namespace: `import minigrad.functions as F`."""
from minigrad.core import (add, broadcast_to, div, exp, get_item, log, matmul, mul, neg, pow, reshape,
                           sub, sum, sum_to, transpose)
from minigrad.functions.activations import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax
from minigrad.functions.elementwise import abs, clip, cos, relu, sin, sqrt, square, tanh, where
from minigrad.functions.linear import linear
from minigrad.functions.reductions import max, mean, min
from minigrad.losses import nll_loss

__all__ = ["abs", "add", "broadcast_to", "clip", "cos", "div", "exp", "get_item", "linear", "log",
           "log_sigmoid", "log_softmax", "logsumexp", "matmul", "max", "mean", "min", "mul", "neg",
           "nll_loss", "pow", "relu", "reshape", "sigmoid", "sin", "softmax", "sqrt", "square", "sub",
           "sum", "sum_to", "tanh", "transpose", "where"]
