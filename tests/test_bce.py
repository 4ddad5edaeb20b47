"""sigmoid_bce, binary_cross_entropy vs float64 loop references, extremes, errors (docs/losses.md#sigmoid_bce)."""
import itertools
import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F


def _log_sigmoid(v):
    return min(v, 0.0) - math.log1p(math.exp(-abs(v)))


def _sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def ref_sigmoid_bce(x, y, w=None, pw=None, reduction="mean", gy=None):
    """Loss and gradients for x and y from docs/losses.md#sigmoid_bce, element by element in float64."""
    w = np.broadcast_to(1.0 if w is None else w, x.shape)
    pw = np.broadcast_to(1.0 if pw is None else pw, x.shape)
    loss, gx, gt = (np.zeros(x.shape) for _ in range(3))
    for i in np.ndindex(x.shape):
        v, t, p = float(x[i]), float(y[i]), float(pw[i])
        loss[i] = w[i] * ((1 - t) * v - (1 + (p - 1) * t) * _log_sigmoid(v))
        gx[i] = w[i] * ((p * t + 1 - t) * _sigmoid(v) - p * t)
        gt[i] = w[i] * (-p * _log_sigmoid(v) + _log_sigmoid(-v))
    return _reduce(loss, gx, gt, reduction, gy)


def ref_bce(p, y, w=None, reduction="mean", gy=None):
    """Loss and gradients from docs/losses.md#binary_cross_entropy: logs clamped at -100, denominator at 1e-12."""
    w = np.broadcast_to(1.0 if w is None else w, p.shape)
    loss, gp, gt = (np.zeros(p.shape) for _ in range(3))
    for i in np.ndindex(p.shape):
        v, t = float(p[i]), float(y[i])
        log_p = max(math.log(v), -100) if v > 0 else -100
        log_q = max(math.log1p(-v), -100) if v < 1 else -100
        loss[i] = -w[i] * (t * log_p + (1 - t) * log_q)
        gp[i] = w[i] * (v - t) / max(v * (1 - v), 1e-12)
        gt[i] = w[i] * (math.log1p(-v) - math.log(v))
    return _reduce(loss, gp, gt, reduction, gy)


def _reduce(loss, gx, gt, reduction, gy):
    if reduction == "none":
        k = np.ones(loss.shape) if gy is None else gy
        return loss, gx * k, gt * k
    k = (1.0 if gy is None else float(gy)) / (loss.size if reduction == "mean" else 1)
    return loss.sum() * (1 / loss.size if reduction == "mean" else 1), gx * k, gt * k


CASES = [((5,), (5,), ()), ((6, 4), (4,), (4,)), ((6, 4), (6, 1), (1, 4)), ((2, 3, 4, 2), (3, 1, 1), (3, 1, 1)),
         ((), (), ())]


@pytest.mark.parametrize("shape, w_shape, pw_shape", CASES, ids=[str(c[0]) for c in CASES])
def test_sigmoid_bce_matches_float64_reference(shape, w_shape, pw_shape, blocks):
    rng = np.random.default_rng(len(shape))
    for weighted, positive, reduction in itertools.product([False, True], [False, True], ["none", "mean", "sum"]):
        x, y = rng.standard_normal(shape) * 4, rng.uniform(0, 1, shape)
        w = rng.uniform(0.5, 2, w_shape) if weighted else None
        pw = rng.uniform(0.5, 3, pw_shape) if positive else None
        xv, yv = mg.Variable(x), mg.Variable(y)
        out = F.sigmoid_bce(xv, yv, weight=w, pos_weight=pw, reduction=reduction)
        gy = rng.standard_normal(out.shape)
        out.backward(gy)
        loss, gx, gt = ref_sigmoid_bce(x, y, w, pw, reduction, gy)
        where = f"weighted={weighted} pos_weight={positive} reduction={reduction}"
        np.testing.assert_allclose(out.data, loss, rtol=1e-12, atol=1e-14, err_msg=where)
        np.testing.assert_allclose(xv.grad.data, gx, rtol=1e-12, atol=1e-14, err_msg=where)
        np.testing.assert_allclose(yv.grad.data, gt, rtol=1e-12, atol=1e-14, err_msg=where)


