"""Variable construction, attributes, operators and conversions (docs/design.md#the-function-contract)."""
import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("data, dtype", [
    (np.array([1, 2], dtype=np.float32), np.float32),
    (2.5, np.float64),
    (3, np.int64),
    ([[1.0, 2.0], [3.0, 4.0]], np.float64),
    ([1, 2, 3], np.int64),
    (np.float32(1.5), np.float32),
], ids=["float32-array", "float", "int", "nested-float-list", "int-list", "numpy-scalar"])
def test_construction(data, dtype):
    x = mg.Variable(data)
    assert isinstance(x.data, np.ndarray)
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.data, np.asarray(data))


def test_default_dtype_is_configurable():
    with mg.using_config("default_dtype", np.float32):
        assert mg.Variable(1.5).dtype == np.float32
        assert mg.Variable([1.0, 2.0]).dtype == np.float32
    assert mg.Variable(1.5).dtype == np.float64


@pytest.mark.parametrize("bad, name", [("abc", "str"), (object(), "object"), ({"a": 1}, "dict"),
                                       (None, "NoneType")])
def test_construction_rejects_other_types(bad, name):
    with pytest.raises(TypeError, match=name):
        mg.Variable(bad)


def test_ragged_or_string_lists_are_rejected():
    with pytest.raises(TypeError):
        mg.Variable([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="<U1"):
        mg.Variable(["a", "b"])


def test_attributes():
    x = mg.Variable(np.arange(6.0).reshape(2, 3), name="x")
    assert (x.shape, x.ndim, x.size, x.dtype, len(x), x.name) == ((2, 3), 2, 6, np.float64, 2, "x")
    assert x.grad is None and x.creator is None
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.transpose().shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    np.testing.assert_array_equal(x.sum(axis=0).data, [3.0, 5.0, 7.0])
    assert x.sum(axis=1, keepdims=True).shape == (2, 1)
    assert float(x.sum().data) == 15.0


def test_repr():
    assert repr(mg.Variable(np.array([1.0, 2.0]))) == "variable([1. 2.])"
    r = repr(mg.Variable(np.zeros((2, 2), np.float32), name="w") * 2)
    assert r.startswith("variable([[0. 0.]\n          [0. 0.]]") and "dtype=float32" in r
    assert "creator=Mul" in r
    assert "name='w'" in repr(mg.Variable(1.0, name="w"))


def test_cleargrad():
    x = mg.Variable(np.array(3.0))
    (x * x).backward()
    assert float(x.grad.data) == 6.0
    x.cleargrad()
    assert x.grad is None


def test_parameter_is_a_variable():
    p = mg.Parameter(np.ones(3))
    assert isinstance(p, mg.Variable) and isinstance(p * 2, mg.Variable)
    assert not isinstance(p * 2, mg.Parameter)


@pytest.mark.parametrize("expr, expected", [
    (lambda x: x + 2.0, lambda a: a + 2.0),
    (lambda x: 2.0 + x, lambda a: 2.0 + a),
    (lambda x: x - 2.0, lambda a: a - 2.0),
    (lambda x: 2.0 - x, lambda a: 2.0 - a),
    (lambda x: x * 3, lambda a: a * 3),
    (lambda x: 3 * x, lambda a: 3 * a),
    (lambda x: x / 4.0, lambda a: a / 4.0),
    (lambda x: 4.0 / x, lambda a: 4.0 / a),
    (lambda x: x ** 2, lambda a: a ** 2),
    (lambda x: 2.0 ** x, lambda a: 2.0 ** a),
    (lambda x: -x, lambda a: -a),
    (lambda x: np.ones(3) * x, lambda a: np.ones(3) * a),
    (lambda x: np.arange(3.0) - x, lambda a: np.arange(3.0) - a),
    (lambda x: np.float64(2.0) / x, lambda a: 2.0 / a),
    (lambda x: np.eye(3) @ x, lambda a: np.eye(3) @ a),
    (lambda x: x @ np.eye(3), lambda a: a @ np.eye(3)),
], ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow", "neg",
        "array-left-mul", "array-left-sub", "numpy-scalar-left-div", "array-left-matmul", "matmul"])
def test_operators(expr, expected):
    a = np.array([0.5, 1.5, 2.5])
    y = expr(mg.Variable(a))
    assert isinstance(y, mg.Variable)
    np.testing.assert_allclose(y.data, expected(a))


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons_return_plain_arrays(op):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    x, y = mg.Variable(a), mg.Variable(b)  # noqa: F841 (used by eval)
    got = eval(f"x {op} y")
    assert isinstance(got, np.ndarray) and got.dtype == bool
    np.testing.assert_array_equal(got, eval(f"a {op} b"))
    np.testing.assert_array_equal(eval(f"x {op} 2.0"), eval(f"a {op} 2.0"))


def test_variables_hash_by_identity():
    x, y = mg.Variable(np.ones(2)), mg.Variable(np.ones(2))
    assert len({x, y, x}) == 2


def test_scalars_keep_float32():
    x = mg.Variable(np.ones(3, dtype=np.float32))
    for y in (x * 2.0, 2.0 * x, x + np.float64(1.0), x / np.array(3.0), x ** 2, 1.0 - x, 2.0 ** x):
        assert y.dtype == np.float32


def test_as_variable():
    x = mg.Variable(np.ones(2))
    assert mg.as_variable(x) is x
    c = mg.as_variable(np.ones(2))
    assert isinstance(c, mg.Variable) and not c.requires_grad
