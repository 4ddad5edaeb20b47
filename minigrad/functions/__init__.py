"""The op library as one namespace: `import minigrad.functions as F`."""
from minigrad.core import (
                           add,
                           broadcast_to,
                           div,
                           exp,
                           get_item,
                           log,
                           matmul,
                           mul,
                           neg,
                           pow,
                           reshape,
                           sub,
                           sum,
                           sum_to,
                           transpose,
)
from minigrad.functions.activations import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax
from minigrad.functions.elementwise import abs, astype, clip, cos, dropout, relu, sin, sqrt, square, tanh, where
from minigrad.functions.linear import linear
from minigrad.functions.reductions import max, mean, min
from minigrad.losses import (
                           binary_cross_entropy,
                           binary_cross_entropy_with_logits,
                           cross_entropy,
                           nll_loss,
                           sigmoid_bce,
                           softmax_cross_entropy,
)

__all__ = ["abs", "add", "astype", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "broadcast_to", "clip", "cos", "cross_entropy", "div", "dropout", "exp", "get_item", "linear", "log",
           "log_sigmoid", "log_softmax", "logsumexp", "matmul", "max", "mean", "min", "mul", "neg",
           "nll_loss", "pow", "relu", "reshape", "sigmoid", "sigmoid_bce", "sin", "softmax",
           "softmax_cross_entropy", "sqrt", "square", "sub", "sum", "sum_to", "tanh", "transpose", "where"]