@pytest.mark.parametrize("shape", [(5,), (6, 4), (2, 3, 4)], ids=str)
def test_binary_cross_entropy_matches_float64_reference(shape):
    rng = np.random.default_rng(9)
    for weighted, reduction in itertools.product([False, True], ["none", "mean", "sum"]):
        p, y = rng.uniform(0.01, 0.99, shape), rng.uniform(0, 1, shape)
        w = rng.uniform(0.5, 2, shape[-1:]) if weighted else None
        pv, yv = mg.Variable(p), mg.Variable(y)
        out = F.binary_cross_entropy(pv, yv, weight=w, reduction=reduction)
        gy = rng.standard_normal(out.shape)
        out.backward(gy)
        loss, gp, gt = ref_bce(p, y, w, reduction, gy)
        np.testing.assert_allclose(out.data, loss, rtol=1e-12)
        np.testing.assert_allclose(pv.grad.data, gp, rtol=1e-12)
        np.testing.assert_allclose(yv.grad.data, gt, rtol=1e-12)


def test_fused_equals_bce_of_sigmoid_away_from_saturation(blocks):
    rng = np.random.default_rng(10)
    x, y, w = rng.uniform(-5, 5, (7, 3)), rng.uniform(0, 1, (7, 3)), rng.uniform(0.5, 2, 3)
    for reduction in ("none", "mean", "sum"):
        x1, x2 = mg.Variable(x), mg.Variable(x)
        fused = F.sigmoid_bce(x1, y, weight=w, reduction=reduction)
        composite = F.binary_cross_entropy(F.sigmoid(x2), y, weight=w, reduction=reduction)
        np.testing.assert_allclose(fused.data, composite.data, rtol=1e-12)
        fused.backward(np.ones(fused.shape))
        composite.backward(np.ones(composite.shape))
        np.testing.assert_allclose(x1.grad.data, x2.grad.data, rtol=1e-9)


