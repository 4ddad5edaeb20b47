"""softmax_cross_entropy vs float64 loops, the composite, extremes, errors (docs/losses.md#softmax_cross_entropy)."""
import itertools
import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
import minigrad.losses.ce as ce

SHAPES = [(5,), (6, 4), (3, 4, 5), (2, 4, 3, 2)]


def _positions(x):
    """x as (P, C) rows of logits, one row per position (N * d1 * ... * dk of them)."""
    return np.moveaxis(x.reshape((1,) + x.shape) if x.ndim == 1 else x, 1, -1).reshape(-1, x.shape[x.ndim > 1])


def _from_positions(rows, shape):
    """The inverse of _positions for arrays shaped like the logits."""
    if len(shape) == 1:
        return rows.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, 1)


def ref_ce(x, t, w=None, ignore_index=-100, reduction="mean", eps=0.0, gy=None):
    """Loss, gradient for x and (probability targets) for t, one position at a time in float64.

    Written from docs/losses.md#softmax_cross_entropy: per position q_c = (1 - eps) target_c + eps / C and
    l = -sum_c w_c q_c lp_c; the gradient is c (S sum_c w_c q_c - w q), c the reduction's factor.
    """
    rows = _positions(x)
    c = rows.shape[1]
    w = np.ones(c) if w is None else np.asarray(w, dtype=np.float64)
    probs = t.shape == x.shape
    trows = _positions(t) if probs else np.asarray(t).reshape(-1)
    losses, gx, gt, denom = [], np.zeros_like(rows), np.zeros_like(rows), 0.0
    for n, z in enumerate(rows):
        lse = max(z) + math.log(sum(math.exp(v - max(z)) for v in z))
        lp = z - lse
        if probs:
            q = (1 - eps) * trows[n] + eps / c
            denom += 1
        elif trows[n] == ignore_index:
            losses.append(0.0)
            continue
        else:
            q = np.full(c, eps / c)
            q[trows[n]] += 1 - eps
            denom += w[trows[n]]
        losses.append(-np.sum(w * q * lp))
        gx[n] = np.exp(lp) * np.sum(w * q) - w * q
        gt[n] = -(1 - eps) * w * lp
    losses = np.array(losses)
    out_shape = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if reduction == "none":
        scale = np.ones(len(rows)) if gy is None else np.asarray(gy, dtype=np.float64).reshape(-1)
        loss = losses.reshape(out_shape)
    else:
        factor = 1.0 if reduction == "sum" else 1.0 / denom
        scale = np.full(len(rows), factor * (1.0 if gy is None else float(gy)))
        loss = losses.sum() * factor
    return loss, _from_positions(gx * scale[:, None], x.shape), _from_positions(gt * scale[:, None], x.shape)


def _case(rng, shape, probs, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape) * 3
    if probs:
        return x, rng.uniform(0, 1, shape), c
    t = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
    if ignore and t.size > 1:
        t.reshape(-1)[1] = -100
    return x, t, c


