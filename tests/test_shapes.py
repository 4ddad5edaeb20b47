"""minigrad.shapes, the kit for Function writers: results vs numpy, errors (docs/design.md#the-kit-minigradshapes)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad import shapes


@pytest.mark.parametrize("x_shape, shape", [((2, 3, 4), (3, 1)), ((2, 3), (2, 3)), ((4, 1, 5), (1, 1, 5)),
                                            ((3,), ()), ((2, 3), (1,))])
def test_sum_to_inverts_broadcasting(x_shape, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    y = shapes.sum_to(x, shape)
    assert y.shape == shape
    # <sum_to(x), v> == <x, broadcast(v)>: sum_to is the adjoint of broadcasting
    v = rng.standard_normal(shape)
    np.testing.assert_allclose(np.sum(y * v), np.sum(x * np.broadcast_to(v, x_shape)), rtol=1e-12)


def test_sum_to_names_the_shapes_it_cannot_reach():
    with pytest.raises(ValueError, match=r"sum_to: shape \(2, 1\) cannot be summed to \(2, 3\)"):
        shapes.sum_to(np.ones((2, 1)), (2, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\) cannot be broadcast"):
        shapes.sum_to(np.ones((2, 3)), (4,))


def test_unbroadcast_records_on_variables_and_passes_matching_shapes_through():
    g = mg.Variable(np.arange(6.0).reshape(2, 3))
    assert shapes.unbroadcast(g, (2, 3)) is g
    y = shapes.unbroadcast(g, (3,))
    np.testing.assert_array_equal(y.data, [3.0, 5.0, 7.0])
    assert y.creator is not None  # differentiable: d(sum y * v)/dg is v broadcast
    gg = mg.grad(F.sum(y * np.array([1.0, 2.0, 3.0])), [g])[0]
    np.testing.assert_array_equal(gg.data, [[1.0, 2.0, 3.0]] * 2)
    np.testing.assert_array_equal(shapes.unbroadcast(np.ones((4, 2, 3)), (2, 1)), np.full((2, 1), 12.0))


def test_broadcast_shapes():
    assert shapes.broadcast_shapes("op", (2, 1), (3,), (1, 1, 1)) == (1, 2, 3)
    with pytest.raises(ValueError, match=r"^where: shapes \(2,\) and \(3,\) cannot be broadcast together$"):
        shapes.broadcast_shapes("where", (2,), (3,))


def test_normalize_axis():
    assert shapes.normalize_axis(None, 3, "op") == (0, 1, 2)
    assert shapes.normalize_axis(-1, 3, "op") == (2,)
    assert shapes.normalize_axis((0, -1), 3, "op") == (0, 2)
    assert shapes.normalize_axis(np.int64(1), 2, "op") == (1,)
    assert shapes.normalize_axis(-1, 0, "op") == ()  # a 0-d input accepts 0 and -1, as torch
    with pytest.raises(ValueError, match="mean: axis 3 is out of range for an input with 3 dimensions"):
        shapes.normalize_axis(3, 3, "mean")
    with pytest.raises(ValueError, match=r"sum: repeated axis in \(1, -2\)"):
        shapes.normalize_axis((1, -2), 3, "sum")


def test_keepdims_shape_and_reduced_size_match_numpy():
    x = np.ones((2, 3, 4, 5))
    for axes in [(0,), (1, 3), (), (0, 1, 2, 3)]:
        assert shapes.keepdims_shape(x.shape, axes) == x.sum(axis=axes, keepdims=True).shape
        assert shapes.reduced_size(x.shape, axes) == x.size // max(x.sum(axis=axes).size, 1)


def test_check_float():
    x = np.ones(3, dtype=np.float32)
    assert shapes.check_float(x, "op") is x
    v = mg.Variable(np.ones(2))
    assert shapes.check_float(v, "op") is v
    with pytest.raises(TypeError, match="softmax: expected a floating point input, got dtype int64"):
        shapes.check_float(np.ones(3, dtype=np.int64), "softmax")