def test_gradient_is_sigmoid_minus_target():
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((4, 5)), rng.uniform(0, 1, (4, 5))
    xv = mg.Variable(x)
    F.sigmoid_bce(xv, y, reduction="sum").backward()
    np.testing.assert_allclose(xv.grad.data, 1 / (1 + np.exp(-x)) - y, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_bce_extremes_follow_torch_and_stay_silent(dtype, blocks):
    """docs/losses.md#sigmoid_bce, edge cases: exact at +-1e4 (and 1e6), NaN only where torch has NaN."""
    x = np.array([-1e6, -1e4, -100, 0, 100, 1e4, 1e6], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y, loss, grad in [(0, [0, 0, 3.7e-44, math.log(2), 100, 1e4, 1e6], [0, 0, 3.7e-44, 0.5, 1, 1, 1]),
                              (1, [1e6, 1e4, 100, math.log(2), 3.7e-44, 0, 0], [-1, -1, -1, -0.5, 0, 0, 0])]:
            xv = mg.Variable(x)
            out = F.sigmoid_bce(xv, np.full(x.shape, y, dtype=dtype), reduction="none")
            out.backward()
            assert out.dtype == dtype and xv.grad.dtype == dtype
            np.testing.assert_allclose(out.data, loss, rtol=1e-6, atol=1e-40)  # float32 3.7e-44 is subnormal
            np.testing.assert_allclose(xv.grad.data, grad, rtol=1e-6, atol=1e-40)


def test_infinite_logits_give_nan_losses_and_limit_gradients():
    """Infinite logits meet 0 * inf in the loss, as in torch (issue #102894), which differs only at
    (+inf, 0): inf there, NaN here. The gradients are the limits."""
    xv = mg.Variable(np.array([np.inf, np.inf, -np.inf, -np.inf]))
    out = F.sigmoid_bce(xv, np.array([0.0, 1.0, 0.0, 1.0]), reduction="none")
    out.backward()
    np.testing.assert_array_equal(out.data, [np.nan, np.nan, np.nan, np.inf])
    np.testing.assert_array_equal(xv.grad.data, [1, 0, 0, -1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_losses_keep_their_relative_precision(dtype):
    """log1p(exp(-30)) = 9.36e-14 at x = -30, y = 0 (torch's float32 form returns 0 here)."""
    x = np.array([-30.0, 30.0, -20.0], dtype=dtype)
    out = F.sigmoid_bce(x, np.array([0.0, 1.0, 0.0], dtype=dtype), reduction="none")
    np.testing.assert_allclose(out.data, [math.log1p(math.exp(-30))] * 2 + [math.log1p(math.exp(-20))],
                               rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_bce_clamp_table():
    """docs/losses.md#binary_cross_entropy: logs clamped at -100, the gradient's denominator at 1e-12."""
    p = mg.Variable(np.array([0.0, 0.0, 1.0, 1.0, 1e-30, 0.5]))
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.5])
    out = F.binary_cross_entropy(p, y, reduction="none")
    out.backward()
    np.testing.assert_allclose(out.data, [0, 100, 0, 100, 69.07755278982137, math.log(2)], rtol=1e-12)
    np.testing.assert_allclose(p.grad.data, [0, -1e12, 0, 1e12, -1e12, 0], rtol=1e-12)


def test_bce_of_sigmoid_breaks_where_the_fused_loss_does_not():
    x = np.array([40.0, -40.0])
    y = np.array([0.0, 1.0])
    assert np.allclose(F.sigmoid_bce(x, y, reduction="none").data, 40.0)
    np.testing.assert_allclose(F.binary_cross_entropy(F.sigmoid(x), y, reduction="none").data,
                               [100.0, 40.0])  # sigmoid(40) rounds to 1: log(1 - 1) is clamped at -100


def test_integer_and_bool_targets_are_cast_and_float_targets_get_gradients():
    rng = np.random.default_rng(12)
    x = mg.Variable(rng.standard_normal((4, 3)).astype(np.float32))
    labels = rng.integers(0, 2, (4, 3))
    base = F.sigmoid_bce(x, labels.astype(np.float32)).data
    for t in (labels, labels.astype(np.uint8), labels.astype(bool)):
        out = F.sigmoid_bce(x, t)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data, base)
    y = mg.Variable(rng.uniform(0, 1, (4, 3)))  # float64 targets for float32 logits
    out = F.sigmoid_bce(x, y)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    assert F.binary_cross_entropy_with_logits is F.sigmoid_bce


def test_pos_weight_scales_only_the_positive_term():
    x = np.array([0.3, -1.2])
    one = F.sigmoid_bce(x, np.ones(2), reduction="none").data
    zero = F.sigmoid_bce(x, np.zeros(2), reduction="none").data
    np.testing.assert_allclose(F.sigmoid_bce(x, np.ones(2), pos_weight=np.array(3.0), reduction="none").data, 3 * one)
    np.testing.assert_allclose(F.sigmoid_bce(x, np.zeros(2), pos_weight=np.array(3.0), reduction="none").data, zero)


def test_mean_divides_by_the_number_of_elements_and_empty_is_nan():
    x, y, w = np.zeros((2, 3)), np.zeros((2, 3)), np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(F.sigmoid_bce(x, y, weight=w).data, math.log(2) * 12 / 6)
    np.testing.assert_allclose(F.binary_cross_entropy(x + 0.5, y, weight=w).data, math.log(2) * 12 / 6)
    assert np.isnan(F.sigmoid_bce(np.zeros((0, 3)), np.zeros((0, 3))).data)
    assert np.isnan(F.binary_cross_entropy(np.zeros((0, 3)), np.zeros((0, 3))).data)


def test_caller_arrays_untouched():
    rng = np.random.default_rng(13)
    x, y, w, pw = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4)), rng.uniform(0.5, 2, 4), rng.uniform(1, 3, 4)
    copies = [a.copy() for a in (x, y, w, pw)]
    F.sigmoid_bce(mg.Variable(x), mg.Variable(y), weight=w, pos_weight=pw).backward()
    F.binary_cross_entropy(mg.Variable(y), mg.Variable(y), weight=w).backward()
    for a, b in zip((x, y, w, pw), copies):
        np.testing.assert_array_equal(a, b)


