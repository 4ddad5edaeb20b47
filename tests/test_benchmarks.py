"""Every benchmark script runs on tiny sizes, so none rots (the figures themselves come from `make bench`)."""
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).parent.parent / "benchmarks"


def run(*args):
    r = subprocess.run([sys.executable, *args], cwd=BENCH, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_engine_benchmark_runs():
    out = run("bench_engine.py", "--sizes", "50", "--rounds", "1", "--repeats", "1")
    assert "us per op" in out


def test_loss_benchmark_runs():
    out = run("bench_losses.py", "--ce", "16x5", "--bce", "8x4", "--memory-ce", "16x5", "--memory-bce", "8x4",
              "--rounds", "1", "--repeats", "1")
    assert "softmax_cross_entropy" in out and "sigmoid_bce" in out and "tracemalloc" in out


def test_training_benchmark_runs():
    out = run("bench_training.py", "--sizes", "8", "6", "3", "--batch", "4", "--rounds", "2", "--repeats", "1")
    assert "minigrad / numpy" in out
