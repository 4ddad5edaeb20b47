"""Small batches, where the cost of a call is overhead: the fused losses at small shapes and one training step of
the spiral MLP, minigrad against its composite graphs, torch (1 thread) and DeZero (when installed), each
implementation in its own worker processes, alternating; medians of loops of many calls."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import table

CE_SHAPES = [(32, 10), (256, 10), (256, 1000)]
BCE_SHAPES = [(32, 5)]
# "numpy": minigrad without its CPU kernels (Config.cpu_kernels off), the path that runs without numba
IMPLS = {"loss": ["minigrad", "numpy", "composite", "torch"], "step": ["minigrad", "numpy", "torch", "dezero"]}


def per_call(fn, calls, rounds):
    """Median over rounds of the mean seconds per call of `calls` back-to-back calls, after a warm-up round."""
    for _ in range(calls):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def loss_steps(impl):
    """name -> forward + backward step, for every loss case."""
    rng = np.random.default_rng(0)
    steps = {}
    for loss, shapes in (("ce", CE_SHAPES), ("bce", BCE_SHAPES)):
        for n, c in shapes:
            x = rng.standard_normal((n, c), dtype=np.float32)
            t = rng.integers(0, c, n) if loss == "ce" else (rng.random((n, c)) < 0.3).astype(np.float32)
            steps[f"{loss} {n}x{c}"] = make_loss_step(impl, loss, x, t)
    return steps


def make_loss_step(impl, loss, x, t):
    if impl == "torch":
        import torch
        tf = torch.nn.functional
        xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t)
        fn = tf.cross_entropy if loss == "ce" else tf.binary_cross_entropy_with_logits

        def step():
            xt.grad = None
            fn(xt, tt).backward()
        return step
    import minigrad as mg
    import minigrad.functions as F
    xv = mg.Variable(x)
    if impl in ("minigrad", "numpy"):  # the fused losses
        fn = F.softmax_cross_entropy if loss == "ce" else F.sigmoid_bce
    else:
        fn = (lambda a, b: F.nll_loss(F.log_softmax(a), b)) if loss == "ce" else \
            (lambda a, b: F.binary_cross_entropy(F.sigmoid(a), b))

    def step():
        xv.grad = None
        fn(xv, t).backward()
    return step


def spiral_step(impl):
    """One SGD step (lr 1.0) of DeZero's spiral MLP: 2 -> 30 (sigmoid) -> 3, batch 30, softmax cross entropy."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 2)).astype(np.float32)
    t = rng.integers(0, 3, 30)
    if impl == "torch":
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(2, 30), torch.nn.Sigmoid(), torch.nn.Linear(30, 3))
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)

        def step():
            loss = torch.nn.functional.cross_entropy(model(xt), tt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    if impl == "dezero":
        import dezero
        import dezero.functions as DF
        model = dezero.models.MLP((30, 3))
        opt = dezero.optimizers.SGD(1.0).setup(model)
    else:
        import minigrad.functions as DF
        from minigrad.models import MLP
        from minigrad.optimizers import SGD
        model = MLP([30, 3], activation=DF.sigmoid)
        opt = SGD(1.0).setup(model)

    def step():
        loss = DF.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        opt.update()
    return step


def worker(impl, calls, rounds):
    """In a fresh process: seconds per call of every case this implementation runs."""
    if impl == "torch":
        import torch
        torch.set_num_threads(1)
    if impl == "numpy":
        import minigrad
        minigrad.Config.cpu_kernels = False
    steps = loss_steps(impl) if impl in IMPLS["loss"] else {}
    if impl in IMPLS["step"]:
        steps["spiral step"] = spiral_step(impl)
    print(json.dumps({name: per_call(fn, calls, rounds) for name, fn in steps.items()}))


def available(impl):
    """minigrad's implementations always; torch and DeZero when importable (DeZero from --dezero DIR, a checkout
    of its repository: the PyPI release predates NumPy 1.24)."""
    import importlib.util
    return impl not in ("torch", "dezero") or importlib.util.find_spec(impl) is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per timed round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3, help="workers per implementation")
    parser.add_argument("--dezero", metavar="DIR", help="a checkout of DeZero's repository, to time its step too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a.dezero:
        sys.path.insert(0, a.dezero)
        os.environ["PYTHONPATH"] = os.pathsep.join([a.dezero, os.environ.get("PYTHONPATH", "")])
    if a.worker:
        return worker(a.worker, a.calls, a.rounds)
    impls = [i for i in ("minigrad", "numpy", "composite", "torch", "dezero") if available(i)]
    runs = {impl: [] for impl in impls}
    for _ in range(a.repeats):
        for impl in list(runs):
            out = subprocess.run([sys.executable, __file__, "--worker", impl, "--calls", str(a.calls), "--rounds",
                                  str(a.rounds)], capture_output=True, text=True)
            if out.returncode and impl in ("torch", "dezero"):  # optional: say why and go on without it
                print(f"{impl} failed, left out: {out.stderr.strip().splitlines()[-1]}")
                del runs[impl]
                continue
            out.check_returncode()
            runs[impl].append(json.loads(out.stdout))
    for kind in ("loss", "step"):
        kinds = [i for i in IMPLS[kind] if i in runs]
        names = [n for n in runs["minigrad"][0] if (n == "spiral step") == (kind == "step")]
        us = {i: {n: statistics.median(r[n] for r in runs[i]) * 1e6 for n in names} for i in kinds}
        rows = [[n] + [f"{us[i][n]:.1f}" for i in kinds] + [f"{us['minigrad'][n] / us[i][n]:.2f}x" for i in kinds[1:]]
                for n in names]
        print("Fused losses, forward + backward, float32 ('mean'); targets: minigrad / torch (1 thread) <= 0.4x at "
              "32x10 and 32x5, <= 0.5x at 256x1000, faster than the composite; numpy = without the CPU kernels"
              if kind == "loss" else
              "One training step of the spiral MLP; targets: minigrad / torch <= 0.7x, faster than DeZero")
        print(table(rows, ["case"] + [f"{i} us" for i in kinds] + [f"minigrad / {i}" for i in kinds[1:]]))
        print()


if __name__ == "__main__":
    main()
