"""The spec table: one row per Function, with valid inputs and tolerances for the gradient checks."""
from dataclasses import dataclass, field, replace

import numpy as np

import minigrad.functions as F
from minigrad.backend import get_array_module
from minigrad.losses import bce, ce
from minigrad.losses.nll import NLLLossGrad
from minigrad.losses.targets import class_index_targets
from minigrad.ops import pooling
from minigrad.ops.conv import Conv2dGradW
from minigrad.ops.shaping import GetItemGrad
from minigrad.ops.windows import Window


def _nll_grad(gy, x_shape, t, w, reduction):
    """NLLLossGrad called directly on an upstream gradient gy."""
    x = get_array_module(gy).zeros(x_shape, dtype=gy.dtype)
    layout, targets, _ = class_index_targets(x, t, w, -100, "spec")
    return NLLLossGrad(layout, targets, targets.reduction(reduction, layout))(gy)


@dataclass(frozen=True)
class Spec:
    """How to check one Function.

    name: the Function class (as registered); fn: a callable taking the inputs; make: rng -> tuple
    of float64 (or integer) arrays, away from kinks; variant: the options this row exercises;
    atol/rtol: gradient-check tolerances; empty: the row with an empty batch (N = 0), as (fn, make),
    where taking the first axis of the inputs to 0 does not make one (see empty_case).
    """

    name: str
    fn: object
    make: object
    variant: str = ""
    atol: float = 1e-5
    rtol: float = 1e-3
    note: str = field(default="")
    empty: tuple = None

    @property
    def label(self):
        return f"{self.name} [{self.variant}]" if self.variant else self.name

    def inputs(self, seed=0):
        return self.make(np.random.default_rng(seed))

    def empty_case(self, seed=0):
        """(fn, inputs) of the row with N = 0: `empty` when given, else fn on the inputs with the first axis of
        the first input, and of each input of its rank and first size, taken to 0."""
        if self.empty is not None:
            fn, make = self.empty
            return fn, make(np.random.default_rng(seed))
        xs = self.inputs(seed)
        first = xs[0]
        return self.fn, tuple(x[:0] if x.ndim and x.ndim == first.ndim and len(x) == len(first) else x for x in xs)


def _n(*shape):
    return lambda rng: (rng.standard_normal(shape),)


def _pos(*shape):
    return lambda rng: (rng.uniform(0.5, 2.0, shape),)


def _away_from_zero(*shape):
    """Values in +-[0.2, 1.5], so kinks at 0 are at least 0.2 away."""
    return lambda rng: (rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape),)


def _distinct(*shape):
    """A permutation of well-separated values: no ties for max/min."""
    return lambda rng: (rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.1,)


def _logits_and(t_shape, high):
    """Logits with the shape of the targets plus a class axis, for targets drawn below `high`."""
    def make(rng):
        return (rng.standard_normal(t_shape[:1] + (high,) + t_shape[1:]),)
    return make


def _probs(*shape):
    """Logits and soft targets (rows need not sum to 1, as torch allows)."""
    return lambda rng: (rng.standard_normal(shape), rng.uniform(0.0, 1.0, shape))


def _on(like, a):
    """The constant a on like's backend (NumPy or CuPy), so that every row also runs on a device."""
    return get_array_module(like).asarray(a)


def _ce_grad(x, gy, *q, t=None, w=None, ignore_index=-100, reduction="mean", eps=0.0):
    """SoftmaxCrossEntropyGrad called directly (no forward buffer to reuse: it recomputes)."""
    call, _ = ce.describe(x, q[0] if t is None else t, weight=w, ignore_index=ignore_index, reduction=reduction,
                          label_smoothing=eps)
    return ce.SoftmaxCrossEntropyGrad(call)(x, gy, *q)


def _h_and_c(hc):
    """One output from the LSTM cell's two: h + c / 2 (so both take a gradient)."""
    return hc[0] + hc[1] * 0.5