OPTIONS = list(itertools.product([False, True], [False, True], [0.0, 0.25], ["none", "mean", "sum"]))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("probs", [False, True], ids=["indices", "probabilities"])
def test_matches_float64_reference(shape, probs, blocks):
    rng = np.random.default_rng(len(shape) + probs)
    for weighted, ignore, eps, reduction in OPTIONS:
        x, t, c = _case(rng, shape, probs, ignore)
        w = rng.uniform(0.5, 2.0, c) if weighted else None
        xv, tv = mg.Variable(x), (mg.Variable(t) if probs else t)
        y = F.softmax_cross_entropy(xv, tv, weight=w, reduction=reduction, label_smoothing=eps)
        gy = rng.standard_normal(y.shape)
        y.backward(gy)
        loss, gx, gt = ref_ce(x, t, w, -100, reduction, eps, gy)
        where = f"weighted={weighted} ignore={ignore} eps={eps} reduction={reduction}"
        np.testing.assert_allclose(y.data, loss, rtol=1e-12, atol=1e-13, err_msg=where)
        np.testing.assert_allclose(xv.grad.data, gx, rtol=1e-10, atol=1e-13, err_msg=where)
        if probs:
            np.testing.assert_allclose(tv.grad.data, gt, rtol=1e-10, atol=1e-13, err_msg=where)


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
def test_fused_equals_composite_graph(shape, blocks):
    """CE = NLL(log_softmax); the smoothing term is -sum_c w_c lp_c; probabilities: -sum w q lp / positions."""
    rng = np.random.default_rng(7)
    for weighted, ignore, eps, reduction in OPTIONS:
        x, t, c = _case(rng, shape, False, ignore)
        w = rng.uniform(0.5, 2.0, c) if weighted else None
        wb = np.ones(c) if w is None else w
        x1, x2 = mg.Variable(x), mg.Variable(x)
        fused = F.softmax_cross_entropy(x1, t, weight=w, reduction=reduction, label_smoothing=eps)
        lp = F.log_softmax(x2)
        valid = (t != -100)[:, None].astype(np.float64)
        smooth = -F.sum(lp * wb.reshape((1, c) + (1,) * (x.ndim - 2)) * valid, axis=1)
        per = (1 - eps) * F.nll_loss(lp, t, weight=w, reduction="none") + (eps / c) * smooth
        if reduction == "none":
            composite = per
        else:
            denom = wb[np.where(t == -100, 0, t)][t != -100].sum()
            composite = F.sum(per) / (denom if reduction == "mean" else 1.0)
        np.testing.assert_allclose(fused.data, composite.data, rtol=1e-12, atol=1e-14)
        gy = rng.standard_normal(fused.shape)
        fused.backward(gy)
        composite.backward(gy)
        np.testing.assert_allclose(x1.grad.data, x2.grad.data, rtol=1e-10, atol=1e-14)


def test_probability_targets_equal_the_composite_and_their_one_hot_index_targets():
    rng = np.random.default_rng(8)
    x, t, c = _case(rng, (6, 4), False, False)
    onehot = np.eye(c)[t]
    w = rng.uniform(0.5, 2.0, c)
    by_index = F.softmax_cross_entropy(x, t, label_smoothing=0.1)
    by_probs = F.softmax_cross_entropy(x, onehot, label_smoothing=0.1)
    np.testing.assert_allclose(by_index.data, by_probs.data, rtol=1e-13)
    q = rng.uniform(0, 1, x.shape)
    composite = -F.sum(w * q * F.log_softmax(x)) / 6
    np.testing.assert_allclose(F.softmax_cross_entropy(x, q, weight=w).data, composite.data, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_of_1e6_are_exact_and_silent(dtype, blocks):
    x = np.array([[1e6, -1e6, 0.0], [-1e6, 1e6, 0.0], [0.0, 0.0, 1e6]], dtype=dtype)
    t = np.array([0, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xv = mg.Variable(x)
        y = F.softmax_cross_entropy(xv, t, reduction="none")
        y.backward()
        smoothed = F.softmax_cross_entropy(x, t, reduction="sum", label_smoothing=0.3)
    assert y.dtype == dtype and xv.grad.dtype == dtype
    np.testing.assert_array_equal(y.data, [0.0, 2e6, 0.0])
    np.testing.assert_array_equal(xv.grad.data, [[0, 0, 0], [-1, 1, 0], [0, 0, 0]])
    # smoothing: 0.1 * (sum of lse - x_c over the 3 classes) per row
    np.testing.assert_allclose(smoothed.data, 0.7 * 2e6 + 0.1 * (3e6 + 3e6 + 2e6), rtol=1e-7)


def test_infinite_and_nan_logits_follow_torch():
    x = mg.Variable(np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 0.0],
                              [np.nan, 0.0, 0.0], [-np.inf, 0.0, 0.0]]))
    y = F.softmax_cross_entropy(x, np.array([0, 0, 0, 1, 0]), reduction="none")
    y.backward()
    assert np.isfinite(y.data[0]) and x.grad.data[0, 1] == 0.0  # -inf off the target: no loss, no gradient
    assert np.isnan(y.data[1:4]).all()  # an all -inf row, a row with +inf, a NaN
    assert y.data[4] == np.inf  # -inf at the target


