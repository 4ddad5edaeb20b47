"""What the engine refuses and guarantees: in-place changes, owned gradients, anomalies, errors
(docs/design.md#what-the-engine-guarantees)."""
import gc
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
import minigrad.optimizers as O

# ----------------------------------------------------------------------------- in-place changes

def test_a_parameter_changed_between_forward_and_backward_is_refused():
    w = mg.Parameter(np.array([.5, -1., 2.]), name="w")
    loss = F.sum(w * w)
    w.data -= 0.7
    with pytest.raises(RuntimeError, match=r"Mul\.backward needs its input 0 \(shape \(3,\), name 'w'\)"):
        loss.backward()


def test_an_optimizer_step_between_forward_and_backward_is_refused():
    model = mg.layers.Linear(2, in_size=3)
    x = np.ones((4, 3), dtype=np.float32)
    loss = F.sum(model(x) ** 2)
    loss.backward()
    O.SGD(0.1).setup(model).update()
    with pytest.raises(RuntimeError, match=r"Linear\.backward needs its input 1"):
        loss.backward()  # a second backward through the old graph would use the new weights


def test_a_changed_output_that_backward_reads_is_refused():
    x = mg.Variable(np.array([0.5, 1.0]))
    y = F.exp(x)
    z = F.sum(y)
    y.data *= 3  # Exp's backward reads its output
    with pytest.raises(RuntimeError, match=r"Exp\.backward needs its output 0"):
        z.backward()


def test_changes_that_backward_does_not_read_are_allowed():
    w = mg.Parameter(np.array([1.0, 2.0]))
    y = F.sum(w + 1.0)  # Add and Sum never read their inputs' values
    w.data -= 5.0
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


def test_changes_before_the_forward_and_after_the_backward_are_fine():
    w = mg.Parameter(np.array([1.0, 2.0]))
    opt = O.SGD(0.1).setup([w])
    for _ in range(3):
        w.cleargrad()
        loss = F.sum(w * w)
        loss.backward()
        expected = 2 * w.data
        np.testing.assert_allclose(w.grad.data, expected)
        opt.update()


def test_higher_order_graphs_see_changes_too():
    x = mg.Variable(np.array([1.0, 2.0]))
    gx, = mg.grad(F.sum(x ** 3), x, create_graph=True)
    x.data = x.data + 1
    with pytest.raises(RuntimeError, match="was assigned after"):
        F.sum(gx).backward()


# ----------------------------------------------------------------------------- owned gradients

def test_gradients_of_two_leaves_are_separate_arrays():
    a, b, c = (mg.Variable(np.array([1.0, 2.0]) * k) for k in (1, 2, 3))
    F.sum((a + b) * c).backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 0  # clipping one in place leaves the other alone
    np.testing.assert_array_equal(b.grad.data, c.data)


def test_the_callers_seed_is_not_handed_back():
    x = mg.Variable(np.array([1.0, 2.0]))
    seed = np.array([3.0, 4.0])
    x.backward(seed)
    assert not np.shares_memory(x.grad.data, seed)
    y = F.reshape(mg.Variable(np.ones((2, 1))), (2,))
    y.backward(seed)
    assert not np.shares_memory(y.creator.inputs[0].grad.data, seed)


def test_the_gradient_of_a_sum_is_a_writable_array():
    s = mg.Variable(np.ones((3, 4)))
    F.sum(s).backward()
    g = s.grad.data
    assert g.flags.writeable and g.strides != (0, 0)
    g[0, 0] = 5.0
    assert g.sum() == 16.0


def test_grad_results_and_create_graph_gradients_are_owned_too():
    a, b = mg.Variable(np.array([1.0, 2.0])), mg.Variable(np.array([3.0, 4.0]))
    ga, gb = mg.grad(F.sum(a + b), [a, b])
    assert not np.shares_memory(ga.data, gb.data) and ga.data.flags.writeable
    ga, gb = mg.grad(F.sum((a + b) ** 2), [a, b], create_graph=True)
    assert ga is not gb and not np.shares_memory(ga.data, gb.data)
    F.sum(ga).backward()  # still differentiable: d/da sum(2(a+b)) = 2
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])


# ----------------------------------------------------------------------------- anomaly mode

def _sqrt_of_zero():
    x = mg.Variable(np.array([0.0, 4.0]))
    return x, F.sum(F.sqrt(x))  # the line that calls sqrt


def test_anomaly_mode_names_the_function_the_phase_and_the_users_line():
    with mg.detect_anomaly():
        x, y = _sqrt_of_zero()
        with pytest.raises(mg.AnomalyError, match=r"Sqrt\.backward produced inf .*test_trust\.py:\d+ in "
                                                  r"_sqrt_of_zero"):
            y.backward()


def test_anomaly_mode_checks_the_forward():
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(mg.AnomalyError, match=r"Log\.forward produced inf in its output 0 .*test_trust"):
            F.log(mg.Variable(np.array([0.0, 1.0])))


def test_config_switch_turns_anomaly_mode_on_and_it_is_off_by_default():
    assert mg.Config.detect_anomaly is False
    with np.errstate(all="ignore"):
        x, y = _sqrt_of_zero()
        y.backward()  # no check: inf in the gradient
    assert np.isinf(x.grad.data[0])
    with mg.using_config("detect_anomaly", True), np.errstate(all="ignore"):
        x, y = _sqrt_of_zero()
        with pytest.raises(mg.AnomalyError):
            y.backward()


