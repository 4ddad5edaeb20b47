"""The fused CUDA kernels (in numba's simulator without a GPU) against the NumPy path (docs/design.md#the-gpu-path)."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

numba = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install numba-cuda)")
pytestmark = pytest.mark.gpu


@pytest.fixture
def launches(cupy, monkeypatch):
    """The kernels launched during a test, by name (the fused path must run, not the array fallback)."""
    from minigrad import cuda
    from minigrad.cuda import bce, ce
    assert cuda.usable()
    seen = []
    for module in (ce, bce):
        original = module.launch

        def counting(kernel, *args, original=original):
            seen.append(kernel.__name__ if hasattr(kernel, "__name__") else str(kernel))
            return original(kernel, *args)
        monkeypatch.setattr(module, "launch", counting)
    return seen


def _both(loss, x, target, options, gy_seed=0):
    """Loss and gradients (x, and a float target) on the host and on the device, as NumPy arrays."""
    results = []
    for move in (lambda a: a, mg.as_cupy):
        xv = mg.Variable(move(x))
        tv = mg.Variable(move(target)) if target.dtype.kind == "f" else move(target)
        opts = {k: (move(v) if isinstance(v, np.ndarray) else v) for k, v in options.items()}
        y = loss(xv, tv, **opts)
        gy = np.random.default_rng(gy_seed).standard_normal(y.shape).astype(x.dtype)
        y.backward(move(gy))
        grads = [xv.grad.data] + ([tv.grad.data] if isinstance(tv, mg.Variable) else [])
        results.append([mg.as_numpy(a) for a in [y.data] + grads])
    return results


def _close(host, device, dtype):
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for a, b in zip(host, device):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(b, a, equal_nan=True, **tol)


CE_SHAPES = [(5,), (6, 4), (3, 37, 2), (2, 5, 2, 3), (4, 1), (0, 5)]
# Every pair of option values meets in some row (the simulator runs a Python thread per GPU thread, so the
# full product would take minutes); each option's formula is checked in full on the host by the loop references.
COVER = [(False, 0.0, "none"), (True, 0.3, "mean"), (True, 0.0, "sum"), (False, 0.3, "sum"), (True, 0.3, "none"),
         (False, 0.0, "mean")]


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("probs", [False, True], ids=["indices", "probabilities"])
def test_cross_entropy_kernels_equal_the_numpy_path(shape, probs, launches):
    rng = np.random.default_rng(len(shape))
    c = shape[0] if len(shape) == 1 else shape[1]
    for weighted, eps, reduction in COVER:
        x = rng.standard_normal(shape) * 3
        if probs:
            t = rng.uniform(0, 1, shape)
        else:
            t = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
            if t.size > 1:
                t.reshape(-1)[1] = -100
        options = dict(weight=rng.uniform(0.5, 2, c) if weighted else None, reduction=reduction, label_smoothing=eps)
        host, device = _both(F.softmax_cross_entropy, x, t, options)
        _close(host, device, np.float64)
    assert "forward" in launches or shape[0] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_kernels_at_the_extremes(dtype, launches):
    """Logits of +-1e6, an ignored row, -inf at a non-target class, and rows holding +inf or NaN (NaN, as NumPy)."""
    x = np.random.default_rng(1).standard_normal((7, 5)).astype(dtype) * 3
    x[0, 0], x[1, 1], x[2, 2] = 1e6, -1e6, -np.inf
    x[3, :] = -1e6
    x[5, 3], x[6, 1] = np.inf, np.nan
    t = np.array([0, 1, 0, 2, -100, 3, 1])
    for options in [dict(), dict(label_smoothing=0.1, weight=np.arange(1, 6).astype(dtype)), dict(reduction="none")]:
        host, device = _both(F.softmax_cross_entropy, x, t, options)
        _close(host, device, dtype)
    q = np.random.default_rng(2).uniform(0, 1, x.shape).astype(dtype)
    host, device = _both(F.softmax_cross_entropy, x[:5], q[:5], dict(reduction="none"))
    _close(host, device, dtype)
    assert launches.count("forward") >= 4 and "gradient" in launches


def test_cross_entropy_kernels_ignore_the_weight_of_an_unused_class(launches):
    x = np.random.default_rng(4).standard_normal((4, 3))
    t = np.array([0, 1, 1, -100])
    host, device = _both(F.softmax_cross_entropy, x, t, dict(weight=np.array([1.0, 2.0, np.inf])))
    assert all(np.isfinite(a).all() for a in host + device)
    _close(host, device, np.float64)
    assert "gradient" in launches


def test_cross_entropy_kernel_gradient_passes_gradcheck(cupy, launches):
    x = mg.as_cupy(np.random.default_rng(3).standard_normal((2, 3)))
    t = mg.as_cupy(np.array([2, 0]))
    assert mg.gradcheck(lambda a: F.softmax_cross_entropy(a, t, label_smoothing=0.2), (x,))
    assert "gradient" in launches


def test_unchecked_out_of_range_targets_stay_on_the_device(cupy, launches):
    """With Config.check_values off, a target out of range gives NaN for its row; it never reads out of bounds."""
    x = mg.as_cupy(np.zeros((3, 4)))
    with mg.using_config("check_values", False):
        y = F.softmax_cross_entropy(x, mg.as_cupy(np.array([0, 9, 1])), reduction="none")
    out = mg.as_numpy(y.data)
    assert np.isnan(out[1]) and np.allclose(out[[0, 2]], np.log(4))


BCE_CASES = [((5,), (5,), ()), ((6, 4), (4,), (4,)), ((6, 4), (6, 1), (1, 4)), ((2, 3, 4, 2), (3, 1, 1), (3, 1, 1)),
             ((), (), ()), ((0, 3), (3,), (3,))]


@pytest.mark.parametrize("shape, w_shape, pw_shape", BCE_CASES, ids=[str(c[0]) for c in BCE_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_bce_kernels_equal_the_numpy_path(shape, w_shape, pw_shape, dtype, launches):
    rng = np.random.default_rng(5)
    for weighted, positive, reduction in COVER:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        if x.size > 2:
            x.reshape(-1)[:2] = [1e4, -1e4]
        y = rng.uniform(0, 1, shape).astype(dtype)
        options = dict(weight=rng.uniform(0.5, 2, w_shape).astype(dtype) if weighted else None,
                       pos_weight=rng.uniform(0.5, 3, pw_shape).astype(dtype) if positive else None,
                       reduction=reduction)
        host, device = _both(F.sigmoid_bce, x, y, options)
        _close(host, device, dtype)
    assert "gradient" in launches or not shape or shape[0] == 0


KERNELS = '''
from numba import cuda, float32, float64, int64, boolean
from minigrad.cuda import bce, ce
for f in (float32, float64):
    a = f[::1]
    ce_common = (a, a, int64[::1], boolean[::1], a, a, a, boolean, boolean, float64, int64, int64)
    bce_common = (a, a, float64[::1], int64[::1], float64[::1], int64[::1], int64[::1], boolean, boolean)
    for kernel, sig in [(ce.forward, ce_common + (a, float64[::1])),
                        (ce.gradient, ce_common + (float64[::1], a, a)),
                        (bce.forward, bce_common + (boolean, a, float64[::1])),
                        (bce.gradient, bce_common + (a, boolean, a))]:
        ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=CC)
        assert ".target sm_" in ptx, ptx[:200]
print("compiled")
'''


def _toolkit():
    """The CUDA toolkit folder with NVVM, or None."""
    for root in [os.environ.get("CUDA_HOME", "")] + sorted(map(str, pathlib.Path("/usr/local").glob("cuda*")))[::-1]:
        if root and list(pathlib.Path(root).glob("**/libnvvm.so*")):
            return root
    return None


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
def test_every_kernel_compiles_to_ptx(cc):
    toolkit = _toolkit()
    if toolkit is None:
        pytest.skip("no CUDA toolkit with NVVM found (set CUDA_HOME)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["CUDA_HOME"] = toolkit
    env["NUMBA_FORCE_CUDA_CC"] = "%d.%d" % cc  # typing calls to device functions asks for a device otherwise
    r = subprocess.run([sys.executable, "-c", KERNELS.replace("CC", repr(cc))], capture_output=True, text=True,
                       env=env, timeout=300)
    if "Failure finding" in r.stderr and "nvrtc" in r.stderr:
        pytest.skip("numba-cuda found no NVRTC library (pip install nvidia-cuda-nvrtc)")
    assert r.returncode == 0 and "compiled" in r.stdout, r.stderr[-3000:]
