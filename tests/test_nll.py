"""nll_loss against a plain float64 numpy reference, its degenerate cases and its errors (docs/losses.md#nll_loss)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

RNG = np.random.default_rng(0)
CASES = [((5,), ()), ((6, 4), (6,)), ((3, 4, 5), (3, 5)), ((2, 4, 3, 2), (2, 3, 2))]


def ref_nll(x, t, w, ignore_index, reduction):
    """-w[t] x[t] per position, in float64 loops: independent of the vectorised code."""
    xc = np.moveaxis(x.reshape((1,) + x.shape) if x.ndim == 1 else x, 1, -1)
    tt = np.asarray(t).reshape(xc.shape[:-1])
    losses, weights = np.zeros(tt.shape), np.zeros(tt.shape)
    for idx in np.ndindex(tt.shape):
        if tt[idx] != ignore_index:
            weights[idx] = 1.0 if w is None else w[tt[idx]]
            losses[idx] = -weights[idx] * xc[idx + (tt[idx],)]
    if reduction == "none":
        return losses.reshape(np.shape(t))
    return losses.sum() if reduction == "sum" else losses.sum() / weights.sum()


def make(x_shape, t_shape, ignore=True):
    c = x_shape[0] if len(x_shape) == 1 else x_shape[1]
    x = RNG.standard_normal(x_shape)
    t = RNG.integers(0, c, t_shape)
    if ignore and t.size > 1:
        t.reshape(-1)[0] = -100
    return x, t, RNG.uniform(0.5, 2.0, c)


@pytest.mark.parametrize("x_shape, t_shape", CASES, ids=[str(c[0]) for c in CASES])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_matches_reference_and_gradchecks(x_shape, t_shape, reduction, weighted):
    x, t, w = make(x_shape, t_shape)
    w = w if weighted else None
    got = F.nll_loss(x, t, weight=w, reduction=reduction)
    np.testing.assert_allclose(got.data, ref_nll(x, t, w, -100, reduction), rtol=1e-12, atol=1e-15)
    fn = lambda a: F.nll_loss(a, t, weight=w, reduction=reduction)  # noqa: E731
    assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(fn, (x,))


def test_float32_stays_float32_and_any_integer_dtype_works():
    x, t, w = make((6, 4), (6,))
    for dtype in (np.int8, np.int32, np.uint8, np.int64):
        tt = np.where(t < 0, 0, t).astype(dtype)
        xv = mg.Variable(x.astype(np.float32))
        y = F.nll_loss(xv, tt, weight=w)
        y.backward()
        assert y.dtype == np.float32 and xv.grad.dtype == np.float32


def test_ignore_index_may_be_any_value():
    x, _, _ = make((3, 4), (3,))
    t = np.array([1, 100, 2])
    np.testing.assert_allclose(F.nll_loss(x, t, ignore_index=100).data, -(x[0, 1] + x[2, 2]) / 2)


def test_all_ignored_mean_is_nan_with_zero_gradient():
    x = mg.Variable(RNG.standard_normal((3, 4)))
    y = F.nll_loss(x, np.full(3, -100))
    assert np.isnan(y.data)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 0.0)
    assert float(F.nll_loss(x, np.full(3, -100), reduction="sum").data) == 0.0


def test_unbatched_weight_cancels_in_the_mean():
    x = RNG.standard_normal(4)
    np.testing.assert_allclose(F.nll_loss(x, np.array(2), weight=np.array([1.0, 2, 3, 4])).data, -x[2])


def test_caller_arrays_untouched():
    x, t, w = make((4, 3), (4,))
    copies = [a.copy() for a in (x, t, w)]
    F.nll_loss(mg.Variable(x), t, weight=w).backward()
    for a, b in zip((x, t, w), copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, exc, pattern", [
    ({"t": np.array([0, 4, 1])}, IndexError, "target 4 is out of bounds for 4 classes"),
    ({"t": np.array([0, -1, 1])}, IndexError, "target -1 is out of bounds for 4 classes"),
    ({"t": np.array([0, 1])}, ValueError, r"target shape \(2,\) does not match input shape \(3, 4\)"),
    ({"t": np.array([[0], [1], [2]])}, ValueError, r"target shape \(3, 1\) does not match input shape \(3, 4\)"),
    ({"t": np.array([0.0, 1.0, 2.0])}, TypeError, "integers, got float64"),
    ({"t": np.array([True, False, True])}, TypeError, "integers, got bool"),
    ({"weight": np.ones(3)}, ValueError, r"weight of shape \(3,\) does not match 4 classes"),
    ({"reduction": "avg"}, ValueError, "'avg' is not a valid value for reduction"),
    ({"x": np.ones((3, 4), dtype=np.int64)}, TypeError, "int64"),
    ({"x": np.array(1.0), "t": np.array(0)}, ValueError, "0-d input"),
], ids=["too-large", "negative", "batch", "column-target", "float-target", "bool-target", "weight-size",
        "reduction", "integer-input", "0-d-input"])
def test_errors(kwargs, exc, pattern):
    args = {"x": np.zeros((3, 4)), "t": np.array([0, 1, 2])}
    args.update(kwargs)
    x, t = args.pop("x"), args.pop("t")
    with pytest.raises(exc, match=pattern):
        F.nll_loss(x, t, **args)


def test_elementwise_mean_is_deprecated_mean():
    x, t, _ = make((3, 4), (3,))
    with pytest.warns(UserWarning, match="elementwise_mean"):
        y = F.nll_loss(x, t, reduction="elementwise_mean")
    np.testing.assert_allclose(y.data, F.nll_loss(x, t).data)
