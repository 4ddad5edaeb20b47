"""PyTorch as an oracle: values and gradients of every loss and activation on random configurations (docs/losses.md)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
SHAPES = [(5,), (7, 4), (3, 4, 5), (2, 4, 3, 2)]
REDUCTIONS = ["none", "mean", "sum"]


def _tensor(a, grad=False):
    return None if a is None else torch.tensor(a, requires_grad=grad)


def _compare(ours, theirs, rtol):
    """ours: list of minigrad results, theirs: torch results, in the same order."""
    for a, b in zip(ours, theirs):
        b = b.detach().numpy()
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2, equal_nan=True)


def _run(ours_fn, theirs_fn, inputs, differentiable, rng, rtol):
    """Forward both, backward a random upstream gradient, compare outputs and input gradients."""
    vs = [mg.Variable(a) if d else a for a, d in zip(inputs, differentiable)]
    ts = [_tensor(a, d) for a, d in zip(inputs, differentiable)]
    y, yt = ours_fn(*vs), theirs_fn(*ts)
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    grads = [(v.grad.data, t.grad) for v, t, d in zip(vs, ts, differentiable) if d]
    _compare([y.data] + [g for g, _ in grads], [yt] + [g for _, g in grads], rtol)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cross_entropy(shape, dtype, rtol):
    rng = np.random.default_rng(sum(shape))
    c = shape[0] if len(shape) == 1 else shape[1]
    for _ in range(12):
        x = (rng.standard_normal(shape) * rng.choice([1, 5])).astype(dtype)
        probs = rng.random() < 0.4
        if probs:
            t = rng.uniform(0, 1, shape).astype(dtype)
            ignore = -100
        else:
            t = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
            ignore = int(rng.choice([-100, 1]))
        w = rng.uniform(0.5, 2, c).astype(dtype) if rng.random() < 0.5 else None
        kwargs = dict(ignore_index=ignore, reduction=str(rng.choice(REDUCTIONS)),
                      label_smoothing=float(rng.choice([0.0, 0.1, 1.0])))
        _run(lambda a, b: F.softmax_cross_entropy(a, b, weight=w, **kwargs),
             lambda a, b: TF.cross_entropy(a, b, weight=_tensor(w), **kwargs),
             (x, t), (True, probs), rng, rtol)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sigmoid_bce(shape, dtype, rtol, blocks):
    rng = np.random.default_rng(sum(shape) + 1)
    for _ in range(12):
        x = (rng.standard_normal(shape) * rng.choice([1, 10])).astype(dtype)
        y = rng.uniform(0, 1, shape).astype(dtype)
        trailing = shape[-1:] if rng.random() < 0.5 else (1,) * len(shape)
        w = rng.uniform(0.5, 2, trailing).astype(dtype) if rng.random() < 0.5 else None
        pw = rng.uniform(0.5, 3, shape[-1:]).astype(dtype) if rng.random() < 0.5 else None
        reduction = str(rng.choice(REDUCTIONS))
        _run(lambda a, b: F.sigmoid_bce(a, b, weight=w, pos_weight=pw, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=_tensor(w), pos_weight=_tensor(pw),
                                                              reduction=reduction),
             (x, y), (True, True), rng, rtol)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_binary_cross_entropy(shape):
    rng = np.random.default_rng(sum(shape) + 2)
    for reduction in REDUCTIONS:
        p, y = rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape)
        w = rng.uniform(0.5, 2, shape[-1:])
        _run(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, weight=_tensor(w), reduction=reduction),
             (p, y), (True, True), rng, 1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_nll_loss(shape):
    rng = np.random.default_rng(sum(shape) + 3)
    c = shape[0] if len(shape) == 1 else shape[1]
    for reduction in REDUCTIONS:
        x = rng.standard_normal(shape)
        t = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
        w = rng.uniform(0.5, 2, c)
        _run(lambda a: F.nll_loss(a, t, weight=w, reduction=reduction),
             lambda a: TF.nll_loss(a, _tensor(t), weight=_tensor(w), reduction=reduction),
             (x,), (True,), rng, 1e-12)


@pytest.mark.parametrize("ours, theirs", [
    (F.softmax, lambda a: torch.softmax(a, 1)), (F.log_softmax, lambda a: torch.log_softmax(a, 1)),
    (F.sigmoid, torch.sigmoid), (F.log_sigmoid, TF.logsigmoid),
    (lambda a: F.logsumexp(a, axis=1), lambda a: torch.logsumexp(a, 1)),
], ids=["softmax", "log_softmax", "sigmoid", "log_sigmoid", "logsumexp"])
def test_activations(ours, theirs):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5)) * 30
    _run(ours, theirs, (x,), (True,), rng, 1e-12)
