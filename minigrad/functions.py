"""The op library as one namespace, re-exported from ops and losses: `import minigrad.functions as F`."""
from minigrad.losses.bce import binary_cross_entropy, binary_cross_entropy_with_logits, sigmoid_bce
from minigrad.losses.ce import cross_entropy, softmax_cross_entropy
from minigrad.losses.composites import sigmoid_bce_simple, softmax_cross_entropy_simple
from minigrad.losses.linear_ce import linear_cross_entropy
from minigrad.losses.mse import accuracy, mean_squared_error
from minigrad.losses.nll import nll_loss
from minigrad.ops.attention import scaled_dot_product_attention
from minigrad.ops.activations import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax, softmax_simple
from minigrad.ops.arithmetic import add, div, log, mul, neg, pow, sub
from minigrad.ops.conv import col2im, conv2d, deconv2d, im2col
from minigrad.ops.elementwise import (
                                      abs,
                                      astype,
                                      clip,
                                      cos,
                                      dropout,
                                      exp,
                                      leaky_relu,
                                      relu,
                                      sin,
                                      sqrt,
                                      square,
                                      tanh,
                                      where,
)
from minigrad.ops.discrete import argmax, one_hot
from minigrad.ops.joining import concat, split, stack
from minigrad.ops.layer_norm import layer_norm
from minigrad.ops.linear import linear, matmul
from minigrad.ops.normalization import batch_norm
from minigrad.ops.pooling import average_pooling, max_pooling, pooling
from minigrad.ops.recurrent import lstm_cell
from minigrad.ops.reductions import max, mean, min, sum
from minigrad.ops.shaping import (
                                  broadcast_to,
                                  copy,
                                  embed_id,
                                  expand_dims,
                                  flatten,
                                  get_item,
                                  reshape,
                                  squeeze,
                                  sum_to,
                                  transpose,
)
from minigrad.ops.smooth import gelu, normal_cdf, silu, softplus

__all__ = ["abs", "accuracy", "add", "argmax", "astype", "average_pooling", "batch_norm", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "broadcast_to", "clip", "col2im", "concat", "conv2d", "copy", "cos",
           "cross_entropy", "deconv2d", "div", "dropout", "embed_id", "exp", "expand_dims", "flatten", "gelu",
           "get_item", "im2col", "layer_norm", "leaky_relu", "linear", "linear_cross_entropy", "log", "log_sigmoid",
           "log_softmax", "logsumexp", "lstm_cell", "matmul", "max", "max_pooling", "mean", "mean_squared_error",
           "min", "mul", "neg", "nll_loss", "normal_cdf", "one_hot", "pooling", "pow", "relu", "reshape", "scaled_dot_product_attention", "sigmoid",
           "sigmoid_bce", "sigmoid_bce_simple", "silu", "sin", "softmax", "softmax_cross_entropy",
           "softmax_cross_entropy_simple", "softmax_simple", "softplus", "split", "sqrt", "square", "squeeze",
           "stack", "sub", "sum", "sum_to", "tanh", "transpose", "where"]
