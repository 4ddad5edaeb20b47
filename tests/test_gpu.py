"""The GPU column: spec rows, switch rules, layers, optimizers, host syncs on CuPy (docs/design.md#the-gpu-path).

Marker `gpu` (`make test-gpu` runs only these). They run on a real GPU where CuPy finds one, and on the strict
stand-in in tests/standin otherwise, so every `make test` runs them.
"""
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REAL_GPU, standin_env

import minigrad as mg
import minigrad.functions as F
from minigrad import optimizers as O
from minigrad.models import MLP
from minigrad.specs import SPECS

pytestmark = pytest.mark.gpu
IDS = [s.label for s in SPECS]


def test_mixing_numpy_and_cupy_raises_naming_both(cupy):
    x = mg.Variable(np.ones((2, 3))).to_gpu()
    with pytest.raises(TypeError, match=r"NumPy array of shape \(3,\) and a CuPy array of shape \(2, 3\)"):
        x + np.ones(3)
    with pytest.raises(TypeError, match=r"NumPy array of shape \(2, 3\) and a CuPy array of shape \(2, 3\)"):
        x * mg.Variable(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"NumPy array of shape \(2,\) and a CuPy array of shape \(2, 3\)"):
        F.softmax_cross_entropy(x, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"NumPy array of shape \(3,\) and a CuPy array of shape \(2, 3\)"):
        F.softmax_cross_entropy(x, mg.as_cupy(np.array([0, 1])), weight=np.ones(3))
    with pytest.raises(TypeError, match=r"NumPy array of shape \(2, 3\) and a CuPy array of shape \(2, 3\)"):
        F.sigmoid_bce(x, np.ones((2, 3)))


def test_host_scalars_mix_with_device_arrays(cupy):
    """Numbers, numpy scalars and 0-d host arrays or Variables act as scalars on the device, as in torch."""
    a = np.arange(6.0).reshape(2, 3)
    x = mg.Variable(mg.as_cupy(a))
    for y, want in [(x * mg.Variable(2.0), a * 2), (x + np.float32(1.5), a + 1.5), (2.0 - x, 2 - a),
                    (x / np.array(4.0), a / 4), (mg.as_cupy(np.arange(3)) + mg.Variable(1.5), np.arange(3) + 1.5)]:
        assert mg.get_array_module(y) is cupy
        np.testing.assert_array_equal(mg.as_numpy(y.data), want)
    t = F.softmax_cross_entropy(mg.as_cupy(np.zeros(3)), np.array(1))  # a 0-d host target
    np.testing.assert_allclose(mg.as_numpy(t.data), np.log(3))


def _device(a, cupy):
    return mg.as_cupy(a) if isinstance(a, np.ndarray) else a


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_spec_row_on_the_device(spec, cupy):
    """Forward and backward on the device (fused kernels where numba-cuda runs) equal NumPy's, and gradcheck
    and gradgradcheck pass there."""
    inputs = spec.inputs()
    host = [mg.Variable(a) if a.dtype.kind == "f" else a for a in inputs]
    dev = [mg.Variable(_device(a, cupy)) if a.dtype.kind == "f" else _device(a, cupy) for a in inputs]
    y_host, y_dev = spec.fn(*host), spec.fn(*dev)
    assert mg.get_array_module(y_dev) is cupy
    np.testing.assert_allclose(mg.as_numpy(y_dev.data), y_host.data, rtol=1e-12, atol=1e-14)
    gy = np.random.default_rng(0).standard_normal(y_host.shape)
    for y, xs, g in [(y_host, host, gy), (y_dev, dev, mg.as_cupy(gy))]:
        y.backward(g)
    for a, b in zip(host, dev):
        if isinstance(a, mg.Variable):
            assert mg.get_array_module(b.grad) is cupy
            np.testing.assert_allclose(mg.as_numpy(b.grad.data), a.grad.data, rtol=1e-10, atol=1e-13)
    device_inputs = tuple(_device(a, cupy) for a in inputs)
    with mg.using_config("cuda_kernels", False):  # the array path (the kernels' own checks: test_cuda_kernels.py)
        assert mg.gradcheck(spec.fn, device_inputs, atol=spec.atol, rtol=spec.rtol)
        assert mg.gradgradcheck(spec.fn, device_inputs, atol=spec.atol, rtol=spec.rtol)


def test_layers_built_on_the_device_keep_their_parameters_there(cupy, tmp_path):
    """A lazily sized Linear called first with a raw device batch creates W and b on the device."""
    x = mg.as_cupy(np.ones((2, 4), np.float32))
    model = MLP([5, 2])
    y = model(x)
    assert mg.get_array_module(y) is cupy
    assert all(mg.get_array_module(p) is cupy for p in model.params())
    model.save_weights(tmp_path / "w.npz")
    other = MLP([5, 2])
    other(np.ones((1, 4), np.float32))
    other.to_gpu().load_weights(tmp_path / "w.npz")
    for p, q in zip(model.params(), other.params()):
        assert mg.get_array_module(q) is cupy
        np.testing.assert_array_equal(mg.as_numpy(p.data), mg.as_numpy(q.data))


