"""No silent wrong answer on the newer surface: dtypes, sizes, loading into lazy layers, optimizer state, and errors
that name what is wrong (docs/design.md#memory-layouts-empty-batches-half-precision-failed-calls)."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
import minigrad.layers as L
import minigrad.optimizers as O
import minigrad.transforms as T
from minigrad.data import SinCurve, Spiral


@pytest.mark.parametrize("fn", [F.leaky_relu, lambda x: F.leaky_relu(x, 0.5), F.dropout], ids=["leaky_relu",
                                                                                               "slope 0.5", "dropout"])
def test_real_valued_functions_refuse_integer_input(fn):
    with pytest.raises(TypeError, match="floating point input, got dtype int64 for x"):
        fn(np.array([-3, 2]))


def test_normalize_refuses_per_channel_values_of_another_channel_count():
    with pytest.raises(ValueError, match="3 values per channel but the item has shape \\(1, 4, 4\\)"):
        T.Normalize([0.5] * 3, [0.2] * 3)(np.ones((1, 4, 4), np.float32))
    x = np.arange(48, dtype=np.float32).reshape(3, 4, 4)
    np.testing.assert_allclose(T.Normalize([0.5] * 3, [0.2] * 3)(x), (x - 0.5) / 0.2, rtol=1e-6)
    np.testing.assert_allclose(T.Normalize([0.5], [0.2])(x[:1]), (x[:1] - 0.5) / 0.2, rtol=1e-6)


def test_a_recurrent_layer_takes_one_step_of_shape_n_by_in_size():
    lstm = L.LSTM(2)
    with pytest.raises(ValueError, match=r"\(N, in_size\), got shape \(5, 8, 3\)"):
        lstm(np.zeros((5, 8, 3), np.float32))
    assert lstm(np.zeros((5, 3), np.float32)).shape == (5, 2)
    with pytest.raises(ValueError, match="a batch of 4 after a state of batch size 5"):
        lstm(np.zeros((4, 3), np.float32))
    lstm.reset_state()
    assert lstm(np.zeros((4, 3), np.float32)).shape == (4, 2)


def test_load_weights_into_a_lazy_layer_checks_its_configuration(tmp_path):
    src = L.Conv2d(8, 5)
    src(np.zeros((1, 2, 9, 9), np.float32))
    src.save_weights(tmp_path / "conv")
    with pytest.raises(ValueError, match=r"W has shape \(8, 2, 5, 5\) .* configured for \(4, any, 3, 3\)"):
        L.Conv2d(4, 3).load_weights(tmp_path / "conv")
    with pytest.raises(ValueError, match="unexpected \\['b'\\]"):
        L.Conv2d(8, 5, nobias=True).load_weights(tmp_path / "conv")
    same = L.Conv2d(8, 5, dtype=np.float64)
    same.load_weights(tmp_path / "conv")
    assert same.W.shape == (8, 2, 5, 5) and same.W.dtype == np.float64  # the layer's dtype
    np.testing.assert_array_equal(same.W.data, src.W.data)
    lin = L.Linear(7, in_size=4)
    lin.save_weights(tmp_path / "lin")
    with pytest.raises(ValueError, match=r"W has shape \(4, 7\) .* configured for \(any, 3\)"):
        L.Linear(3).load_weights(tmp_path / "lin")
    assert L.Linear(3).W.data is None


def test_optimizer_state_never_passes_to_a_new_parameter():
    """State keyed by id() went to fresh Parameters that reused a freed id (197 of 200 did)."""
    opt = O.MomentumSGD(lr=0.1)
    inherited = 0
    for _ in range(200):
        p = mg.Parameter(np.ones(3))
        p.grad = mg.Variable(np.ones(3))
        opt.setup([p]).update()
        v = opt.state[p][0]
        inherited += not np.array_equal(v, np.ones(3))  # a fresh Parameter's first velocity is its gradient
        del p, v
        gc.collect()
    assert inherited == 0


@pytest.mark.parametrize("order", ["freeze first", "freeze last"])
def test_optimizer_hooks_compose_in_any_order(order):
    model = L.Linear(2, in_size=3)
    frozen = model.W.data.copy()
    hooks = [O.FreezeParam(model.W), O.WeightDecay(0.1), O.ClipGrad(0.5)]
    opt = O.SGD(0.1).setup(model)
    for hook in hooks if order == "freeze first" else hooks[::-1]:
        opt.add_hook(hook)
    F.sum(model(np.ones((2, 3), np.float32))).backward()
    opt.update()
    np.testing.assert_array_equal(model.W.data, frozen)
    assert not np.array_equal(model.b.data, 0)


@pytest.mark.parametrize("make, error, match", [
    (lambda: L.LSTM(0), ValueError, "LSTM: hidden_size must be at least 1, got 0"),
    (lambda: L.LSTM(5, in_size=-1), ValueError, "LSTM: in_size must be at least 1, got -1"),
    (lambda: L.RNN(2.5), TypeError, "RNN: hidden_size must be an integer"),
    (lambda: L.Conv2d(-1, 3), ValueError, "Conv2d: out_channels must be at least 1, got -1"),
    (lambda: L.Deconv2d(2, 3, in_channels=0), ValueError, "Deconv2d: in_channels must be at least 1"),
    (lambda: L.EmbedID(-1, 2), ValueError, "EmbedID: in_size must be at least 1, got -1"),
    (lambda: L.Linear(None), TypeError, "Linear: out_size must be an integer"),
    (lambda: SinCurve(num_data=-5), ValueError, "SinCurve: num_data must be at least 2, got -5"),
    (lambda: Spiral(num_class=0), ValueError, "Spiral: num_class must be at least 1"),
    (lambda: O.FreezeParam(L.Linear), TypeError, "argument 0 is the class Linear"),
    (lambda: L.BatchNorm()(np.zeros(3)), ValueError, r"batch_norm: x must be \(N, C\)"),
    (lambda: L.Linear(3)([[1.0, 2.0]]), None, None),
    (lambda: L.Linear(3)("abc"), TypeError, "Linear: x must be an ndarray"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_constructors_and_layers_name_what_is_wrong(make, error, match):
    if error is None:
        make()  # a nested list is an input, as the functions take it
        return
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.deconv2d(np.ones((1, 2, 5, 5)), np.ones((2, 1, 3, 3)), pad=5), ValueError,
     "pad \\(5, 5\\) is too large"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4), int), np.ones((1, 1, 2, 2), int), np.ones(1)), TypeError,
     "conv2d: expected a floating point input, got dtype int64 for x"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2), int)), TypeError, "for W"),
    (lambda: F.conv2d(np.ones((2, 28, 28, 3)), np.ones((8, 3, 3, 3))), ValueError, "channels-last"),
    (lambda: L.Conv2d(8, 3)(np.ones((2, 28, 28, 1), np.float32)), ValueError, "channels-last"),
])
def test_convolution_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("fn", ["conv2d", "deconv2d"])
def test_convolutions_have_one_dtype_rule_on_every_path(fn, stride):
    """The result's dtype is that of x, W and b together on both the stride-1 and the strided path; each gradient
    comes back in its input's dtype."""
    rng = np.random.default_rng(0)
    x = mg.Variable(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    W = mg.Variable(rng.standard_normal((3, 3, 3, 3)))
    b = mg.Variable(rng.standard_normal(3).astype(np.float32))
    y = getattr(F, fn)(x, W, b, stride=stride)
    assert y.dtype == np.float64
    y.backward(np.ones(y.shape))
    assert (x.grad.dtype, W.grad.dtype, b.grad.dtype) == (np.float32, np.float64, np.float32)
    ref = getattr(F, fn)(x.data.astype(np.float64), W, b.data.astype(np.float64), stride=stride)
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-12)


def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "ck.npz"
    model = L.Linear(2, in_size=3)
    model.save_weights(path)
    code = ("import os, signal, minigrad.layers as L\n"
            "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
            f"L.Linear(2, in_size=3).save_weights({str(path)!r})\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == -9
    stale = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(stale) == 1 and stale[0].startswith("ck.npz.")
    check = L.Linear(2, in_size=3)
    check.load_weights(path)  # the old file is whole
    np.testing.assert_array_equal(check.W.data, model.W.data)
    alive = tmp_path / f"ck.npz.{os.getpid()}.running.tmp"  # a save still running in a live process is kept
    alive.write_bytes(b"")
    model.save_weights(path)
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".tmp")) == [alive.name]
