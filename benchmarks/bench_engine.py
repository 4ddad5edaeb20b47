"""Engine overhead: n chained additions of 0-d Variables, forward + backward, in us per op.

Each framework is timed in its own worker process (so neither pays for the other's import in
garbage-collection time), the workers alternating, and the median of their medians reported.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

from common import table, try_import_torch


def minigrad_chain(n):
    import numpy as np

    import minigrad as mg

    def run():
        x0, x1 = mg.Variable(np.array(1.0)), mg.Variable(np.array(2.0))
        y = x0
        for _ in range(n):
            y = y + x1
        y.backward()
    return run


def torch_chain(n):
    import torch
    torch.set_num_threads(1)

    def run():
        x0 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        x1 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        y = x0
        for _ in range(n):
            y = y + x1
        y.backward()
    return run


def worker(framework, n, rounds):
    """Time one framework in this process; print the median seconds per op as JSON."""
    run = (minigrad_chain if framework == "minigrad" else torch_chain)(n)
    run()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) / n)
    print(json.dumps(statistics.median(times)))


def measure(framework, n, rounds):
    out = subprocess.run([sys.executable, __file__, "--worker", framework, "--sizes", str(n),
                          "--rounds", str(rounds)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--rounds", type=int, default=7, help="timed runs per worker")
    parser.add_argument("--repeats", type=int, default=3, help="workers per framework and size")
    parser.add_argument("--worker", choices=["minigrad", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.sizes[0], args.rounds)
    frameworks = ["minigrad"] + (["torch"] if try_import_torch() is not None else [])
    rows = []
    for n in args.sizes:
        rounds = args.rounds if n <= 10000 else 3
        per = {fw: [] for fw in frameworks}
        for _ in range(args.repeats):
            for fw in frameworks:
                per[fw].append(measure(fw, n, rounds))
        us = {fw: statistics.median(ts) * 1e6 for fw, ts in per.items()}
        ratio = f"{us['minigrad'] / us['torch']:.2f}x" if "torch" in us else "n/a (torch not installed)"
        rows.append([f"{n:,}", f"{us['minigrad']:.2f}", f"{us['torch']:.2f}" if "torch" in us else "-",
                     ratio])
    print("Engine: chained additions of 0-d Variables, forward + backward, us per op (median)")
    print(table(rows, ["ops", "minigrad", "torch eager", "minigrad / torch"]))


if __name__ == "__main__":
    main()
