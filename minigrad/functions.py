"""The op library as one namespace, re-exported from ops and losses: `import minigrad.functions as F`."""
from minigrad.losses.bce import binary_cross_entropy, binary_cross_entropy_with_logits, sigmoid_bce, sigmoid_bce_simple
from minigrad.losses.ce import cross_entropy, softmax_cross_entropy, softmax_cross_entropy_simple
from minigrad.losses.nll import nll_loss
from minigrad.ops.activations import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax
from minigrad.ops.arithmetic import add, div, log, mul, neg, pow, sub
from minigrad.ops.elementwise import abs, astype, clip, cos, dropout, exp, relu, sin, sqrt, square, tanh, where
from minigrad.ops.linear import linear, matmul
from minigrad.ops.reductions import max, mean, min, sum
from minigrad.ops.shaping import broadcast_to, copy, get_item, reshape, sum_to, transpose

__all__ = ["abs", "add", "astype", "binary_cross_entropy", "binary_cross_entropy_with_logits", "broadcast_to",
           "clip", "copy", "cos", "cross_entropy", "div", "dropout", "exp", "get_item", "linear", "log", "log_sigmoid",
           "log_softmax", "logsumexp", "matmul", "max", "mean", "min", "mul", "neg", "nll_loss", "pow", "relu",
           "reshape", "sigmoid", "sigmoid_bce", "sigmoid_bce_simple", "sin", "softmax", "softmax_cross_entropy",
           "softmax_cross_entropy_simple", "sqrt", "square", "sub", "sum", "sum_to", "tanh", "transpose", "where"]