def _bce_grad(x, gy, y, *, reduction="mean", w=None, pw=None):
    """SigmoidBCEGrad called directly."""
    w, pw = (None if a is None else _on(x, a) for a in (w, pw))
    call, _ = bce.describe(x, y, weight=w, pos_weight=pw, reduction=reduction)
    return bce.SigmoidBCEGrad(call)(x, gy, y)


def _pool_grad(gy, name, x_shape=(2, 2, 5, 4)):
    """MaxPoolingGrad / MaxPoolingAt / AveragePoolingGrad called directly, with MaxPooling's index for a fixed
    input of x_shape (3x3 windows, stride 2, pad 1: (2, 2, 3, 2) outputs)."""
    win = Window(3, 2, 1, name)
    if name == "AveragePoolingGrad":
        return pooling.AveragePoolingGrad(win, x_shape)(gy)
    f = pooling.MaxPooling(win)
    f.forward(_on(gy, _distinct(*x_shape)(np.random.default_rng(0))[0]))
    if name == "MaxPoolingGrad":
        return pooling.MaxPoolingGrad(win, f.index, x_shape)(gy)
    return pooling.MaxPoolingAt(win, f.index)(gy)


def _pieces(ys):
    """One output from several pieces of a split: the sum of each piece's sum times its position + 1."""
    return F.sum(F.stack([F.sum(y) * (i + 1) for i, y in enumerate(ys)]))


def _away_from(k, *shape):
    """Values in +-[0.2, 3] * 1, at least 0.2 from k and -k (a kink or a threshold there)."""
    def make(rng):
        x = rng.uniform(-3.0, 3.0, shape)
        return (np.where(np.abs(np.abs(x) - k) < 0.2, x + 0.5, x),)
    return make


def _bn(x, gamma, beta):
    """batch_norm in training with fresh running statistics (the spec calls it many times)."""
    c = x.shape[1]
    return F.batch_norm(x, gamma, beta, _on(x, np.zeros(c)), _on(x, np.ones(c)))


T2 = np.array([0, 2, 1, 2])
Y34 = np.array([[0.0, 0.375, 1.0, 0.5], [1.0, 0.0, 0.25, 0.875], [0.625, 1.0, 0.0, 0.125]])  # exact in float16
T3 = np.array([[0, 2], [-100, 1], [2, 2]])
W3 = np.array([0.5, 2.0, 1.5])


def _two(s0, s1, positive_second=False):
    def make(rng):
        x1 = rng.uniform(0.5, 2.0, s1) if positive_second else rng.standard_normal(s1)
        return rng.standard_normal(s0), x1
    return make