# ----------------------------------------------------------------------------- create_graph into .grad

def test_backward_with_create_graph_warns_of_the_cycle_and_grad_does_not(monkeypatch):
    monkeypatch.setattr(mg.guards, "WARNED", set())  # given once per process: as if first
    x = mg.Variable(np.array(2.0))
    with pytest.warns(UserWarning, match=r"reference cycle.*mg\.grad"):
        (x ** 3).backward(create_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.grad(x ** 3, x, create_graph=True)


def test_grad_with_create_graph_leaves_no_cycle():
    x = mg.Variable(np.array(2.0))
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(50):
            g, = mg.grad(x ** 3, x, create_graph=True)
            g.backward()
            x.cleargrad()
            del g
        assert len(gc.get_objects()) - before < 50  # freed by reference counting alone
    finally:
        gc.enable()


# ----------------------------------------------------------------------------- errors

def test_backward_without_a_graph_raises():
    x = mg.Variable(np.array([1.0, 2.0]))
    with mg.no_grad():
        y = F.sum(x * 2)
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()
    labels = mg.Variable(np.array([1, 2, 3]))
    with pytest.raises(RuntimeError, match="integer data"):
        F.sum(labels * 2).backward()
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        mg.grad(y, [x])


def test_grad_accepts_a_single_variable():
    x = mg.Variable(np.array([1.0, 2.0]))
    out = mg.grad(F.sum(x * x), x)
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_array_equal(out[0].data, [2.0, 4.0])
    with pytest.raises(TypeError, match=r"xs\[1\] is a ndarray"):
        mg.grad(F.sum(x * x), [x, np.ones(2)])


@pytest.mark.parametrize("data", [np.array(["a"]), np.array([1 + 2j]), np.array([None, 1.0], dtype=object)],
                         ids=["str", "complex", "object"])
def test_variables_and_functions_refuse_non_real_data(data):
    with pytest.raises(TypeError, match=f"Variable data must hold real numbers.*{data.dtype}"):
        mg.Variable(data)
    with pytest.raises(TypeError, match=f"Exp input 0 must hold real numbers.*{data.dtype}"):
        F.exp(data)


# ----------------------------------------------------------------------------- NumPy meets Variable

def test_one_element_variables_convert_to_python_numbers():
    loss = mg.Variable(np.array([[0.25]], dtype=np.float32))
    assert float(loss) == 0.25 and loss.item() == 0.25 and int(mg.Variable(np.array(3))) == 3
    assert f"{loss:.3f}" == "0.250" and f"{loss}" == str(loss)
    with pytest.raises(TypeError, match=r"one-element.*shape \(2,\)"):
        float(mg.Variable(np.ones(2)))


def test_numpy_operators_record_and_other_numpy_functions_say_what_to_use():
    x = mg.Variable(np.array([1.0, 2.0]))
    y = np.array([3.0, 4.0]) * x + np.float64(1.0)
    assert isinstance(y, mg.Variable) and y.creator is not None
    assert (np.array([1.5, 1.5]) < x).tolist() == [False, True]
    with pytest.raises(TypeError, match=r"numpy\.exp does not take Variables: use .*F\.exp"):
        np.exp(x)
    for fn in (np.asarray, np.mean):
        with pytest.raises(TypeError, match=r"x\.data"):
            fn(x)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "numpy"])
@pytest.mark.parametrize("loss, t, options", [
    (F.softmax_cross_entropy, np.array([0, 2, 1, 2]), {"ignore_index": 5}),
    (F.softmax_cross_entropy, np.array([0, 2, 1, 2]), {}),
    (F.sigmoid_bce, np.random.default_rng(7).random((4, 3)), {"pos_weight": np.array([2.0, 0.5, 1.0])}),
    (F.sigmoid_bce, np.random.default_rng(7).random((4, 3)), {}),
], ids=["ce ignore_index", "ce", "bce pos_weight", "bce"])
def test_a_fused_loss_hands_the_gradient_made_in_its_forward_out_once(loss, t, options, kernels):
    """docs/design.md#the-function-contract: the buffer is declared on the Function and handed over once; computed
    again without it, the gradient is the same, and a seed of 3 triples it."""
    x = mg.Variable(np.random.default_rng(5).standard_normal((4, 3)) * 30)
    with mg.using_config("cpu_kernels", kernels):
        y = loss(x, t, **options)
    f = y.creator
    buffer = f.grad_buffer
    assert buffer is not None and buffer.shape == (4, 3)
    y.backward()
    assert f.grad_buffer is None and np.shares_memory(x.grad.data, buffer)  # handed out, not copied
    first = x.grad.data.copy()
    x.cleargrad()
    y.backward()  # the buffer is gone: the gradient is computed again, the same
    np.testing.assert_array_equal(x.grad.data, first)
    x.cleargrad()
    loss(x, t, **options).backward(np.array(3.0))
    np.testing.assert_allclose(x.grad.data, 3 * first, rtol=1e-15)
    with mg.no_grad():
        assert loss(x, t, **options).creator is None
