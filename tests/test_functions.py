"""Forward values against numpy, shape errors, broadcasting, indexing (docs/design.md#the-function-contract)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.functions as F

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
P = RNG.uniform(0.5, 2.0, (3, 4))


@pytest.mark.parametrize("fn, ref, x", [
    (F.exp, np.exp, A), (F.log, np.log, P), (F.sin, np.sin, A), (F.cos, np.cos, A),
    (F.tanh, np.tanh, A), (F.sqrt, np.sqrt, P), (F.square, np.square, A), (F.abs, np.abs, A),
    (F.neg, np.negative, A), (F.relu, lambda a: np.maximum(a, 0), A),
    (lambda x: F.clip(x, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), A),
    (lambda x: F.sum(x, axis=1), lambda a: a.sum(axis=1), A),
    (lambda x: F.mean(x, axis=(0, 1), keepdims=True), lambda a: a.mean(axis=(0, 1), keepdims=True), A),
    (lambda x: F.max(x, axis=0), lambda a: a.max(axis=0), A),
    (lambda x: F.min(x), lambda a: a.min(), A),
    (lambda x: F.max(x, axis=-1, keepdims=True), lambda a: a.max(axis=-1, keepdims=True), A),
    (lambda x: F.transpose(x), lambda a: a.T, A),
    (lambda x: F.reshape(x, (2, -1)), lambda a: a.reshape(2, -1), A),
    (lambda x: F.broadcast_to(x, (2, 3, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)), A),
    (lambda x: F.sum_to(x, (1, 4)), lambda a: a.sum(axis=0, keepdims=True), A),
    (lambda x: F.get_item(x, (slice(None), [0, 0, 3])), lambda a: a[:, [0, 0, 3]], A),
    (lambda x: F.where(x > 0, x, 0.0), lambda a: np.where(a > 0, a, 0.0), A),
], ids=["exp", "log", "sin", "cos", "tanh", "sqrt", "square", "abs", "neg", "relu", "clip", "sum",
        "mean", "max", "min", "max-keepdims", "transpose", "reshape", "broadcast_to", "sum_to",
        "get_item", "where"])
def test_forward_matches_numpy(fn, ref, x):
    y = fn(x)
    np.testing.assert_allclose(y.data, ref(x), rtol=1e-12)
    assert y.shape == np.shape(ref(x))


def test_linear_matches_formula():
    x, W, b = RNG.standard_normal((5, 3)), RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    np.testing.assert_allclose(F.linear(x, W, b).data, x @ W + b)
    np.testing.assert_allclose(F.linear(x, W).data, x @ W)
    x3 = RNG.standard_normal((2, 5, 3))
    assert mg.gradcheck(F.linear, (x3, W, b))


@pytest.mark.parametrize("s0, s1", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3, 5)),
                                    ((2, 3), (4, 3, 2)), ((1, 2, 3), (5, 3, 2))])
def test_matmul_shapes_and_gradients(s0, s1):
    x, W = RNG.standard_normal(s0), RNG.standard_normal(s1)
    np.testing.assert_allclose(F.matmul(x, W).data, np.matmul(x, W))
    assert mg.gradcheck(F.matmul, (x, W))
    assert mg.gradgradcheck(F.matmul, (x, W))


@pytest.mark.parametrize("call, pattern", [
    (lambda: F.matmul(np.ones((3, 4)), np.ones((3, 4))), r"matmul: shapes \(3, 4\) and \(3, 4\)"),
    (lambda: F.matmul(np.ones(3), np.ones(4)), r"\(3,\) and \(4,\)"),
    (lambda: F.add(np.ones((2, 3)), np.ones((4,))), r"add: shapes \(2, 3\) and \(4,\)"),
    (lambda: mg.Variable(np.ones((2, 3))) * np.ones((3, 2)), r"mul: shapes \(2, 3\) and \(3, 2\)"),
    (lambda: F.reshape(np.ones((2, 3)), (4,)), r"shape \(2, 3\).*\(4,\)"),
    (lambda: F.broadcast_to(np.ones(3), (4,)), r"\(3,\) to \(4,\)"),
    (lambda: F.sum_to(np.ones((2, 3)), (4,)), r"\(2, 3\).*\(4,\)"),
    (lambda: F.sum(np.ones((2, 3)), axis=2), r"axis 2 is out of range"),
    (lambda: F.max(np.ones((2, 3)), axis=-3), r"axis -3 is out of range"),
    (lambda: F.linear(np.ones((2, 3)), np.ones((4, 5))), r"\(2, 3\).*\(4, 5\)"),
    (lambda: F.linear(np.ones((2, 3)), np.ones((3, 5)), np.ones(4)), r"bias of shape \(4,\)"),
    (lambda: F.transpose(np.ones((2, 3)), (0, 0)), r"not a permutation"),
], ids=["matmul", "matmul-1d", "add", "mul-operator", "reshape", "broadcast_to", "sum_to", "sum-axis",
        "max-axis", "linear", "linear-bias", "transpose"])
def test_shape_errors_name_the_shapes(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@settings(max_examples=30, deadline=None)
@given(shapes, st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcast_gradients_reduce_to_input_shapes(bshapes, op):
    s0, s1 = bshapes.input_shapes
    rng = np.random.default_rng(1)
    x0, x1 = rng.standard_normal(s0), rng.uniform(0.5, 1.5, s1)
    fn = getattr(F, op)
    a, b = mg.Variable(x0), mg.Variable(x1)
    y = fn(a, b)
    assert y.shape == bshapes.result_shape
    y.backward()
    assert a.grad.shape == s0 and b.grad.shape == s1
    assert mg.gradcheck(fn, (x0, x1))


def test_get_item_accumulates_repeated_indices():
    x = mg.Variable(np.arange(5.0))
    y = x[np.array([0, 0, 3, 0])]
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [7.0, 0.0, 0.0, 3.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_picked_by_an_index_array_sum_their_gradients_as_add_at_does(dtype):
    """The sorted sum of repeated rows (backend.scatter_add): negative ids (-1 and n - 1 are one row), 2-d ids,
    unsigned ids, an empty pick; the sums of NumPy's np.add.at to rounding (docs/design.md)."""
    x = RNG.standard_normal((6, 3)).astype(dtype)
    for ids in (np.array([[0, -1, 5], [2, 0, -6]]), RNG.integers(-6, 6, 500), np.array([4, 4, 1], np.uint8),
                np.zeros(0, np.int64)):
        v = mg.Variable(x)
        y = v[ids]
        gy = RNG.standard_normal(y.shape).astype(dtype)
        y.backward(gy)
        expected = np.zeros_like(x)
        np.add.at(expected, ids, gy)
        np.testing.assert_allclose(v.grad.data, expected, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("index", [
    1, slice(1, 3), (Ellipsis, 0), (None, 1), (np.array([2, 0, 2]),), np.array([[0, 1], [1, 1]]),
    np.array([True, False, True]), (np.array([0, 2]), np.array([1, 1])), mg.Variable(np.array([1, 1])),
], ids=["int", "slice", "ellipsis", "newaxis", "int-array", "2d-int-array", "bool-mask", "pairs",
        "variable-index"])
def test_get_item_gradients(index):
    x = RNG.standard_normal((3, 4))
    assert mg.gradcheck(lambda a: F.get_item(a, index), (x,))
    assert mg.gradgradcheck(lambda a: F.get_item(a, index) * 2.0, (x,))


def test_get_item_rejects_float_indices():
    with pytest.raises(IndexError, match="float64"):
        mg.Variable(np.ones(3))[np.array([0.0, 1.0])]


def test_max_gradient_goes_to_one_argmax_per_slice():
    x = mg.Variable(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]))
    F.max(x, axis=1).backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])
    x.cleargrad()
    F.min(x).backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 0], [0, 1, 0]])