SPECS = [
    Spec("Add", F.add, _two((3, 4), (4,))),
    Spec("Sub", F.sub, _two((3, 1), (1, 4))),
    Spec("Mul", F.mul, _two((2, 3, 4), (3, 1))),
    Spec("Div", F.div, _two((3, 4), (3, 4), positive_second=True)),
    Spec("Pow", F.pow, lambda rng: (rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(-1.5, 2.5, (4,)))),
    Spec("Neg", F.neg, _n(3, 4)),
    Spec("Exp", F.exp, _n(3, 4)),
    Spec("Log", F.log, _pos(3, 4)),
    Spec("Sin", F.sin, _n(3, 4)),
    Spec("Cos", F.cos, _n(3, 4)),
    Spec("Tanh", F.tanh, _n(3, 4)),
    Spec("Sqrt", F.sqrt, _pos(3, 4)),
    Spec("Square", F.square, _n(3, 4)),
    Spec("Abs", F.abs, _away_from_zero(3, 4)),
    Spec("ReLU", F.relu, _away_from_zero(3, 4)),
    Spec("Clip", lambda x: F.clip(x, -0.5, 0.5),
         lambda rng: (rng.choice([-1.0, 1.0], (3, 4)) * rng.choice([0.1, 0.3, 0.8, 1.2], (3, 4)),)),
    Spec("Where", lambda a, b: F.where(_on(a, [[True, False, True, True]]), a, b), _two((3, 4), (3, 1))),
    Spec("Copy", F.copy, _n(3, 4)),
    Spec("LeakyReLU", F.leaky_relu, _away_from_zero(3, 4)),
    Spec("MeanSquaredError", F.mean_squared_error, _two((4, 3), (4, 3))),
    Spec("Reshape", lambda x: F.reshape(x, (4, 3)), _n(3, 4), empty=(lambda x: F.reshape(x, (0, 3)), _n(0, 4))),
    Spec("Transpose", lambda x: F.transpose(x, (2, 0, 1)), _n(2, 3, 4)),
    Spec("BroadcastTo", lambda x: F.broadcast_to(x, (2, 3, 4)), _n(3, 1),
         empty=(lambda x: F.broadcast_to(x, (0, 3, 4)), _n(3, 1))),
    Spec("SumTo", lambda x: F.sum_to(x, (3, 1)), _n(2, 3, 4)),
    Spec("Sum", lambda x: F.sum(x, axis=(0, 2), keepdims=True), _n(2, 3, 4)),
    Spec("MatMul", F.matmul, _two((2, 3, 4), (4, 5))),
    Spec("Linear", F.linear, lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((4, 2)),
                                          rng.standard_normal(2))),
    Spec("GetItem", lambda x: F.get_item(x, (_on(x, [0, 2, 0]), slice(1, 3))), _n(3, 4),
         empty=(lambda x: F.get_item(x, (_on(x, np.zeros(0, np.intp)), slice(1, 3))), _n(0, 4))),
    Spec("GetItemGrad", lambda gy: GetItemGrad((_on(gy, [1, 1, 0]),), (3, 4))(gy), _n(3, 4),
         empty=(lambda gy: GetItemGrad((_on(gy, np.zeros(0, np.intp)),), (0, 4))(gy), _n(0, 4))),
    Spec("Max", lambda x: F.max(x, axis=1), _distinct(3, 4)),
    Spec("Min", lambda x: F.min(x, axis=(0, 2), keepdims=True), _distinct(2, 3, 4),
         empty=(lambda x: F.min(x, axis=2, keepdims=True), _distinct(0, 3, 4))),
    Spec("mean", lambda x: F.mean(x, axis=0), _n(3, 4), note="composite: sum * (1/n)",
         empty=(lambda x: F.mean(x, axis=1), _n(0, 4))),
    Spec("Softmax", F.softmax, _n(3, 4)),
    Spec("LogSoftmax", lambda x: F.log_softmax(x, axis=-1), _n(2, 3, 4)),
    Spec("LogSumExp", lambda x: F.logsumexp(x, axis=0), _n(3, 4)),
    Spec("Sigmoid", F.sigmoid, lambda rng: (rng.standard_normal((3, 4)) * 3,)),
    Spec("NLLLoss", lambda x: F.nll_loss(x, _on(x, [[0, 2], [-100, 1]]), weight=_on(x, [0.5, 2.0, 1.5])),
         _n(2, 3, 2)),
    Spec("NLLLossGrad", lambda gy: _nll_grad(gy, (4, 3), _on(gy, [2, 0, -100, 2]), _on(gy, [1.0, 2.0, 3.0]), "none"),
         _n(4)),
    Spec("LogSigmoid", F.log_sigmoid, lambda rng: (rng.standard_normal((3, 4)) * 3,)),
    Spec("LSTMCell", lambda z, c: _h_and_c(F.lstm_cell(z, c)), lambda rng: (rng.standard_normal((3, 8)) * 2,
                                                                            rng.standard_normal((3, 2)))),
    Spec("LSTMCell", lambda z: _h_and_c(F.lstm_cell(z)), _n(3, 8), "first step"),
    Spec("AsType", lambda x: F.astype(F.astype(x, np.float64), x.dtype), _n(3, 4), "float64 and back"),
    Spec("SoftmaxCrossEntropy", lambda x: F.softmax_cross_entropy(x, _on(x, T2), ignore_index=5), _n(4, 3),
         "class indices, ignore_index 5"),
    Spec("KernelCrossEntropy", lambda x: F.softmax_cross_entropy(x, _on(x, T2)), _n(4, 3), "mean"),
    Spec("KernelCrossEntropy", lambda x: F.softmax_cross_entropy(x, _on(x, [2, -100, 1]), reduction="sum"),
         _n(3, 4), "sum, an ignored target"),
    Spec("SoftmaxCrossEntropy", lambda x: F.softmax_cross_entropy(x, _on(x, 1), reduction="none"), _n(3),
         "unbatched, none"),
    Spec("SoftmaxCrossEntropy", lambda x: F.softmax_cross_entropy(x, _on(x, T3), weight=_on(x, W3), reduction="sum",
                                                                  label_smoothing=0.2),
         _logits_and((3, 2), 3), "K-dim, weight, ignore_index, smoothing, sum"),
    Spec("SoftmaxCrossEntropy", lambda x: F.softmax_cross_entropy(x, _on(x, T2), weight=_on(x, W3), label_smoothing=0.3,
                                                                  reduction="none"),
         _n(4, 3), "weight, smoothing, none"),
    Spec("SoftmaxCrossEntropy", lambda x, q: F.softmax_cross_entropy(x, q, weight=_on(x, W3), label_smoothing=0.1),
         _probs(4, 3), "probabilities, weight, smoothing"),
    Spec("SoftmaxCrossEntropy", lambda x, q: F.softmax_cross_entropy(x, q, reduction="none"),
         _probs(2, 3, 2, 2), "probabilities, K-dim, none"),
    Spec("SoftmaxCrossEntropyGrad", lambda x, gy: _ce_grad(x, gy, t=_on(x, T2), w=_on(x, W3), eps=0.2),
         lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal(())), "class indices, weight, smoothing"),
    Spec("SoftmaxCrossEntropyGrad", lambda x, gy: _ce_grad(x, gy, t=_on(x, T3), reduction="none"),
         lambda rng: (rng.standard_normal((3, 3, 2)), rng.standard_normal((3, 2))), "K-dim, ignore_index, none"),
    Spec("SoftmaxCrossEntropyGrad", lambda x, gy, q: _ce_grad(x, gy, q, w=_on(x, W3), eps=0.1, reduction="sum"),
         lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal(()), rng.uniform(0, 1, (4, 3))),
         "probabilities, weight, smoothing, sum"),
    Spec("SigmoidBCE", F.sigmoid_bce, lambda rng: (rng.standard_normal((3, 4)) * 2, rng.uniform(0, 1, (3, 4))),
         "soft targets"),
    Spec("SigmoidBCE", lambda x, y: F.sigmoid_bce(x, y, weight=_on(x, [0.5, 1.0, 2.0, 1.5]),
                                                  pos_weight=_on(x, [3.0, 0.5, 1.0, 2.0]), reduction="sum"),
         lambda rng: (rng.standard_normal((3, 4)) * 2, rng.uniform(0, 1, (3, 4))), "weight, pos_weight, sum"),
    Spec("SigmoidBCE", lambda x, y: F.sigmoid_bce(x, y, pos_weight=_on(x, [[[2.0]], [[0.5]]]), reduction="none"),
         lambda rng: (rng.standard_normal((2, 2, 3, 2)) * 2, rng.uniform(0, 1, (2, 2, 3, 2))),
         "pos_weight (C, 1, 1), none"),
    Spec("KernelSigmoidBCE", lambda x: F.sigmoid_bce(x, _on(x, Y34).astype(x.dtype)),
         lambda rng: (rng.standard_normal((3, 4)) * 2,), "mean"),
    Spec("KernelSigmoidBCE", lambda x: F.sigmoid_bce(x, _on(x, Y34[0]).astype(x.dtype), reduction="sum"),
         lambda rng: (rng.standard_normal(4) * 2,), "sum"),
    Spec("SigmoidBCEGrad", lambda x, gy, y: _bce_grad(x, gy, y, w=[0.5, 1.0, 2.0, 1.5], pw=[3.0, 0.5, 1.0, 2.0]),
         lambda rng: (rng.standard_normal((3, 4)) * 2, rng.standard_normal(()), rng.uniform(0, 1, (3, 4))),
         "weight, pos_weight"),
    Spec("SigmoidBCEGrad", lambda x, gy, y: _bce_grad(x, gy, y, reduction="none"),
         lambda rng: (rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))),
         "none"),
    Spec("BinaryCrossEntropy", lambda p, y: F.binary_cross_entropy(p, y, weight=_on(p, [[2.0], [0.5], [1.0]])),
         lambda rng: (rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4))), "weight (N, 1)"),
    Spec("Im2col", lambda x: F.im2col(x, (3, 2), 2, 1), _n(2, 2, 5, 4), "matrix, stride 2, pad 1"),
    Spec("Im2col", lambda x: F.im2col(x, 2, 1, 0, to_matrix=False), _n(1, 2, 3, 3), "6-d columns"),
    Spec("Col2im", lambda c: F.col2im(c, (2, 2, 5, 4), (3, 2), 2, 1, to_matrix=False), _n(2, 2, 3, 2, 3, 3),
         "6-d columns, stride 2, pad 1"),
    Spec("Col2im", lambda c: F.col2im(c, (1, 2, 3, 3), 2), _n(4, 8), "matrix"),
    Spec("Conv2d", lambda x, W, b: F.conv2d(x, W, b, stride=2, pad=1),
         lambda rng: (rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)),
         "bias, stride 2, pad 1"),
    Spec("Conv2d", lambda x, W: F.conv2d(x, W, stride=(1, 2), pad=(1, 0)), _two((1, 2, 4, 5), (3, 2, 2, 3)),
         "no bias, stride (1, 2), pad (1, 0)"),
    Spec("Deconv2d", lambda x, W, b: F.deconv2d(x, W, b, stride=2, pad=1, outsize=(6, 5)),
         lambda rng: (rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(2)),
         "bias, stride 2, pad 1, outsize"),
    Spec("Deconv2d", lambda x, W: F.deconv2d(x, W, pad=1), _two((1, 2, 3, 4), (2, 3, 3, 3)),
         "stride 1 (a flipped convolution), pad 1"),
    Spec("Conv2dGradW", lambda x, gy: Conv2dGradW(Window((3, 2), 2, 1, "spec"))(x, gy),
         _two((2, 3, 5, 4), (2, 2, 3, 3)), "stride 2, pad 1"),
    Spec("MaxPooling", lambda x: F.max_pooling(x, 3, 2, 1), _distinct(2, 2, 5, 4), "3x3, stride 2, pad 1"),
    Spec("MaxPooling", lambda x: F.pooling(x, 2, 2), _distinct(1, 2, 4, 4), "2x2, stride 2 (DeZero's pooling)"),
    Spec("MaxPoolingGrad", lambda gy: _pool_grad(gy, "MaxPoolingGrad"), _n(2, 2, 3, 2)),
    Spec("MaxPoolingAt", lambda x: _pool_grad(x, "MaxPoolingAt"), _n(2, 2, 5, 4)),
    Spec("AveragePooling", lambda x: F.average_pooling(x, 3, 2, 1), _n(2, 2, 5, 4), "3x3, stride 2, pad 1"),
    Spec("AveragePoolingGrad", lambda gy: _pool_grad(gy, "AveragePoolingGrad"), _n(2, 2, 3, 2)),
    Spec("BatchNorm", _bn, lambda rng: (rng.standard_normal((3, 2, 2, 2)) * 2 + 1, rng.uniform(0.5, 2, 2),
                                        rng.standard_normal(2)), "(N, C, H, W)"),
    Spec("BatchNorm", _bn, lambda rng: (rng.standard_normal((4, 3)), rng.uniform(0.5, 2, 3), rng.standard_normal(3)),
         "(N, C)"),
    Spec("LinearCrossEntropy", lambda x, W, b: F.linear_cross_entropy(x, W, _on(x, T2), b, weight=_on(x, W3),
                                                                      label_smoothing=0.2, chunk_size=3),
         lambda rng: (rng.standard_normal((4, 2)), rng.standard_normal((2, 3)), rng.standard_normal(3)),
         "bias, weight, smoothing, blocks of 3 rows"),
    Spec("LinearCrossEntropy", lambda x, W: F.linear_cross_entropy(x, W, _on(x, [1, -100, 0]), reduction="none",
                                                                   chunk_size=2),
         _two((3, 4), (4, 3)), "no bias, ignore_index, none"),
    Spec("BinaryCrossEntropy", lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
         lambda rng: (rng.uniform(0.1, 0.9, (5,)), rng.uniform(0, 1, (5,))), "none"),
    Spec("Concat", lambda a, b: F.concat([a, b, a], axis=1), _two((3, 2), (3, 4))),
    Spec("Split", lambda x: _pieces(F.split(x, [1, 3, 0], axis=1)), _n(2, 4, 3), "sizes [1, 3, 0]"),
    Spec("Split", lambda x: F.split(x, 2, axis=-1)[1], _n(3, 5), "size 2, one piece used"),
    Spec("stack", lambda a, b: F.stack([a, b], axis=-1), _two((3, 4), (3, 4)), note="composite: concat of reshapes"),
    Spec("flatten", lambda x: F.flatten(x, 1), _n(2, 3, 4), note="composite: reshape"),
    Spec("squeeze", lambda x: F.expand_dims(F.squeeze(x, 1), 0), _n(3, 1, 4), note="composites: reshape"),
    Spec("NormalCDF", F.normal_cdf, lambda rng: (rng.standard_normal((3, 4)) * 3,)),
    Spec("SiLU", F.silu, lambda rng: (rng.standard_normal((3, 4)) * 3,)),
    Spec("GELU", F.gelu, lambda rng: (rng.standard_normal((3, 4)) * 2,), "exact"),
    Spec("GELU", lambda x: F.gelu(x, approximate="tanh"), lambda rng: (rng.standard_normal((3, 4)) * 2,), "tanh"),
    Spec("Softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0), _away_from(1.5, 3, 4),
         "beta 2, threshold 3 (x beta on both sides)"),
    Spec("LayerNorm", lambda x, w, b: F.layer_norm(x, (3, 2), w, b),
         lambda rng: (rng.standard_normal((4, 3, 2)) * 2 + 1, rng.uniform(0.5, 2, (3, 2)), rng.standard_normal((3, 2))),
         "weight, bias, two axes"),
    Spec("LayerNorm", lambda x: F.layer_norm(x, 4, eps=0.1), _n(2, 3, 4), "no affine, eps 0.1"),
    Spec("ScaledDotProductAttention", F.scaled_dot_product_attention,
         lambda rng: (rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3)))),
    Spec("ScaledDotProductAttention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
         lambda rng: (rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((1, 2, 4, 3)),
                      rng.standard_normal((1, 2, 4, 2))), "causal, two heads"),
    Spec("ScaledDotProductAttention",
         lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask=_on(q, [[True, False, True], [False] * 3])),
         lambda rng: (rng.standard_normal((2, 2, 4)), rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 2))),
         "boolean mask, a fully masked row"),
]

