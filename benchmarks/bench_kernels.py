"""The transcendental ops on the CPU kernels against the NumPy path of the same ops: forward + backward of
softmax, log_softmax, sigmoid, tanh and exp on 2^22 float32 elements, each side in its own worker processes,
alternating; medians of medians. Also the cold and warm start: `import minigrad`, and a first loss call with an
empty kernel cache and with a filled one."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
from common import median_time, table

OPS = ["softmax", "log_softmax", "sigmoid", "tanh", "exp"]


def worker(impl, size, rounds):
    import minigrad as mg
    import minigrad.functions as F
    mg.Config.cpu_kernels = impl == "kernels"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size // 1024, 1024), dtype=np.float32)
    gy = rng.standard_normal(x.shape, dtype=np.float32)
    out = {}
    for op in OPS:
        fn = getattr(F, op)

        def step():
            xv = mg.Variable(x)
            fn(xv).backward(gy)
            return xv.grad
        out[op] = median_time(step, rounds=rounds, warmup=2)
    print(json.dumps(out))


def start_times():
    """Seconds for `import minigrad`, and for a first cross entropy + BCE call (numba imported and the kernels
    compiled into an empty cache, or loaded from a filled one), each in a fresh interpreter."""
    code = ("import time; t0 = time.perf_counter(); import numpy as np, minigrad as mg, minigrad.functions as F; "
            "t1 = time.perf_counter(); x = mg.Variable(np.ones((4, 3), np.float32)); "
            "(F.softmax_cross_entropy(x, np.array([0, 1, 2, 0])) + F.sigmoid_bce(x, np.ones((4, 3), np.float32)))"
            ".backward(); print(t1 - t0, time.perf_counter() - t1)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
                for _ in range(3)]
    (imp0, cold), warm = map(float, runs[0].stdout.split()), [list(map(float, r.stdout.split())) for r in runs[1:]]
    return [["import minigrad", f"{min(w[0] for w in warm):.3f}"],
            ["first loss call, empty kernel cache", f"{cold:.2f}"],
            ["first loss call, filled cache", f"{min(w[1] for w in warm):.3f}"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1 << 22, help="elements (a multiple of 1024)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="workers per side")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a.worker:
        return worker(a.worker, a.size, a.rounds)
    try:
        import numba  # noqa: F401
    except ImportError:
        print("numba is not installed (pip install minigrad[fast]): nothing to compare")
        return
    runs = {"kernels": [], "numpy": []}
    for _ in range(a.repeats):
        for impl in runs:
            out = subprocess.run([sys.executable, __file__, "--worker", impl, "--size", str(a.size), "--rounds",
                                  str(a.rounds)], capture_output=True, text=True, check=True)
            runs[impl].append(json.loads(out.stdout))
    ms = {impl: {op: statistics.median(r[op] for r in rs) * 1e3 for op in OPS} for impl, rs in runs.items()}
    print(f"float32 ops on {a.size} elements, forward + backward (target: kernels / numpy <= 0.5x)")
    rows = [[op, f"{ms['kernels'][op]:.2f}", f"{ms['numpy'][op]:.2f}", f"{ms['kernels'][op] / ms['numpy'][op]:.2f}x"]
            for op in OPS]
    print(table(rows, ["op", "kernels ms", "numpy ms", "kernels / numpy"]))
    print("\nStart-up, seconds (targets: import < 0.3 s)")
    print(table(start_times(), ["what", "seconds"]))


if __name__ == "__main__":
    main()
