"""float16 accumulates in float32 and returns float16: reductions, softmax family, every loss
(docs/losses.md#conventions)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.specs import SPECS

RNG = np.random.default_rng(0)


def _run(fn, x, dtype):
    v = mg.Variable(x.astype(np.float16).astype(dtype))  # the reference sees the same (rounded) input
    y = fn(v)
    gy = np.random.default_rng(1).uniform(0.5, 1.5, y.shape).astype(np.float16)
    y.backward(gy.astype(dtype))
    return y, v.grad


def _within_one_ulp(got, ref):
    """got (float16) within one float16 ulp of the float64 reference (or of the smallest subnormal step), plus
    what float32 accumulation may lose to cancellation (64 float32 ulps of the largest element)."""
    step = np.maximum(np.spacing(np.abs(ref).astype(np.float16)).astype(np.float64), 2.0 ** -24)
    step = step + 64 * np.finfo(np.float32).eps * np.abs(ref).max()
    err = np.abs(got.astype(np.float64) - ref)
    assert (err <= step).all(), f"max error {err.max()} ulps {(err / step).max()}"


N = 300 * 256  # 76,800 elements: more than float16's largest finite value, 65,504
X = RNG.standard_normal((300, 256))
T_IDX = RNG.integers(0, 256, 300)
T_BIN = (RNG.uniform(size=(300, 256)) < 0.3).astype(np.float64)
P = RNG.uniform(0.05, 0.95, (300, 256))
Q = RNG.dirichlet(np.ones(256), 300)
CASES = {
    "sum": lambda x: F.sum(x, axis=1),
    "mean": F.mean,
    "mean-axis": lambda x: F.mean(x, axis=0),
    "softmax": lambda x: F.softmax(x, axis=1),
    "log_softmax": lambda x: F.log_softmax(x, axis=1),
    "logsumexp": lambda x: F.logsumexp(x, axis=1),
    "ce": lambda x: F.softmax_cross_entropy(x, T_IDX),
    "ce-smoothing-weight": lambda x: F.softmax_cross_entropy(x, T_IDX, label_smoothing=0.1,
                                                             weight=np.linspace(0.5, 2, 256)),
    "ce-probabilities": lambda x: F.softmax_cross_entropy(x, Q.astype(np.float16)),
    "ce_simple": lambda x: F.softmax_cross_entropy_simple(x, T_IDX),
    "nll": lambda x: F.nll_loss(x, T_IDX),
    "sigmoid_bce": lambda x: F.sigmoid_bce(x, T_BIN, pos_weight=np.full(256, 2.0)),
    "sigmoid_bce_simple": lambda x: F.sigmoid_bce_simple(x, T_BIN),
    "bce": lambda p: F.binary_cross_entropy(p, T_BIN),
}
INPUTS = {"bce": P}  # probabilities; X (logits) for the others


@pytest.mark.parametrize("name", list(CASES))
def test_float16_results_are_float16_and_within_one_ulp(name):
    fn, x = CASES[name], INPUTS.get(name, X)
    y16, g16 = _run(fn, x, np.float16)
    y64, g64 = _run(fn, x, np.float64)
    assert y16.dtype == np.float16 and g16.dtype == np.float16
    assert np.isfinite(y16.data).all() and np.isfinite(g16.data).all()
    _within_one_ulp(y16.data, y64.data)
    _within_one_ulp(g16.data, g64.data)


def test_a_mean_over_more_than_65504_elements():
    x = mg.Variable(np.ones(100_000, np.float16))
    y = F.mean(x)
    y.backward()
    assert y.dtype == np.float16 and float(y) == 1.0
    assert (x.grad.data == np.float16(1e-5)).all()
    assert F.mean(np.full((70_000, 2), 3.0, np.float16), axis=0).data.tolist() == [3.0, 3.0]


def test_a_float16_sum_accumulates_in_float32():
    x = np.full(4096, 0.1, np.float16)
    assert F.sum(x).data == np.float16(np.float32(x[0]) * 4096)  # float16 steps would stall at 256
    assert np.isinf(F.sum(np.ones(70_000, np.float16)).data)  # the sum itself overflows float16, as in torch


@pytest.mark.parametrize("name", ["ce", "sigmoid_bce", "log_softmax", "mean"])
def test_float16_is_as_accurate_as_torch(name):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    ref = {"ce": lambda x: tf.cross_entropy(x, torch.tensor(T_IDX)),
           "sigmoid_bce": lambda x: tf.binary_cross_entropy_with_logits(x, torch.tensor(T_BIN, dtype=x.dtype),
                                                                        pos_weight=torch.full((256,), 2.0,
                                                                                              dtype=x.dtype)),
           "log_softmax": lambda x: tf.log_softmax(x, dim=1), "mean": torch.mean}[name]
    tx = torch.tensor(X.astype(np.float16), requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.ones_like(ty))
    y16, g16 = _run(CASES[name], X, np.float16)
    y64, g64 = _run(CASES[name], X, np.float64)
    ours = np.abs(g16.data.astype(np.float64) - g64.data).max()
    theirs = np.abs(tx.grad.numpy().astype(np.float64) - g64.data).max()
    assert ours <= theirs * 1.01 + 1e-12, (ours, theirs)
    assert np.abs(y16.data.astype(np.float64) - y64.data).max() <= (
        np.abs(ty.detach().numpy().astype(np.float64) - y64.data).max() * 1.01 + 1e-12)


# ----------------------------------------------------------------------------- the spec table in float16


def _spec_run(spec, arrays, gy):
    xs = [mg.Variable(a) for a in arrays]
    y = spec.fn(*xs)
    gxs = mg.grad(y, [x for x in xs if x.dtype.kind == "f"], gy.astype(y.dtype))
    return y.data, [g.data for g in gxs]


def _within_ulps(got, ref, ulps):
    """got (float16) within `ulps` float16 ulps of ref (float32) wherever ref is within float16's range."""
    ref = ref.astype(np.float64)
    step = np.maximum(np.spacing(np.abs(ref).astype(np.float16)).astype(np.float64), 2.0 ** -24)
    err = np.abs(got.astype(np.float64) - ref)
    finite = np.isfinite(ref) & (np.abs(ref) <= 65504)
    assert (err[finite] <= ulps * step[finite]).all(), f"max error {(err / step)[finite].max()} ulps"


