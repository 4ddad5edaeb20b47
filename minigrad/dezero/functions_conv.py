"""DeZero's dezero.functions_conv: the convolution and pooling functions, and their composite `_simple` forms."""
import minigrad.functions as F
from minigrad.core import OPS
from minigrad.functions import average_pooling, col2im, conv2d, deconv2d, im2col, pooling  # noqa: F401
from minigrad.ops.windows import conv_outsize, pair


def conv2d_simple(x, W, b=None, stride=1, pad=0):
    """conv2d as DeZero's composite: im2col, one matmul with the flattened kernels, back to (N, OC, OH, OW)."""
    n, _, h, w = x.shape
    oc, c, kh, kw = W.shape
    (sh, sw), (ph, pw) = pair(stride, "stride", "conv2d_simple", 1), pair(pad, "pad", "conv2d_simple", 0)
    oh, ow = conv_outsize(h, kh, sh, ph), conv_outsize(w, kw, sw, pw)
    col = F.im2col(x, (kh, kw), stride, pad, to_matrix=True)
    t = F.linear(col, F.transpose(F.reshape(W, (oc, -1))), b)
    return F.transpose(F.reshape(t, (n, oh, ow, oc)), (0, 3, 1, 2))


def pooling_simple(x, kernel_size, stride=1, pad=0):
    """max pooling as DeZero's composite: im2col, the max of each window's row."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size", "pooling_simple", 1), pair(stride, "stride", "pooling_simple", 1)
    ph, pw = pair(pad, "pad", "pooling_simple", 0)
    oh, ow = conv_outsize(h, kh, sh, ph), conv_outsize(w, kw, sw, pw)
    col = F.reshape(F.im2col(x, (kh, kw), stride, pad, to_matrix=True), (-1, kh * kw))
    return F.transpose(F.reshape(F.max(col, axis=1), (n, oh, ow, c)), (0, 3, 1, 2))


def im2col_array(img, kernel_size, stride, pad, to_matrix=True):
    """im2col on an array, giving an array (DeZero's helper)."""
    return F.im2col(img, kernel_size, stride, pad, to_matrix).data


def col2im_array(col, img_shape, kernel_size, stride, pad, to_matrix=True):
    """col2im on an array, giving an array (DeZero's helper)."""
    return F.col2im(col, img_shape, kernel_size, stride, pad, to_matrix).data


# DeZero's Function classes, minigrad's under DeZero's names (constructor arguments as minigrad's)
Conv2d, Deconv2d, Conv2DGradW = OPS["Conv2d"], OPS["Deconv2d"], OPS["Conv2dGradW"]
Pooling, Pooling2DGrad, Pooling2DWithIndexes = OPS["MaxPooling"], OPS["MaxPoolingGrad"], OPS["MaxPoolingAt"]
AveragePooling, Im2col, Col2im = OPS["AveragePooling"], OPS["Im2col"], OPS["Col2im"]
