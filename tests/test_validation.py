"""Errors that name the argument and what was expected, before any work (docs/losses.md#errors)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

X = np.zeros((2, 3))
T = np.array([0, 1])
CLASS_LOSSES = [F.softmax_cross_entropy, F.nll_loss, F.softmax_cross_entropy_simple]


@pytest.mark.parametrize("loss", CLASS_LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("ignore_index", [None, "a", 1.0, True], ids=repr)
def test_ignore_index_must_be_an_integer(loss, ignore_index):
    with pytest.raises(TypeError, match=f"ignore_index must be an integer, got {type(ignore_index).__name__}"):
        loss(X, T, ignore_index=ignore_index)


def test_ignore_index_must_be_an_integer_for_probability_targets_too():
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        F.softmax_cross_entropy(X, np.full((2, 3), 1 / 3), ignore_index=-1.0)
    assert F.softmax_cross_entropy(X, T, ignore_index=np.int64(1)).data == pytest.approx(np.log(3))


BAD_NUMBERS = [np.array(["a", "b", "c"]), np.array([1 + 1j, 1, 1]), np.array([1.0, None, 2.0], dtype=object)]


@pytest.mark.parametrize("loss", CLASS_LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("weight", BAD_NUMBERS, ids=["str", "complex", "object"])
def test_class_weights_must_be_real_numbers(loss, weight):
    with pytest.raises(TypeError, match=f"weight must hold real numbers.*{weight.dtype}"):
        loss(X, T, weight=weight)


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
@pytest.mark.parametrize("value", BAD_NUMBERS + ["abc"], ids=["str", "complex", "object", "python str"])
def test_bce_weights_must_be_real_numbers(name, value):
    with pytest.raises(TypeError, match=f"sigmoid_bce: {name} must"):
        F.sigmoid_bce(X, np.zeros((2, 3)), **{name: value})


def test_a_weight_list_is_an_array():
    with pytest.raises(ValueError, match=r"weight of shape \(4,\) does not match 3 classes"):
        F.softmax_cross_entropy(X, T, weight=[1, 2, 3, 4])
    x = np.random.default_rng(0).standard_normal((2, 3))
    a = F.softmax_cross_entropy(x, T, weight=[1.0, 2.0, 3.0])
    b = F.softmax_cross_entropy(x, T, weight=np.array([1.0, 2.0, 3.0]))
    assert a.data == b.data
    a = F.sigmoid_bce(x, np.ones((2, 3)), pos_weight=[1, 2, 3])
    b = F.sigmoid_bce(x, np.ones((2, 3)), pos_weight=np.array([1, 2, 3.0]))
    assert a.data == b.data


@pytest.mark.parametrize("loss, t", [
    (F.softmax_cross_entropy, [0, 2]), (F.softmax_cross_entropy, [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]),
    (F.nll_loss, [0, 2]), (F.sigmoid_bce, [[0, 1, 1], [1, 0, 0]]), (F.binary_cross_entropy, [[0, 1, 1], [1, 0, 0]]),
    (F.softmax_cross_entropy_simple, [0, 2]), (F.sigmoid_bce_simple, [[0, 1, 1], [1, 0, 0]])],
    ids=["ce", "ce-probabilities", "nll", "sigmoid_bce", "bce", "ce_simple", "sigmoid_bce_simple"])
def test_list_targets_work_as_arrays(loss, t):
    x = np.random.default_rng(1).uniform(0.1, 0.9, (2, 3))
    if loss is F.nll_loss:
        x = np.log(x)
    a, b = loss(x, t), loss(x, np.array(t))
    assert a.data == b.data


def test_targets_of_strings_name_the_target():
    with pytest.raises(TypeError, match="softmax_cross_entropy: target must hold real numbers"):
        F.softmax_cross_entropy(X, np.array(["a", "b"]))


@pytest.mark.parametrize("fn", [F.sum, F.mean, F.max, F.min, F.softmax, F.log_softmax, F.logsumexp],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [1.5, "a", True, [0.0]], ids=repr)
def test_axis_must_be_integers(fn, axis):
    with pytest.raises(TypeError, match=f"{fn.__name__}: axis must be an int, a tuple of ints or None"):
        fn(mg.Variable(np.ones((2, 3))), axis=axis)


def test_clip_bounds():
    x = mg.Variable(np.array([-2.0, 0.5, 3.0]))
    with pytest.raises(TypeError, match="x_min and x_max are both None"):
        F.clip(x, None, None)
    with pytest.raises(TypeError, match="x_min must be a real number or None, got str"):
        F.clip(x, "0", 1)
    y = F.clip(x, None, 1.0)
    y.backward(np.ones(3))
    assert y.data.tolist() == [-2.0, 0.5, 1.0] and x.grad.data.tolist() == [1.0, 1.0, 0.0]
    assert F.clip(x, 0, None).data.tolist() == [0.0, 0.5, 3.0]


def test_a_caller_array_is_untouched_by_a_failed_call():
    x, t = np.random.default_rng(2).standard_normal((2, 3)), np.array([0, 5])
    x0, t0 = x.copy(), t.copy()
    with pytest.raises(IndexError):
        F.softmax_cross_entropy(x, t)
    assert np.array_equal(x, x0) and np.array_equal(t, t0)


@pytest.mark.parametrize("fn, name", [
    (F.softmax, "softmax: x"), (F.log_sigmoid, "log_sigmoid: x"), (F.mean, "mean: x"),
    (lambda x: F.add(x, 1.0), "add: x0"),
    (lambda x: F.reshape(x, (1,)), "reshape: x"), (F.exp, "Exp input 0"), (F.sum, "Sum input 0"),
    (lambda x: F.softmax_cross_entropy(x, np.array(0)), "softmax_cross_entropy: input"),
    (lambda x: F.sigmoid_bce(x, np.zeros(1)), "sigmoid_bce: input")], ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("data", [np.array(["a"]), np.array([1j]), np.array([None], dtype=object)],
                         ids=["str", "complex", "object"])
def test_functions_name_the_argument_that_is_not_real_numbers(fn, name, data):
    with pytest.raises(TypeError, match=f"{name} must hold real numbers"):
        fn(data)