# Rows whose Function is itself a gradient, called directly: the call is described in float16 (its weights
# rounded so), and their gradients are second derivatives built of several float16 Functions with cancellation
# between them (a - sum(a)); they are held to float16's precision of the O(1) values they combine.
SECOND_ORDER = {"GetItemGrad", "NLLLossGrad", "SoftmaxCrossEntropyGrad", "SigmoidBCEGrad", "MaxPoolingGrad",
                "MaxPoolingAt", "AveragePoolingGrad", "Conv2dGradW"}


@pytest.mark.parametrize("spec", SPECS, ids=[s.label for s in SPECS])
def test_every_function_in_float16_is_its_float32_result_rounded(spec):
    """float16 runs in float32: each row's output in float16 is within one float16 ulp of the same row run in
    float32 on the same (rounded) values; its gradients within 4 ulps (a backward of k elementwise Functions
    rounds k times), so a sum or mean accumulated in float16 (tens of ulps off, or inf) fails."""
    arrays16 = [a.astype(np.float16) if a.dtype.kind == "f" else a for a in spec.inputs()]
    arrays32 = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays16]
    shape = spec.fn(*arrays32).shape
    gy = np.random.default_rng(1).uniform(0.5, 1.5, shape).astype(np.float16)
    y16, g16 = _spec_run(spec, arrays16, gy)
    y32, g32 = _spec_run(spec, arrays32, gy.astype(np.float32))
    assert y16.dtype == np.float16 and all(g.dtype == np.float16 for g in g16)
    if spec.name in SECOND_ORDER:  # called directly on a call described in float16 (its weights rounded so)
        np.testing.assert_allclose(y16, y32, rtol=0, atol=2.0 ** -8 * np.abs(y32).max())
    else:
        _within_ulps(y16, y32, 1)
    for a, b in zip(g16, g32):
        if spec.name in SECOND_ORDER:
            np.testing.assert_allclose(a, b, rtol=0, atol=2.0 ** -8 * max(np.abs(b).max(), 1))
        else:
            _within_ulps(a, b, 4)


@pytest.mark.parametrize("name, fn, x", [
    ("average_pooling", lambda x: F.average_pooling(x, 8, 8), np.full((1, 1, 8, 8), 2000.0)),
    ("mean_squared_error", lambda x: F.mean_squared_error(x, np.zeros_like(x.data)), np.full((64, 1), 50.0)),
    ("batch_norm", lambda x: F.batch_norm(x, np.ones(1, np.float16), np.zeros(1, np.float16), np.zeros(1), np.ones(1)),
     np.full((64, 1), 2000.0)),
])
def test_float16_sums_of_large_values_do_not_overflow_on_the_way(name, fn, x):
    """Each sums 64 values (128,000 or 160,000 in all, beyond float16's 65,504) on the way to a result in range."""
    x = mg.Variable((x + np.arange(64).reshape(x.shape) % 3).astype(np.float16))
    y = fn(x)
    ref = fn(mg.Variable(x.data.astype(np.float32))).data
    y.backward(np.ones(y.shape, np.float16))
    assert y.dtype == np.float16 and x.grad.dtype == np.float16
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all(), y.data
    _within_ulps(y.data, ref, 1)
