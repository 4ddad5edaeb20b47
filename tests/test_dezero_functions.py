"""DeZero's functions: leaky_relu, mean_squared_error, accuracy, embed_id, softmax_simple
(docs/design.md#the-function-contract)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

RNG = np.random.default_rng(0)


def test_leaky_relu_against_the_formula_and_torch():
    x = RNG.standard_normal((4, 5))
    v = mg.Variable(x)
    y = F.leaky_relu(v, slope=0.1)
    y.backward(np.ones_like(x))
    np.testing.assert_array_equal(y.data, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_array_equal(v.grad.data, np.where(x > 0, 1.0, 0.1))
    assert F.leaky_relu(x.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(F.leaky_relu(x).data, np.where(x > 0, x, 0.2 * x))  # DeZero's default slope
    with pytest.raises(TypeError, match="slope must be a real number"):
        F.leaky_relu(x, slope="0.1")
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(y.data, torch.nn.functional.leaky_relu(torch.tensor(x), 0.1).numpy())


@pytest.mark.parametrize("shape", [(5,), (5, 1), (4, 3), ()], ids=str)
def test_mean_squared_error_is_dezeros_formula(shape):
    x0, x1 = RNG.standard_normal(shape), RNG.standard_normal(shape)
    v0, v1 = mg.Variable(x0), mg.Variable(x1)
    y = F.mean_squared_error(v0, v1)
    y.backward()
    n = len(x0) if x0.ndim else 1
    np.testing.assert_allclose(y.data, ((x0 - x1) ** 2).sum() / n, rtol=1e-14)
    np.testing.assert_allclose(v0.grad.data, 2 * (x0 - x1) / n, rtol=1e-14)
    np.testing.assert_allclose(v1.grad.data, -2 * (x0 - x1) / n, rtol=1e-14)
    composite = F.sum((v0 - v1) ** 2) / n
    np.testing.assert_allclose(y.data, composite.data, rtol=1e-14)


def test_mean_squared_error_keeps_float32_checks_shapes_and_matches_torch_on_columns():
    x0 = mg.Variable(RNG.standard_normal((6, 1)).astype(np.float32))
    y = F.mean_squared_error(x0, np.sin(np.arange(6.0)).reshape(6, 1))  # a float64 target array
    y.backward()
    assert y.dtype == np.float32 and x0.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"shapes \(6, 1\) and \(6,\) differ"):
        F.mean_squared_error(x0, np.zeros(6))
    assert np.isnan(F.mean_squared_error(np.zeros((0, 2)), np.zeros((0, 2))).data)
    torch = pytest.importorskip("torch")
    t = torch.tensor(x0.data, requires_grad=True)
    ref = torch.nn.functional.mse_loss(t, torch.tensor(np.sin(np.arange(6.0)).reshape(6, 1), dtype=torch.float32))
    ref.backward()
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x0.grad.data, t.grad.numpy(), rtol=1e-6)


def test_accuracy():
    y = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    acc = F.accuracy(mg.Variable(y), np.array([1, 0, 0, 2]))
    assert isinstance(acc, mg.Variable) and acc.creator is None and float(acc) == 0.5
    assert float(F.accuracy(np.zeros((2, 3, 4)), np.zeros((2, 4), np.int64))) == 1.0
    with pytest.raises(ValueError, match=r"scores of shape \(4, 3\) and labels of shape \(3,\)"):
        F.accuracy(y, np.array([1, 0, 0]))
    with pytest.raises(TypeError, match="labels must be integers"):
        F.accuracy(y, np.array([1.0, 0, 0, 2]))


def test_embed_id_gathers_rows_and_accumulates_repeated_ids():
    W = mg.Variable(RNG.standard_normal((5, 3)))
    ids = np.array([[0, 2], [2, 4]])
    y = F.embed_id(ids, W)
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.data, W.data[ids])
    gy = RNG.standard_normal(y.shape)
    y.backward(gy)
    expected = np.zeros((5, 3))
    np.add.at(expected, ids, gy)
    np.testing.assert_allclose(W.grad.data, expected, rtol=1e-15)
    assert mg.gradcheck(lambda w: F.embed_id(ids, w), [W.data])
    for bad in (np.array([0, -1]), np.array([5])):
        with pytest.raises(IndexError, match=rf"id {bad.min() if bad.min() < 0 else bad.max()} is out of range "
                                             rf"for a vocabulary of 5"):
            F.embed_id(bad, W)
    with pytest.raises(TypeError, match="ids must be integers"):
        F.embed_id(np.array([0.0]), W)


def test_softmax_simple_equals_softmax_and_differentiates_the_same():
    x = RNG.standard_normal((3, 4)) * 30
    np.testing.assert_allclose(F.softmax_simple(x).data, F.softmax(x).data, rtol=1e-13)
    a, b = mg.Variable(x), mg.Variable(x)
    gy = RNG.standard_normal((3, 4))
    F.softmax_simple(a).backward(gy)
    F.softmax(b).backward(gy)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-10, atol=1e-15)
    assert mg.gradgradcheck(F.softmax_simple, [x / 30])


def test_unchain_backward_cuts_the_whole_graph_behind_a_variable_iteratively():
    import gc
    import weakref
    x = mg.Variable(np.array(1.0))
    h = x
    for _ in range(50_000):  # deeper than any recursion limit
        h = h * 1.0 + 0.0
    first = weakref.ref(h.creator.inputs[0].creator)
    y = F.sin(h)
    y.unchain_backward()
    assert y.creator is not None and h.creator is None  # y keeps its creator, everything behind it is cut
    gc.collect()
    assert first() is None  # the old graph was freed
    y.backward()
    assert x.grad is None and h.grad is not None  # the gradient stops at the cut


def _window(W, h, steps=3):
    loss = 0
    for _ in range(steps):
        h = F.tanh(h * W)
        loss = loss + h
    return loss, h


def test_truncated_bptt_with_unchain_backward():
    """Each window's gradient equals the one of a fresh graph started from the window's first state."""
    W = mg.Variable(np.array(0.7))
    h = mg.Variable(np.array(1.0))
    for _ in range(3):
        start = h.data.copy()
        loss, h = _window(W, h)
        W.cleargrad()
        loss.backward()
        loss.unchain_backward()
        fresh_W = mg.Variable(np.array(0.7))
        fresh_loss, _ = _window(fresh_W, mg.Variable(start))
        fresh_loss.backward()
        np.testing.assert_allclose(W.grad.data, fresh_W.grad.data, rtol=1e-15)
        assert h.creator is None  # the window's last state is cut from the graph, as a new start
