"""The CuPy side of the backend switch, marker `gpu`, skipped without a GPU (docs/design.md#adding-a-backend)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.models import MLP

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not mg.gpu_available(), reason=f"no GPU: {mg.backend.gpu_unavailable_reason()}")]


def test_mixing_numpy_and_cupy_raises_naming_both():
    x = mg.Variable(np.ones((2, 3))).to_gpu()
    with pytest.raises(TypeError, match=r"NumPy array of shape \(3,\) and a CuPy array of shape \(2, 3\)"):
        x + np.ones(3)


def test_variables_and_layers_move_and_keep_their_values(tmp_path):
    a = np.random.default_rng(0).standard_normal((3, 4))
    x = mg.Variable(a).to_gpu()
    assert mg.get_array_module(x) is not np
    np.testing.assert_array_equal(x.to_cpu().data, a)
    model = MLP([5, 2])
    model(np.ones((1, 4), np.float32))
    model.to_gpu()
    model.save_weights(tmp_path / "w.npz")
    other = MLP([5, 2])
    other(np.ones((1, 4), np.float32))
    other.to_gpu().load_weights(tmp_path / "w.npz")
    for p, q in zip(model.params(), other.params()):
        np.testing.assert_array_equal(mg.as_numpy(p.data), mg.as_numpy(q.data))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_match_numpy(dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((64, 10)) * 3).astype(dtype)
    x[0, 0], x[1, 1] = 1e6, -1e6
    t = rng.integers(0, 10, 64)
    t[3] = -100
    y = rng.uniform(0, 1, (64, 10)).astype(dtype)
    w = rng.uniform(0.5, 2, 10).astype(dtype)
    for loss, args in [(lambda a, t, w: F.softmax_cross_entropy(a, t, weight=w, label_smoothing=0.1), (t, w)),
                       (lambda a, y, w: F.sigmoid_bce(a, y, weight=w, pos_weight=w), (y, w))]:
        results = []
        for move in (lambda a: a, mg.as_cupy):
            xv = mg.Variable(move(x))
            out = loss(xv, *map(move, args))
            out.backward()
            results.append((mg.as_numpy(out.data), mg.as_numpy(xv.grad.data)))
        for got, want in zip(results[1], results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_out_of_range_target_is_a_python_error_not_a_device_assert():
    x = mg.as_cupy(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.softmax_cross_entropy(x, mg.as_cupy(np.array([0, 4, 1])))


def test_gradcheck_runs_on_the_gpu():
    x = mg.as_cupy(np.random.default_rng(2).standard_normal((3, 4)))
    t = mg.as_cupy(np.array([0, 3, 1]))
    assert mg.gradcheck(lambda a: F.softmax_cross_entropy(a, t, label_smoothing=0.2), (x,))
    assert mg.gradgradcheck(lambda a: F.softmax_cross_entropy(a, t, label_smoothing=0.2), (x,))
