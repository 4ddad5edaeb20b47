"""DeZero's dezero.utils: graph drawing, the array helpers of its Functions, gradient_check, conv sizes."""
import os

import numpy as np

from minigrad import numerics, shapes
from minigrad import utils as mg_utils
from minigrad.core import Variable, as_variable
from minigrad.gradcheck import gradcheck
from minigrad.gradcheck import numerical_grad as central_differences
from minigrad.ops.windows import conv_outsize, deconv_outsize
from minigrad.ops.windows import pair as checked_pair

cache_dir = os.path.join(os.path.expanduser("~"), ".dezero")


def get_dot_graph(output, verbose=True):
    """The DOT source of output's graph."""
    return mg_utils.to_dot(output, verbose)


def plot_dot_graph(output, verbose=True, to_file="graph.png"):
    """Render output's graph to to_file with Graphviz's dot (a clear error when dot is missing)."""
    return mg_utils.plot_graph(output, verbose, to_file)


def sum_to(x, shape):
    """The array x summed down to shape (the inverse of broadcasting)."""
    return shapes.sum_to(x, shape)


def reshape_sum_backward(gy, x_shape, axis, keepdims):
    """gy of a sum over axis, reshaped so that it broadcasts back to x_shape."""
    if keepdims or not x_shape:
        return gy
    return gy.reshape(shapes.keepdims_shape(x_shape, shapes.normalize_axis(axis, len(x_shape), "sum")))


def logsumexp(x, axis=1):
    return numerics.logsumexp(x, axis)


def max_backward_shape(x, axis):
    return shapes.keepdims_shape(x.shape, shapes.normalize_axis(axis, x.ndim, "max"))


def numerical_grad(f, x, *args, **kwargs):
    """The central-difference gradient of sum(f(x, *args, **kwargs)) with respect to the array x."""
    return central_differences(lambda v: f(v, *args, **kwargs), (as_variable(x, "x").data,))[0]


def gradient_check(f, x, *args, rtol=1e-4, atol=1e-5, **kwargs):
    """True when backprop's gradient of sum(f(x, ...)) at the array x matches the numerical one (False, with the
    report printed, when not), as DeZero's gradient_check; minigrad's gradcheck also checks a random gy."""
    return gradcheck(lambda v: f(v, *args, **kwargs), [as_variable(x, "x").data], rtol=rtol, atol=atol,
                               raise_exception=False)


def _array(a):
    return a.data if isinstance(a, Variable) else a


def array_equal(a, b):
    return bool(np.array_equal(_array(a), _array(b)))


def array_allclose(a, b, rtol=1e-4, atol=1e-5):
    return bool(np.allclose(_array(a), _array(b), rtol=rtol, atol=atol))


def get_conv_outsize(input_size, kernel_size, stride, pad):
    return conv_outsize(input_size, kernel_size, stride, pad)


def get_deconv_outsize(size, k, s, p):
    return deconv_outsize(size, k, s, p)


def pair(x):
    """(x, x) for an int, x for a pair (DeZero's pair)."""
    return checked_pair(x, "x", "pair", 0)