def test_a_cnn_trains_on_the_device_as_on_the_host(cupy):
    """Conv2d, BatchNorm (its running averages too), pooling and Linear, lazily sized from a device batch."""
    from minigrad import layers as L
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6)).astype(np.float32)
    t = np.array([0, 1, 2, 1])
    results = []
    for device in (False, True):
        np.random.seed(0)
        model = mg.models.Sequential(L.Conv2d(3, 3, pad=1), L.BatchNorm(), F.relu, lambda h: F.max_pooling(h, 2, 2),
                                     L.Deconv2d(2, 2, stride=2), lambda h: F.average_pooling(h, 3, 3),
                                     lambda h: F.reshape(h, (4, -1)), L.Linear(3))
        xb, tb = (mg.as_cupy(x), mg.as_cupy(t)) if device else (x, t)
        optimizer = O.SGD(lr=0.1).setup(model)
        for _ in range(3):
            loss = F.softmax_cross_entropy(model(xb), tb)
            model.cleargrads()
            loss.backward()
            optimizer.update()
        assert all(mg.get_array_module(p) is (cupy if device else np) for p in model.params())
        results.append([mg.as_numpy(p.data) for p in model.params()])
    for host, dev in zip(*results):
        np.testing.assert_allclose(dev, host, rtol=1e-5, atol=1e-6)


OPTIMIZERS = [lambda: O.SGD(lr=0.1), lambda: O.MomentumSGD(lr=0.1), lambda: O.AdaGrad(lr=0.1),
              lambda: O.Adam(lr=0.01), lambda: O.AdamW(lr=0.01, weight_decay=0.1)]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=["SGD", "MomentumSGD", "AdaGrad", "Adam", "AdamW"])
def test_optimizer_steps_on_the_device_equal_the_host_ones(make, cupy):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    trained = []
    for on_device in (False, True):
        np.random.seed(0)
        model = MLP([5, 3], dtype=np.float64)
        model(x)
        xs, ts = (mg.as_cupy(x), mg.as_cupy(t)) if on_device else (x, t)
        if on_device:
            model.to_gpu()
        opt = make().setup(model).add_hook(O.WeightDecay(0.01)).add_hook(O.ClipGrad(0.5))
        for _ in range(3):
            model.cleargrads()
            F.softmax_cross_entropy(model(xs), ts).backward()
            opt.update()
        trained.append([mg.as_numpy(p.data) for p in model.params()])
    for a, b in zip(*trained):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def _training_step(cupy, loss):
    rng = np.random.default_rng(4)
    x = mg.as_cupy(rng.standard_normal((16, 6)).astype(np.float32))
    t = mg.as_cupy(rng.integers(0, 3, 16)) if loss == "ce" else mg.as_cupy(rng.random((16, 3)) > 0.5)
    model = MLP([8, 3])
    model(x)
    opt = O.Adam().setup(model).add_hook(O.ClipGrad(1.0)).add_hook(O.WeightDecay(1e-4))
    cupy.SYNCS.clear()
    model.cleargrads()
    y = model(x)
    (F.softmax_cross_entropy(y, t) if loss == "ce" else F.sigmoid_bce(y, t)).backward()
    opt.update()
    return dict(cupy.SYNCS)


@pytest.mark.skipif(REAL_GPU, reason="host synchronisations are counted by the stand-in only")
def test_a_training_step_synchronises_only_to_check_the_targets(cupy):
    """One sync per cross entropy call (validating class indices), none with Config.check_values off or
    for sigmoid_bce: forward, fused loss, backward, ClipGrad, WeightDecay and Adam stay on the device."""
    assert _training_step(cupy, "ce") == {"bool": 1}
    with mg.using_config("check_values", False):
        assert _training_step(cupy, "ce") == {}
    assert _training_step(cupy, "bce") == {}


EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("example, args, floor", [
    ("spiral.py", ["--epochs", "100", "--no-plots", "--quiet"], 0.85),
    ("digits.py", ["--epochs", "8", "--no-plots"], 0.9)])
def test_examples_train_on_the_device_as_on_the_host(example, args, floor):
    """`--gpu` runs the same training on the device (the stand-in here) to the host run's accuracy."""
    accuracies = []
    for device in ([], ["--gpu"]):
        r = subprocess.run([sys.executable, str(EXAMPLES / example), *args, *device], capture_output=True,
                           text=True, timeout=300, env=standin_env())
        assert r.returncode == 0, r.stderr
        accuracies.append(float(re.search(r"accuracy: ([0-9.]+)%", r.stdout).group(1)) / 100)
    assert accuracies[1] >= floor and abs(accuracies[0] - accuracies[1]) <= 0.02, accuracies
