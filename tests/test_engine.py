"""The backward engine: seeds, accumulation, order, freeing, higher orders (docs/design.md#the-function-contract)."""
import gc
import sys
import weakref

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.backend import ones_like


def test_default_seed_is_ones():
    x = mg.Variable(np.array([1.0, 2.0, 3.0]))
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)


@pytest.mark.parametrize("wrap", [np.asarray, mg.Variable], ids=["array", "Variable"])
def test_seed_may_be_array_or_variable(wrap):
    x = mg.Variable(np.array([1.0, 2.0]))
    (x * 3.0).backward(wrap(np.array([10.0, 20.0])))
    np.testing.assert_array_equal(x.grad.data, [30.0, 60.0])


def test_seed_of_wrong_shape_names_both_shapes():
    x = mg.Variable(np.ones(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(2))


def test_leaf_backward_sets_its_own_gradient():
    x = mg.Variable(np.array([1.0, 2.0]))
    x.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_shared_scalar_seed_is_never_handed_out_or_written(dtype):
    """A scalar's backward starts from one read-only 0-d one per dtype: the gradients it reaches are arrays of
    their own, writable, and writing them changes no later backward."""
    a, b = mg.Variable(np.array(3.0, dtype)), mg.Variable(np.array(3.0, dtype))
    a.backward()  # a leaf: its gradient is the seed itself, so it must be a copy
    (b + 0.0).backward()  # Add passes the seed through to b
    for v in (a, b):
        assert v.grad.data.flags.writeable and v.grad.data.dtype == dtype and v.grad.data == 1
        v.grad.data[...] = 7
    c = mg.Variable(np.array(2.0, dtype))
    (c * c).backward()
    assert c.grad.data == 4 and a.grad.data == 7
    seed = ones_like(np.array(0.0, dtype))  # what the next backward starts from: still one, still read-only
    assert seed == 1 and not seed.flags.writeable

def test_gradients_accumulate_within_a_graph_and_across_calls():
    x = mg.Variable(np.array(3.0))
    y = x * x + x  # x used three times
    y.backward()
    assert float(x.grad.data) == 7.0
    (x * 2).backward()
    assert float(x.grad.data) == 9.0


def test_diamond_graph_orders_by_generation():
    x = mg.Variable(np.array(2.0))
    a = x ** 2
    y = a * a + a  # d/dx = (2a + 1) * 2x = 9 * 4
    y.backward()
    assert float(x.grad.data) == 36.0


def test_deep_chain_has_no_recursion():
    x = mg.Variable(np.array(0.0))
    y = x
    for _ in range(100_000):
        y = y + 1.0
    assert sys.getrecursionlimit() <= 100_000
    y.backward()
    assert float(x.grad.data) == 1.0
    assert float(y.data) == 100_000.0
    del y  # freeing the chain must not recurse either


def test_intermediate_gradients_freed_unless_retained():
    x = mg.Variable(np.array(2.0))
    a = x * 3
    y = a * a
    y.backward()
    assert a.grad is None and y.grad is None and x.grad is not None
    x.cleargrad()
    a = x * 3
    y = a * a
    y.backward(retain_grad=True)
    assert float(a.grad.data) == 12.0 and float(y.grad.data) == 1.0
    assert float(x.grad.data) == 36.0


def test_retained_gradients_do_not_go_stale():
    x = mg.Variable(np.array(2.0))
    a = x * 3
    y = a * a
    y.backward(retain_grad=True)
    y.backward(retain_grad=True)
    assert float(a.grad.data) == 24.0  # accumulated like a leaf, each sweep adding 12
    assert float(x.grad.data) == 72.0


def test_second_derivative_of_x4(monkeypatch):
    monkeypatch.setattr(mg.guards, "WARNED", set())  # given once per process: as if first
    x = mg.Variable(np.array(2.0))
    y = x ** 4
    with pytest.warns(UserWarning, match="reference cycle"):
        y.backward(create_graph=True)
    assert float(x.grad.data) == 32.0
    gx = x.grad
    x.cleargrad()
    gx.backward()
    assert float(x.grad.data) == 48.0


def test_third_derivative_of_tanh():
    a = np.linspace(-2, 2, 7)
    x = mg.Variable(a)
    y = F.tanh(x)
    g1, = mg.grad(y, [x], create_graph=True)
    g2, = mg.grad(g1, [x], create_graph=True)
    g3, = mg.grad(g2, [x])
    t = np.tanh(a)
    np.testing.assert_allclose(g1.data, 1 - t ** 2, rtol=1e-12)
    np.testing.assert_allclose(g2.data, -2 * t * (1 - t ** 2), rtol=1e-12)
    np.testing.assert_allclose(g3.data, -2 * (1 - t ** 2) * (1 - 3 * t ** 2), rtol=1e-10, atol=1e-14)


def test_gradients_without_create_graph_have_no_graph():
    x = mg.Variable(np.array(2.0))
    (x ** 3).backward()
    assert x.grad.creator is None


def test_grad_function_leaves_dot_grad_alone():
    x, w = mg.Variable(np.array(2.0)), mg.Variable(np.array(5.0))
    gx, gw = mg.grad(x * w, [x, w])
    assert (float(gx.data), float(gw.data)) == (5.0, 2.0)
    assert x.grad is None and w.grad is None
    gz, = mg.grad(x * 2, [mg.Variable(np.array(1.0))])
    assert gz is None


def test_graph_is_freed_without_the_garbage_collector():
    gc.disable()
    try:
        x = mg.Variable(np.ones(3))
        y = F.tanh(x * 2.0)
        f = weakref.ref(y.creator)
        g = weakref.ref(y.creator.inputs[0].creator)
        y.backward()
        del y
        assert f() is None and g() is None
        assert x.grad is not None
    finally:
        gc.enable()


def test_outputs_are_weak_references():
    x = mg.Variable(np.ones(3))
    y = F.exp(x)
    assert y.creator.outputs[0]() is y


def test_function_instances_are_single_use():
    f = mg.Function.registry["Exp"]()
    f(np.ones(2))
    with pytest.raises(RuntimeError, match="single use"):
        f(np.ones(2))


def test_no_grad_records_nothing():
    x = mg.Variable(np.ones(3))
    with mg.no_grad():
        y = x * 2
    assert y.creator is None and not y.requires_grad
    y = x * 2
    assert y.creator is not None


def test_using_config_restores_and_rejects_unknown_names():
    with mg.using_config("train", False):
        assert mg.Config.train is False
        with mg.test_mode():
            assert mg.Config.train is False
    assert mg.Config.train is True
    with pytest.raises(AttributeError, match="no_such_flag"):
        with mg.using_config("no_such_flag", 1):
            pass


class _CountingMul(mg.Function):
    """x * w, recording which input gradients backward was asked for."""

    calls = []

    def forward(self, x, w):
        return x * w

    def backward(self, gy):
        x, w = self.inputs
        _CountingMul.calls.append(self.needs_input_grad)
        return (gy * w if self.needs_input_grad[0] else None,
                gy * x if self.needs_input_grad[1] else None)


def test_plain_arrays_get_no_gradient_computed():
    _CountingMul.calls.clear()
    w = mg.Variable(np.array([2.0, 3.0]))
    y = _CountingMul()(np.array([5.0, 7.0]), w)  # a plain array: data, not a parameter
    y.backward()
    assert _CountingMul.calls == [(False, True)]
    np.testing.assert_array_equal(w.grad.data, [5.0, 7.0])


def test_nothing_recorded_when_no_input_needs_a_gradient():
    y = F.exp(np.ones(2))
    assert y.creator is None and not y.requires_grad
    labels = mg.Variable(np.array([1, 2]))
    assert not labels.requires_grad


def test_matmul_skips_the_input_gradient_for_data():
    W = mg.Variable(np.ones((3, 2)))
    y = F.matmul(np.ones((4, 3)), W)
    y.backward()
    assert y.creator.needs_input_grad == (False, True)
    np.testing.assert_array_equal(W.grad.data, np.full((3, 2), 4.0))


def test_backward_returning_a_wrong_shape_is_reported():
    class Bad(mg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return F.sum(gy)

    x = mg.Variable(np.ones(3))
    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(\) for an input "
                                           r"of shape \(3,\)"):
        Bad()(x).backward()


def test_float32_gradients_stay_float32():
    x = mg.Variable(np.linspace(0.5, 1.5, 4).astype(np.float32))
    y = F.sum(F.sqrt(x) * F.exp(x) / (x + 1.0) ** 2 + F.tanh(x) * 3)
    g, = mg.grad(y, x, create_graph=True)
    assert y.dtype == np.float32 and g.dtype == np.float32
    F.sum(g).backward()
    assert x.grad.dtype == np.float32


def test_unchain_makes_a_leaf():
    x = mg.Variable(np.array(2.0))
    y = x * 3
    y.unchain()
    z = y * 2
    z.backward()
    assert x.grad is None and float(y.grad.data) == 2.0
