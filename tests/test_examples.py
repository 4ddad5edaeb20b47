"""Every example runs with tiny settings, so none rots (docs/design.md#layers)."""
import pathlib
import re
import subprocess
import sys

import tempfile

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"

TINY = {"newton.py": ["--steps", "3", "--max-gd-steps", "200"],
        "loss_identities.py": ["--n", "4", "--c", "3"],
        "spiral.py": ["--epochs", "3", "--no-plots", "--quiet"],
        "digits.py": ["--epochs", "1", "--no-plots"],
        "multilabel.py": ["--epochs", "1"],
        "gradcheck_custom.py": [],
        "cnn_digits.py": ["--epochs", "1", "--no-plots"],
        "lstm_sin.py": ["--epochs", "2", "--hidden", "8", "--no-plots"],
        "transformer_lm.py": ["--steps", "2", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block", "16",
                              "--batch-size", "4", "--no-plots", "--quiet", "--out", tempfile.mkdtemp()],
        "char_lm.py": ["--windows", "2", "--hidden", "16", "--embed", "8", "--no-plots", "--quiet"]}


def test_every_example_has_tiny_settings():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_example_runs(name):
    r = subprocess.run([sys.executable, str(EXAMPLES / name), *TINY[name]], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


TIMINGS = re.compile(r"\d+(\.\d+)? ?(s|ms|min)\b")  # wall times, the only output allowed to differ


@pytest.mark.parametrize("name", sorted(TINY))
def test_two_runs_with_the_same_seed_print_the_same(name):
    """docs/training.md#repeatable-runs: every example with a --seed repeats; the others draw nothing."""
    seed = ["--seed", "3"] if "--seed" in (EXAMPLES / name).read_text() else []
    outs = [subprocess.run([sys.executable, str(EXAMPLES / name), *TINY[name], *seed], capture_output=True,
                           text=True, timeout=120, check=True).stdout for _ in range(2)]
    assert TIMINGS.sub("", outs[0]) == TIMINGS.sub("", outs[1])


@pytest.mark.skipif(__import__("minigrad").gpu_available(), reason="a GPU is present: --gpu trains")
@pytest.mark.parametrize("name", ["digits.py", "cnn_digits.py", "spiral.py"])
def test_gpu_without_a_gpu_is_one_line_before_training(name):
    r = subprocess.run([sys.executable, str(EXAMPLES / name), *TINY[name], "--gpu"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and not r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "pip install 'minigrad[gpu]'" in r.stderr


@pytest.mark.parametrize("name", sorted(TINY))
def test_example_has_help(name):
    r = subprocess.run([sys.executable, str(EXAMPLES / name), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage" in r.stdout


def test_newton_converges_to_the_minimum():
    r = subprocess.run([sys.executable, str(EXAMPLES / "newton.py"), "--max-gd-steps", "10"],
                       capture_output=True, text=True, timeout=120)
    lines = r.stdout.splitlines()
    last_step = [ln for ln in lines if ln.strip().startswith("6 ")][0]
    assert abs(float(last_step.split()[1]) - 1.0) < 1e-10
    assert "Newton (Hessian by double backward):      6 steps" in r.stdout


def test_loss_identities_hold_where_they_should():
    r = subprocess.run([sys.executable, str(EXAMPLES / "loss_identities.py")], capture_output=True, text=True,
                       timeout=120)
    diffs = [float(ln.split("=")[1].split()[0]) for ln in r.stdout.splitlines() if "max |left - right|" in ln]
    broken = {1, 2, 7}  # BCE of saturated sigmoid, sigmoid row sums, log(softmax) underflow
    assert len(diffs) == 15
    assert all(d < 1e-7 for i, d in enumerate(diffs) if i not in broken)
    assert all(d > 1 for i, d in enumerate(diffs) if i in broken)


def test_spiral_trains_to_95_percent_and_writes_its_plots(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLES / "spiral.py"), "--quiet", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    accuracy = float(r.stdout.split("final training accuracy: ")[1].split("%")[0])
    assert accuracy >= 95.0
    for name in ("spiral_curves.png", "spiral_boundary.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_digits_reaches_95_percent_on_held_out_images(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLES / "digits.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("test accuracy: ")[1].split("%")[0]) >= 95.0
    assert (tmp_path / "digits_confusion.png").exists()


def test_cnn_digits_reaches_98_5_percent_on_held_out_images(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLES / "cnn_digits.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("test accuracy: ")[1].split("%")[0]) >= 98.5
    assert (tmp_path / "cnn_digits_confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_cnn_digits_distributed_over_two_ranks_reaches_the_same_accuracy(tmp_path):
    """docs/distributed.md: mpiexec -n 2 with the global batch of 32 split in two (one BLAS thread per rank)."""
    import os
    from conftest import mpiexec
    r = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(EXAMPLES / "cnn_digits.py"), "--distributed",
                        "--no-plots"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("test accuracy") == 1  # rank 0 alone evaluates and prints
    assert float(r.stdout.split("test accuracy: ")[1].split("%")[0]) >= 98.5


def test_cnn_digits_trains_on_mnist_files_when_given(tmp_path):
    """--mnist DIR reads the four IDX files (here a few generated 28x28 images) and never downloads."""
    import numpy as np
    from test_data import write_idx
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    r = subprocess.run([sys.executable, str(EXAMPLES / "cnn_digits.py"), "--mnist", str(tmp_path), "--epochs", "1",
                        "--no-plots"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "on 32 held-out MNIST images" in r.stdout
    missing = subprocess.run([sys.executable, str(EXAMPLES / "cnn_digits.py"), "--mnist", str(tmp_path / "none"),
                              "--epochs", "1", "--no-plots"], capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "download=False" in missing.stderr


def test_lstm_sin_learns_the_curve_and_plots_it(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLES / "lstm_sin.py"), "--epochs", "20", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    mse = float(r.stdout.split("MSE on the cosine ")[1].split()[0])
    assert mse < 0.01  # the cosine's variance is 0.5
    assert (tmp_path / "lstm_sin.png").read_bytes()[:4] == b"\x89PNG"


def test_char_lm_beats_the_unigram_model_and_plots_its_curve(tmp_path):
    """A short run (80 windows of a small LSTM); the default run trains 3,000 windows."""
    r = subprocess.run([sys.executable, str(EXAMPLES / "char_lm.py"), "--windows", "80", "--hidden", "64",
                        "--quiet", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    found = re.search(r"validation perplexity ([0-9.]+) \(unigram ([0-9.]+)\)", r.stdout)
    assert float(found.group(1)) < 0.5 * float(found.group(2)), r.stdout
    assert "before training:" in r.stdout and "after training:" in r.stdout
    assert (tmp_path / "char_lm.png").read_bytes()[:4] == b"\x89PNG"


def test_gradcheck_example_catches_the_planted_bug():
    r = subprocess.run([sys.executable, str(EXAMPLES / "gradcheck_custom.py")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "caught the bug" in r.stdout and "gradcheck(swish): True" in r.stdout
    assert "gradgradcheck(hypot), broadcasting (3, 4) with (4,): True" in r.stdout
    assert "gradgradcheck(root_mean_square over axis 1): True" in r.stdout


GPT_TINY = ["--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block", "32", "--batch-size", "16",
            "--warmup", "20", "--quiet"]


def test_transformer_lm_learns_and_resumes_exactly(tmp_path):
    """docs/ops.md#transformer-layers: a tiny GPT beats the unigram model well within a minute, and a run stopped
    at step 400 and resumed from its checkpoint prints what the uninterrupted run prints."""
    def run(*extra, out):
        r = subprocess.run([sys.executable, str(EXAMPLES / "transformer_lm.py"), *GPT_TINY, "--out", str(out),
                            *extra], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout
    straight = run("--steps", "800", "--save-every", "400", out=tmp_path / "a")
    found = re.search(r"validation perplexity ([0-9.]+) \(unigram ([0-9.]+)\)", straight)
    assert float(found.group(1)) < 0.5 * float(found.group(2)), straight
    assert (tmp_path / "a" / "transformer_lm.png").read_bytes()[:4] == b"\x89PNG"
    run("--steps", "800", "--save-every", "400", "--stop-at", "400", "--no-plots", out=tmp_path / "b")
    resumed = run("--steps", "800", "--save-every", "400", "--resume", "--no-plots", out=tmp_path / "b")
    assert "resumed from" in resumed and found.group(0) in resumed
    assert straight.split("after training: ")[1].splitlines()[0] == resumed.split("after training: ")[1].splitlines()[0]
