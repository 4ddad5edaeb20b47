"""linear_cross_entropy forward + backward, float32: minigrad's fused loss against its own composite
softmax_cross_entropy(linear(x, W), t) and torch's linear_cross_entropy (reference and chunked paths), each in
its own worker processes; time, and peak extra memory beyond the inputs and the gradients."""
import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
from common import median_time, peak_rss, table

IMPLS = ["minigrad", "composite", "torch", "torch-chunked"]


def setup(impl, n, d, v):
    """One forward + backward step of impl, and the bytes of its inputs' gradients."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d), dtype=np.float32)
    W = rng.standard_normal((d, v), dtype=np.float32) * np.float32(d ** -0.5)
    t = rng.integers(0, v, n)
    grads = x.nbytes + W.nbytes
    if impl.startswith("torch"):
        import torch
        torch.set_num_threads(2)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(W.T.copy(), requires_grad=True)
        tt = torch.tensor(t)
        options = torch.nn.LinearCrossEntropyOptions() if impl == "torch-chunked" else None

        def step(clear_only=False):
            tx.grad = tw.grad = None
            if clear_only:
                return
            torch.nn.functional.linear_cross_entropy(tx, tw, tt, options=options).backward()
        return step, grads
    import minigrad as mg
    import minigrad.functions as F
    xv, Wv = mg.Variable(x), mg.Variable(W)

    def step(clear_only=False):
        xv.grad = Wv.grad = None
        if clear_only:
            return
        loss = F.linear_cross_entropy(xv, Wv, t) if impl == "minigrad" else \
            F.softmax_cross_entropy(F.linear(xv, Wv), t)
        loss.backward()
    return step, grads


def worker(impl, n, d, v, rounds, measure):
    """In a fresh process: the median seconds of a step, or (measure='memory') the peak resident set growth of
    a step beyond its gradients, in bytes, after one step that loads what the first call loads (numba's compiled
    kernels: about 100 MB of code and compiler that are not the loss's memory)."""
    step, grads = setup(impl, n, d, v)
    if measure == "memory":
        step()
        step(clear_only=True)
        base = peak_rss(reset=True)
        step()
        print(json.dumps(peak_rss() - base - grads))
    else:
        print(json.dumps(median_time(step, rounds=rounds, warmup=1)))


def run(impl, n, d, v, rounds, measure):
    out = subprocess.run([sys.executable, __file__, "--worker", impl, measure, "--sizes", str(n), str(d), str(v),
                          "--rounds", str(rounds)], capture_output=True, text=True)
    if out.returncode:
        return None  # e.g. out of memory at the largest vocabulary
    return json.loads(out.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=3, action="append", metavar=("N", "D", "V"),
                        help="x (N, D), W (D, V); repeatable (default: 4096 512 32000 and 4096 512 128256)")
    parser.add_argument("--rounds", type=int, default=3, help="timed steps per worker")
    parser.add_argument("--repeats", type=int, default=2, help="workers per implementation")
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=IMPLS)
    parser.add_argument("--no-memory", action="store_true", help="time only")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    sizes = a.sizes or [[4096, 512, 32000], [4096, 512, 128256]]
    if a.worker:
        return worker(a.worker[0], *sizes[0], a.rounds, a.worker[1])
    try:
        import torch
        has_torch = hasattr(torch.nn.functional, "linear_cross_entropy")
    except ImportError:
        has_torch = False
    impls = [i for i in a.impls if has_torch or not i.startswith("torch")]
    rows = []
    for n, d, v in sizes:
        times = {impl: [] for impl in impls}
        for _ in range(a.repeats):
            for impl in impls:
                times[impl].append(run(impl, n, d, v, a.rounds, "time"))
        memory = {impl: None if a.no_memory else run(impl, n, d, v, 1, "memory") for impl in impls}
        logits = n * v * 4
        ms = {i: statistics.median(ts) * 1e3 for i, ts in times.items() if None not in ts}
        for impl in impls:
            ratio = f"{ms[impl] / ms['minigrad']:.2f}x" if impl in ms and "minigrad" in ms else "-"
            rows.append([f"{n}x{d}x{v}", impl, f"{ms[impl]:.0f}" if impl in ms else "failed", ratio,
                         "-" if memory[impl] is None else f"{memory[impl] / logits:.3f}x"])
    print("linear_cross_entropy forward + backward, float32 (targets: minigrad <= 1.0x the composite and each torch "
          "path; extra memory <= 0.1x the logits)")
    print(table(rows, ["x @ W", "implementation", "ms", "time / minigrad's", "extra peak RSS / logits"]))


if __name__ == "__main__":
    main()