def test_all_ignored_mean_is_nan_with_zero_gradient():
    for kwargs in ({}, {"label_smoothing": 0.2}, {"weight": np.array([1.0, 2.0, 3.0, 4.0]), "label_smoothing": 0.2}):
        x = mg.Variable(np.random.default_rng(0).standard_normal((3, 4)))
        y = F.softmax_cross_entropy(x, np.full(3, -100), **kwargs)
        assert np.isnan(y.data)
        y.backward()
        np.testing.assert_array_equal(x.grad.data, 0.0)


def test_zero_weights_give_nan_and_empty_batches_follow_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert np.isnan(F.softmax_cross_entropy(x, np.array([0, 0, 1]), weight=np.array([0.0, 0.0, 1, 1])).data)
    empty = np.zeros((0, 4))
    assert np.isnan(F.softmax_cross_entropy(empty, np.zeros(0, dtype=int)).data)
    assert float(F.softmax_cross_entropy(empty, np.zeros(0, dtype=int), reduction="sum").data) == 0.0
    assert np.isnan(F.softmax_cross_entropy(empty, np.zeros((0, 4))).data)


def test_ignore_index_may_be_a_class_and_stays_in_the_softmax():
    x = np.random.default_rng(1).standard_normal((3, 4))
    t = np.array([0, 1, 2])
    y = F.softmax_cross_entropy(x, t, ignore_index=0)
    np.testing.assert_allclose(y.data, ref_ce(x, np.where(t == 0, -100, t))[0], rtol=1e-13)


def test_dtypes_and_target_gradient():
    rng = np.random.default_rng(2)
    x = mg.Variable(rng.standard_normal((4, 3)).astype(np.float32))
    q = mg.Variable(rng.uniform(0, 1, (4, 3)))  # float64 targets for float32 logits
    y = F.softmax_cross_entropy(x, q, label_smoothing=0.1)
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and q.grad.dtype == np.float64
    for dtype in (np.int8, np.uint8, np.int32, np.int64):
        z = F.softmax_cross_entropy(x, np.array([0, 2, 1, 2], dtype=dtype))
        assert z.dtype == np.float32
        np.testing.assert_allclose(z.data, ref_ce(x.data.astype(np.float64), np.array([0, 2, 1, 2]))[0], rtol=1e-6)


def test_backward_twice_and_hessian_vector_product(blocks):
    """The forward's buffer becomes the first gradient; a second backward recomputes the same values."""
    rng = np.random.default_rng(3)
    x, t, _ = _case(rng, (5, 4), False, True)
    xv = mg.Variable(x)
    y = F.softmax_cross_entropy(xv, t, label_smoothing=0.1)
    g1 = mg.grad(y, [xv])[0]
    g2 = mg.grad(y, [xv], create_graph=True)[0]
    np.testing.assert_array_equal(g1.data, g2.data)
    v = rng.standard_normal(x.shape)
    hv = mg.grad(F.sum(g2 * v), [xv])[0]
    h = 1e-6  # central differences of the gradient along v
    gp = ref_ce(x + h * v, t, eps=0.1)[1]
    gm = ref_ce(x - h * v, t, eps=0.1)[1]
    np.testing.assert_allclose(hv.data, (gp - gm) / (2 * h), rtol=1e-5, atol=1e-9)


def test_alias_and_caller_arrays_untouched():
    rng = np.random.default_rng(4)
    x, q, w = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3)), rng.uniform(0.5, 2, 3)
    t = np.array([0, -100, 2, 1])
    copies = [a.copy() for a in (x, q, w, t)]
    F.softmax_cross_entropy(mg.Variable(x), t, weight=w, label_smoothing=0.2).backward()
    F.softmax_cross_entropy(mg.Variable(x), mg.Variable(q), weight=w).backward()
    for a, b in zip((x, q, w, t), copies):
        np.testing.assert_array_equal(a, b)
    assert F.cross_entropy is F.softmax_cross_entropy