def test_abs_subgradient_is_zero_at_zero_and_relu_too():
    x = mg.Variable(np.array([-2.0, 0.0, 3.0]))
    F.sum(F.abs(x)).backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.0, 1.0])
    x.cleargrad()
    F.sum(F.relu(x)).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_where_with_broadcasting():
    cond = np.array([True, False, True])
    a, b = mg.Variable(np.ones((2, 3))), mg.Variable(np.array(5.0))
    y = F.where(cond, a, b)
    np.testing.assert_array_equal(y.data, [[1, 5, 1], [1, 5, 1]])
    F.sum(y).backward()
    np.testing.assert_array_equal(a.grad.data, [[1, 0, 1], [1, 0, 1]])
    assert float(b.grad.data) == 2.0
    with pytest.raises(TypeError, match="boolean"):
        F.where(np.array([1, 0]), a, b)


def test_pow_with_variable_exponent():
    x, c = mg.Variable(np.array(2.0)), mg.Variable(np.array(3.0))
    y = x ** c
    y.backward()
    assert float(x.grad.data) == pytest.approx(12.0)
    assert float(c.grad.data) == pytest.approx(8.0 * np.log(2.0))


def test_mean_of_an_empty_axis_is_nan():
    with np.errstate(invalid="ignore"):
        assert np.isnan(F.mean(np.ones((0, 3))).data)


def test_functions_accept_plain_arrays_and_do_not_modify_them():
    a = A.copy()
    for fn in (F.exp, F.tanh, F.relu, lambda x: F.get_item(x, [0, 0]), lambda x: F.sum_to(x, (1, 4))):
        fn(a)
    np.testing.assert_array_equal(a, A)
