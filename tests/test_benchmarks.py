"""Every benchmark script runs on tiny sizes, so none rots; figures come from `make bench` (docs/design.md)."""
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).parent.parent / "benchmarks"


def run(*args):
    r = subprocess.run([sys.executable, *args], cwd=BENCH, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def bench(name):
    """A benchmark script imported as a module."""
    import importlib
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_engine_benchmark_runs():
    out = run("bench_engine.py", "--sizes", "50", "--rounds", "1", "--repeats", "1")
    assert "us per op" in out


def test_loss_benchmark_runs():
    out = run("bench_losses.py", "--ce", "16x5", "--bce", "8x4", "--memory-ce", "16x5", "--memory-bce", "8x4",
              "--rounds", "1", "--repeats", "1", "--no-huge-pages")
    assert "softmax_cross_entropy" in out and "sigmoid_bce" in out and "tracemalloc" in out


def test_cnn_benchmark_runs():
    out = run("bench_cnn.py", "--batch", "2", "--channels", "3", "--size", "6", "--hidden", "4", "--rounds", "1",
              "--repeats", "1")
    assert all(case in out for case in ("conv2d", "max_pooling", "batch_norm", "lstm")) and "im2col" in out


def test_linear_cross_entropy_benchmark_runs():
    out = run("bench_linear_ce.py", "--sizes", "64", "8", "100", "--rounds", "1", "--repeats", "1", "--impls",
              "minigrad", "composite", "torch-chunked", "--no-memory")
    assert "composite" in out and "minigrad" in out and "failed" not in out


def test_transformer_benchmark_checks_torch_and_runs():
    import pytest
    pytest.importorskip("torch")
    out = run("bench_transformer.py", "--small", "--rounds", "1", "--repeats", "1")
    assert "equal to torch's" in out and "GPT step" in out and "attention" in out


def test_distributed_benchmark_runs():
    """docs/distributed.md: under mpiexec where it exists (skipped with the reason otherwise)."""
    from conftest import mpiexec
    mpiexec()
    out = run("bench_distributed.py", "--small", "--rounds", "1", "--repeats", "1")
    assert "allreduce_grads" in out and "one flat MPI.Allreduce" in out and "2 ranks" in out


def test_small_batch_benchmark_runs():
    out = run("bench_small.py", "--calls", "2", "--rounds", "1", "--repeats", "1")
    assert "ce 32x10" in out and "bce 32x5" in out and "spiral step" in out


def test_dezeros_convolution_in_the_benchmark_is_a_convolution():
    """The benchmark's DeZero convolution step computes what minigrad's conv2d and its gradients compute."""
    import numpy as np

    import minigrad as mg
    import minigrad.functions as F
    dezero_conv_step = bench("bench_cnn").dezero_conv_step
    rng = np.random.default_rng(0)
    x, W, b = (mg.Variable(rng.standard_normal(s)) for s in ((2, 3, 6, 5), (4, 3, 3, 3), (4,)))
    y = F.conv2d(x, W, b, 2, 1)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    for mine, theirs in zip((y, x.grad, W.grad, b.grad), dezero_conv_step(x.data, W.data, b.data, gy, 2, 1)):
        np.testing.assert_allclose(theirs, mine.data, rtol=1e-12, atol=1e-12)


def test_training_benchmark_runs():
    out = run("bench_training.py", "--sizes", "8", "6", "3", "--batch", "4", "--rounds", "2", "--repeats", "1")
    assert "minigrad / numpy" in out


def test_training_benchmark_compares_the_same_step():
    """The hand-written NumPy step updates the weights exactly as minigrad's step does."""
    import numpy as np

    import minigrad.functions as F
    from minigrad.models import MLP
    from minigrad.optimizers import SGD
    numpy_step = bench("bench_training").numpy_step
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((6, 8)), rng.integers(0, 3, 6)
    model = MLP([5, 4, 3], dtype=np.float64)
    model(x)
    params = [(layer.W.data.copy(), layer.b.data.copy()) for layer in model.layers]
    loss = F.softmax_cross_entropy(model(x), t)
    loss.backward()
    SGD(lr=0.1).setup(model).update()
    np.testing.assert_allclose(numpy_step(x, t, params, 0.1), loss.data, rtol=1e-12)
    for layer, (W, b) in zip(model.layers, params):
        np.testing.assert_allclose(layer.W.data, W, rtol=1e-12)
        np.testing.assert_allclose(layer.b.data, b, rtol=1e-12)


def test_gpu_benchmark_runs(tmp_path):
    """On the CuPy stand-in (or a real GPU) and, without a GPU, the kernels in numba's simulator."""
    from conftest import standin_env
    env = standin_env()
    env.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    r = subprocess.run([sys.executable, "bench_gpu.py", "--ce", "16x5", "--bce", "8x4", "--rounds", "1"], cwd=BENCH,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert "softmax_cross_entropy" in r.stdout and "sigmoid_bce" in r.stdout and "of copy bandwidth" in r.stdout


def test_kernel_benchmark_runs():
    out = run("bench_kernels.py", "--size", "2048", "--rounds", "1", "--repeats", "1")
    assert "softmax" in out and "import minigrad" in out or "numba is not installed" in out