X = np.zeros((3, 4))
T = np.array([0, 1, 2])


@pytest.mark.parametrize("x, t, kwargs, exc, pattern", [
    (X, np.array([0, 4, 1]), {}, IndexError, "target 4 is out of bounds for 4 classes"),
    (X, np.array([0, -1, 1]), {}, IndexError, "target -1 is out of bounds for 4 classes"),
    (X, np.array([0, 9, 1]), {"reduction": "none", "label_smoothing": 0.1}, IndexError, "target 9 is out of bounds"),
    (X, np.array([0, 1]), {}, ValueError, r"target shape \(2,\) does not match input shape \(3, 4\)"),
    (X, np.array(0), {}, ValueError, r"target shape \(\) does not match input shape \(3, 4\)"),
    (X, np.array([[0], [1], [2]]), {}, ValueError, r"target shape \(3, 1\) does not match input shape \(3, 4\)"),
    (X, np.zeros((3, 5)), {}, ValueError, r"target shape \(3, 5\) does not match input shape \(3, 4\)"),
    (np.zeros((2, 4, 3)), np.zeros((2, 5), dtype=int), {}, ValueError,
     r"\(2, 5\) does not match input shape \(2, 4, 3\)"),
    (np.zeros((2, 4, 3, 3)), np.zeros((2, 3, 2), dtype=int), {}, ValueError, r"expected \(2, 3, 3\)"),
    (X, T, {"weight": np.ones(3)}, ValueError, r"weight of shape \(3,\) does not match 4 classes"),
    (X, T, {"weight": np.ones((1, 4))}, ValueError, r"weight of shape \(1, 4\) does not match 4 classes"),
    (X, np.zeros((3, 4)), {"weight": np.ones(3)}, ValueError, r"weight of shape \(3,\)"),
    (X, np.array([0.0, 1.0, 2.0]), {}, TypeError, "integers, got float64"),
    (X, np.zeros((3, 4), dtype=np.int64), {}, TypeError, "must be floating point, got int64"),
    (X, np.zeros((3, 4)), {"ignore_index": 0}, ValueError, "ignore_index=0 is not supported for probability"),
    (X, T, {"label_smoothing": 1.5}, ValueError, "label_smoothing must be between 0.0 and 1.0, got 1.5"),
    (X, T, {"label_smoothing": -0.1}, ValueError, "got -0.1"),
    (np.zeros((3, 4), dtype=np.int64), T, {}, TypeError, "floating point input, got dtype int64"),
    (np.array(1.0), np.array(0), {}, ValueError, "0-d input"),
    (X, T, {"reduction": "avg"}, ValueError, "'avg' is not a valid value for reduction"),
], ids=["too-large", "negative", "bad-with-smoothing", "batch", "0-d-target", "column-target", "prob-shape",
        "3d-spatial", "4d-spatial", "weight-size", "weight-2d", "prob-weight-size", "float-indices",
        "int-probabilities", "prob-ignore-index", "smoothing-above-1", "smoothing-negative", "integer-logits",
        "0-d-input", "reduction"])
