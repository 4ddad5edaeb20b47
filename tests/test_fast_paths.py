"""The lean loss paths give the general path's numbers bit for bit, for any memory layout of the logits and the
targets, any integer target dtype and many random shapes (docs/losses.md#softmax_cross_entropy, #sigmoid_bce)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from layouts import LAYOUTS
from minigrad.losses import bce, ce


def _ce_general(x, t, reduction):
    return ce.SoftmaxCrossEntropy(ce.describe(x, t, reduction=reduction)[0])(x)


def _bce_general(x, t, reduction):
    call, inputs = bce.describe(x, t, reduction=reduction)
    return bce.SigmoidBCE(call)(*inputs)


LOSSES = {"ce": (F.softmax_cross_entropy, _ce_general, "IndexCrossEntropy"),
          "bce": (F.sigmoid_bce, _bce_general, "PlainSigmoidBCE")}


def _case(loss, rng, dtype):
    n, c = rng.integers(1, 40), rng.integers(1, 12)
    x = (rng.standard_normal((n, c)) * 4).astype(dtype)
    t = rng.integers(0, c, n) if loss == "ce" else rng.random((n, c)).astype(dtype)
    return x, t


def _same(loss, x, t, reduction, gy, x_ref=None):
    """The lean call on x (any layout) against the general call on x_ref (default: x), bit for bit."""
    lean, general, name = LOSSES[loss]
    a, b = mg.Variable(x), mg.Variable(x if x_ref is None else x_ref)
    y = lean(a, t, reduction=reduction)
    assert type(y.creator).__name__ == name
    y.backward(gy)
    yr = general(b, t, reduction)
    yr.backward(gy)
    assert y.dtype == yr.dtype and y.data.tobytes() == yr.data.tobytes(), (y.data, yr.data)
    np.testing.assert_array_equal(a.grad.data, b.grad.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("blocked", [False, True], ids=["whole", "blocked"])
def test_the_lean_paths_equal_the_general_paths_on_random_calls(loss, dtype, blocked, monkeypatch):
    if blocked:  # the lean cross entropy's rows in blocks of 8 elements, on the CPU threads
        if loss == "bce":
            pytest.skip("PlainSigmoidBCE runs in one block")
        monkeypatch.setattr(ce, "LEAN_BLOCK", 8)
    rng = np.random.default_rng(7)
    for _ in range(60):
        x, t = _case(loss, rng, dtype)
        for reduction in ("mean", "sum"):
            _same(loss, x, t, reduction, np.asarray(rng.standard_normal(), dtype))
            _same(loss, x, t, reduction, np.ones((), dtype))  # the default seed: the gradient handed out


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_the_lean_paths_take_any_layout_of_logits_and_targets(loss, layout):
    rng = np.random.default_rng(8)
    for _ in range(10):
        x, t = _case(loss, rng, np.float64)
        x_laid, t_laid = LAYOUTS[layout](x), LAYOUTS[layout](t)
        if layout == "broadcast":  # other values: compare with the general path on a copy of them
            x, t = x_laid.copy(), t_laid.copy()
        before = x_laid.copy(), t_laid.copy()
        for reduction in ("mean", "sum"):
            _same(loss, x_laid, t_laid, reduction, np.asarray(0.7), x_ref=x)
        np.testing.assert_array_equal(x_laid, before[0])
        np.testing.assert_array_equal(t_laid, before[1])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"])
def test_the_lean_cross_entropy_takes_every_integer_target_dtype(dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 5))
    t = rng.integers(0, 5, 6).astype(dtype)
    _same("ce", x, t, "mean", np.asarray(1.5))
    np.testing.assert_array_equal(F.softmax_cross_entropy(x, t).data, F.softmax_cross_entropy(x, t.astype(int)).data)


def test_the_lean_cross_entropy_of_transposed_logits_passes_gradcheck():
    t = np.array([0, 1, 2, 0])
    assert mg.gradcheck(lambda z: F.softmax_cross_entropy(z.T, t), (np.random.default_rng(0).standard_normal((3, 4)),))


@pytest.mark.parametrize("loss", list(LOSSES))
def test_the_lean_paths_equal_the_general_paths_on_non_finite_logits(loss):
    """+-inf and NaN logits give the general path's NaNs and numbers: the lean cross entropy computes them (its
    non-finite rows without blocks), the lean BCE hands them to the general path."""
    lean, general, name = LOSSES[loss]
    taken = name if loss == "ce" else "SigmoidBCE"
    rng = np.random.default_rng(10)
    for bad in (np.inf, -np.inf, np.nan):
        x, t = _case(loss, rng, np.float32)
        x[0, 0] = bad
        for reduction in ("mean", "sum"):
            a, b = mg.Variable(x), mg.Variable(x)
            y, yr = lean(a, t, reduction=reduction), general(b, t, reduction)
            assert type(y.creator).__name__ == taken
            y.backward()
            yr.backward()
            np.testing.assert_array_equal(y.data, yr.data)
            np.testing.assert_array_equal(a.grad.data, b.grad.data)