_NO_T = np.zeros(0, np.intp)  # the class indices of an empty batch

# The rows whose empty batch (N = 0) is not the inputs' first axis taken to 0: their targets, weights or shapes
# are fixed in fn. By row label.
EMPTY = {
    "NLLLoss": (lambda x: F.nll_loss(x, _on(x, _NO_T.reshape(0, 2)), weight=_on(x, W3)), _n(0, 3, 2)),
    "NLLLossGrad": (lambda gy: _nll_grad(gy, (0, 3), _on(gy, _NO_T), _on(gy, [1.0, 2.0, 3.0]), "none"), _n(0)),
    "SoftmaxCrossEntropy [class indices, ignore_index 5]":
        (lambda x: F.softmax_cross_entropy(x, _on(x, _NO_T), ignore_index=5), _n(0, 3)),
    "KernelCrossEntropy [mean]": (lambda x: F.softmax_cross_entropy(x, _on(x, _NO_T)), _n(0, 3)),
    "KernelCrossEntropy [sum, an ignored target]":
        (lambda x: F.softmax_cross_entropy(x, _on(x, _NO_T), reduction="sum"), _n(0, 4)),
    "SoftmaxCrossEntropy [unbatched, none]":
        (lambda x: F.softmax_cross_entropy(x, _on(x, _NO_T), reduction="none"), _n(0, 3)),
    "SoftmaxCrossEntropy [K-dim, weight, ignore_index, smoothing, sum]":
        (lambda x: F.softmax_cross_entropy(x, _on(x, _NO_T.reshape(0, 2)), weight=_on(x, W3), reduction="sum",
                                           label_smoothing=0.2), _n(0, 3, 2)),
    "SoftmaxCrossEntropy [weight, smoothing, none]":
        (lambda x: F.softmax_cross_entropy(x, _on(x, _NO_T), weight=_on(x, W3), label_smoothing=0.3,
                                           reduction="none"), _n(0, 3)),
    "SoftmaxCrossEntropyGrad [class indices, weight, smoothing]":
        (lambda x, gy: _ce_grad(x, gy, t=_on(x, _NO_T), w=_on(x, W3), eps=0.2),
         lambda rng: (rng.standard_normal((0, 3)), rng.standard_normal(()))),
    "SoftmaxCrossEntropyGrad [K-dim, ignore_index, none]":
        (lambda x, gy: _ce_grad(x, gy, t=_on(x, _NO_T.reshape(0, 2)), reduction="none"),
         lambda rng: (rng.standard_normal((0, 3, 2)), rng.standard_normal((0, 2)))),
    "KernelSigmoidBCE [mean]": (lambda x: F.sigmoid_bce(x, _on(x, Y34[:0]).astype(x.dtype)), _n(0, 4)),
    "KernelSigmoidBCE [sum]": (lambda x: F.sigmoid_bce(x, _on(x, Y34[0, :0]).astype(x.dtype), reduction="sum"), _n(0)),
    "BinaryCrossEntropy [weight (N, 1)]":
        (lambda p, y: F.binary_cross_entropy(p, y, weight=_on(p, [[2.0]])),
         lambda rng: (rng.uniform(0.1, 0.9, (0, 4)), rng.uniform(0, 1, (0, 4)))),
    "Col2im [6-d columns, stride 2, pad 1]":
        (lambda c: F.col2im(c, (0, 2, 5, 4), (3, 2), 2, 1, to_matrix=False), _n(0, 2, 3, 2, 3, 3)),
    "Col2im [matrix]": (lambda c: F.col2im(c, (0, 2, 3, 3), 2), _n(0, 8)),
    "Conv2d [bias, stride 2, pad 1]":
        (lambda x, W, b: F.conv2d(x, W, b, stride=2, pad=1),
         lambda rng: (rng.standard_normal((0, 3, 5, 4)), rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2))),
    "MaxPoolingGrad": (lambda gy: _pool_grad(gy, "MaxPoolingGrad", (0, 2, 5, 4)), _n(0, 2, 3, 2)),
    "MaxPoolingAt": (lambda x: _pool_grad(x, "MaxPoolingAt", (0, 2, 5, 4)), _n(0, 2, 5, 4)),
    "AveragePoolingGrad": (lambda gy: _pool_grad(gy, "AveragePoolingGrad", (0, 2, 5, 4)), _n(0, 2, 3, 2)),
    "LinearCrossEntropy [bias, weight, smoothing, blocks of 3 rows]":
        (lambda x, W, b: F.linear_cross_entropy(x, W, _on(x, _NO_T), b, weight=_on(x, W3), label_smoothing=0.2,
                                                chunk_size=3),
         lambda rng: (rng.standard_normal((0, 2)), rng.standard_normal((2, 3)), rng.standard_normal(3))),
    "LinearCrossEntropy [no bias, ignore_index, none]":
        (lambda x, W: F.linear_cross_entropy(x, W, _on(x, _NO_T), reduction="none", chunk_size=2),
         _two((0, 4), (4, 3))),
}
SPECS = [replace(s, empty=EMPTY[s.label]) if s.label in EMPTY else s for s in SPECS]