X = np.zeros((3, 4))
P = np.full((3, 4), 0.5)


@pytest.mark.parametrize("fn, x, t, kwargs, exc, pattern", [
    (F.sigmoid_bce, X, np.zeros((3, 1)), {}, ValueError, r"target shape \(3, 1\) does not match input shape \(3, 4\)"),
    (F.sigmoid_bce, X, np.zeros(4), {}, ValueError, r"target shape \(4,\) does not match input shape \(3, 4\)"),
    (F.sigmoid_bce, X, X, {"pos_weight": np.ones(3)}, ValueError,
     r"pos_weight of shape \(3,\) does not broadcast to the input shape \(3, 4\)"),
    (F.sigmoid_bce, np.zeros((2, 3, 4, 5)), np.zeros((2, 3, 4, 5)), {"pos_weight": np.ones(3)}, ValueError,
     r"pos_weight of shape \(3,\)"),
    (F.sigmoid_bce, X, X, {"weight": np.ones((2, 3, 4))}, ValueError,
     r"weight of shape \(2, 3, 4\) does not broadcast"),
    (F.sigmoid_bce, X, X, {"reduction": "avg"}, ValueError, "'avg' is not a valid value for reduction"),
    (F.sigmoid_bce, X.astype(np.int64), X, {}, TypeError, "floating point input, got dtype int64"),
    (F.sigmoid_bce, X, np.full((3, 4), "a"), {}, TypeError, r"sigmoid_bce: target must hold real numbers .* <U1"),
    (F.binary_cross_entropy, P + 0.6, P, {}, ValueError,
     r"elements of input should be between 0 and 1, got 1.1 at index \(0, 0\)"),
    (F.binary_cross_entropy, np.where(np.eye(3, 4) > 0, -0.5, P), P, {}, ValueError, "got -0.5 at index"),
    (F.binary_cross_entropy, np.where(np.eye(3, 4) > 0, np.nan, P), P, {}, ValueError, "got nan"),
    (F.binary_cross_entropy, P, P * 3, {}, ValueError, "elements of target should be between 0 and 1, got 1.5"),
    (F.binary_cross_entropy, P, P[:, :1], {}, ValueError, r"target shape \(3, 1\) does not match input shape \(3, 4\)"),
    (F.binary_cross_entropy, P, P, {"weight": np.ones(3)}, ValueError, r"weight of shape \(3,\) does not broadcast"),
], ids=["bcewl-column", "bcewl-row", "pos-weight", "pos-weight-channels", "weight-enlarges", "reduction",
        "integer-logits", "string-target", "bce-above-1", "bce-negative", "bce-nan", "bce-target", "bce-shape",
        "bce-weight"])
def test_errors(fn, x, t, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn(x, t, **kwargs)


@pytest.mark.parametrize("shape, w_shape, pw_shape", CASES, ids=[str(c[0]) for c in CASES])
def test_fused_equals_the_simple_reference(shape, w_shape, pw_shape, blocks):
    """sigmoid_bce_simple, the composite beside the fused loss: values, gradients for x and the target,
    and Hessian-vector products agree with and without weights."""
    rng = np.random.default_rng(12)
    for weighted, positive, reduction in itertools.product([False, True], [False, True], ["none", "mean", "sum"]):
        x, y = rng.standard_normal(shape) * 4, rng.uniform(0, 1, shape)
        options = dict(weight=rng.uniform(0.5, 2, w_shape) if weighted else None,
                       pos_weight=rng.uniform(0.5, 3, pw_shape) if positive else None, reduction=reduction)
        gy, v = rng.standard_normal(() if reduction != "none" else shape), rng.standard_normal(shape)
        results = []
        for fn in (F.sigmoid_bce, F.sigmoid_bce_simple):
            xv, yv = mg.Variable(x), mg.Variable(y)
            out = fn(xv, yv, **options)
            gx, gt = mg.grad(out, [xv, yv], gy, create_graph=True)
            hv = mg.grad(F.sum(gx * v), [xv])[0]
            results.append([out.data, gx.data, gt.data, hv.data])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=str(options))