def test_errors(x, t, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        F.softmax_cross_entropy(x, t, **kwargs)


def test_elementwise_mean_is_deprecated_mean():
    x = np.random.default_rng(5).standard_normal((3, 4))
    with pytest.warns(UserWarning, match="elementwise_mean"):
        y = F.softmax_cross_entropy(x, T, reduction="elementwise_mean")
    np.testing.assert_allclose(y.data, F.softmax_cross_entropy(x, T).data)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_blocked_losses_work_in_a_forked_child(monkeypatch):
    """The thread pool does not survive fork; the child must start its own instead of waiting forever."""
    import os
    import signal
    monkeypatch.setattr(ce, "BLOCK", 8)
    x, t = np.random.default_rng(0).standard_normal((64, 10)), np.zeros(64, dtype=int)
    expected = float(F.softmax_cross_entropy(x, t).data)  # the parent's pool now has threads
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the loss is computed, and right
        signal.alarm(20)
        os._exit(0 if float(F.softmax_cross_entropy(x, t).data) == expected else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _first_and_second(loss_fn, x, t, rng, **options):
    """The loss, its gradients (x, and t when it is a Variable) and a Hessian-vector product in x."""
    xv = mg.Variable(x)
    tv = mg.Variable(t) if t.dtype.kind == "f" else t
    y = loss_fn(xv, tv, **options)
    wanted = [xv] + ([tv] if isinstance(tv, mg.Variable) else [])
    gy = rng.standard_normal(y.shape)
    grads = mg.grad(y, wanted, gy, create_graph=True)
    v = rng.standard_normal(x.shape)
    hv = mg.grad(F.sum(grads[0] * v), [xv])[0]
    return [y.data] + [g.data for g in grads] + [hv.data]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("probs", [False, True], ids=["indices", "probabilities"])
def test_fused_equals_the_simple_reference(shape, probs, blocks):
    """softmax_cross_entropy_simple, the composite beside the fused loss: values, both gradients and
    Hessian-vector products agree for every option combination."""
    for i, (weighted, ignore, eps, reduction) in enumerate(OPTIONS):
        x, t, c = _case(np.random.default_rng(i), shape, probs, ignore)
        w = np.random.default_rng(i).uniform(0.5, 2.0, c) if weighted else None
        options = dict(weight=w, reduction=reduction, label_smoothing=eps)
        fused = _first_and_second(F.softmax_cross_entropy, x, t, np.random.default_rng(i), **options)
        simple = _first_and_second(F.softmax_cross_entropy_simple, x, t, np.random.default_rng(i), **options)
        for a, b in zip(fused, simple):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=str(options))


def test_bad_targets_are_refused_before_any_work():
    x = np.zeros((2, 3))
    with pytest.raises(IndexError, match="3"):
        F.softmax_cross_entropy(x, np.array([0, 3]))
    with pytest.raises(IndexError, match="-1"):
        F.softmax_cross_entropy(x, np.array([-1, 0]))
    with pytest.raises(TypeError, match="integers"):
        F.softmax_cross_entropy(x, np.array([0.0, 1.0]))


def test_a_call_description_is_immutable():
    import dataclasses

    from minigrad.losses import ce
    call, _ = ce.describe(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.eps = 0.2
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.reduction.mode = "sum"


@pytest.mark.parametrize("bad", [np.inf, np.nan, -np.inf], ids=["inf", "nan", "-inf"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_non_finite_weight_of_a_class_no_target_uses_does_not_matter(bad, shape, reduction):
    """Inverse class frequencies give an absent class an infinite weight: without label smoothing only the
    targets' weights enter the loss (docs/losses.md#softmax_cross_entropy)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    t = rng.integers(0, 3, shape[:1] + shape[2:])  # class 3 unused
    t.reshape(-1)[0] = -100
    w = np.array([0.5, 2.0, 1.5, bad])
    ref_x = mg.Variable(x)
    ref = F.nll_loss(F.log_softmax(ref_x, axis=1), t, weight=w, reduction=reduction)
    ref.backward(np.ones(ref.shape))
    xv = mg.Variable(x)
    y = F.softmax_cross_entropy(xv, t, weight=w, reduction=reduction)
    y.backward(np.ones(y.shape))
    assert np.isfinite(y.data).all() and np.isfinite(xv.grad.data).all()
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-12)
    np.testing.assert_allclose(xv.grad.data, ref_x.grad.data, rtol=1e-12, atol=1e-15)
    hv = mg.grad(F.sum(mg.grad(F.softmax_cross_entropy(xv, t, weight=w, reduction=reduction), xv,
                               np.ones(y.shape), create_graph=True)[0] ** 2), xv)[0]
    assert np.isfinite(hv.data).all()
    with np.errstate(invalid="ignore"):  # with label smoothing every weight enters, as in torch
        assert not np.isfinite(F.softmax_cross_entropy(x, t, weight=w, label_smoothing=0.1).data)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.cross_entropy(tx, torch.tensor(t), weight=torch.tensor(w), reduction=reduction)
    ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xv.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-15)
