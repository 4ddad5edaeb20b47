"""One training step of an MLP 784-1000-1000-10 (relu, batch 100, float32, softmax_cross_entropy, SGD):
minigrad against the same step written by hand in NumPy, each in its own worker processes, alternating."""
import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
from common import median_time, table


def numpy_step(x, t, params, lr):
    """Forward, the fused cross entropy's gradient, backward and SGD update, by hand."""
    inputs, pre = [x], []
    for W, b in params[:-1]:
        pre.append(inputs[-1] @ W + b)
        inputs.append(np.maximum(pre[-1], 0))
    y = inputs[-1] @ params[-1][0] + params[-1][1]
    e = np.exp(y - y.max(axis=1, keepdims=True))
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s)[:, 0] - np.log(e[np.arange(len(t)), t]))
    g = e / s
    g[np.arange(len(t)), t] -= 1
    g /= len(t)
    for i in reversed(range(len(params))):
        W, b = params[i]
        gW, gb = inputs[i].T @ g, g.sum(axis=0)
        if i:
            g = (g @ W.T) * (pre[i - 1] > 0)
        W -= lr * gW
        b -= lr * gb
    return loss


def worker(impl, sizes, batch, rounds):
    """In a fresh process: the median seconds of one training step of one implementation."""
    import minigrad.functions as F
    from minigrad.models import MLP
    from minigrad.optimizers import SGD

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    t = rng.integers(0, sizes[-1], batch)
    np.random.seed(0)
    model = MLP(sizes[1:])
    model(x)  # create the lazily sized weights
    optimizer = SGD(lr=0.01).setup(model)
    params = [(layer.W.data.copy(), layer.b.data.copy()) for layer in model.layers]

    def minigrad_step():
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()

    step = minigrad_step if impl == "minigrad" else lambda: numpy_step(x, t, params, 0.01)
    print(json.dumps(median_time(step, rounds=rounds, warmup=5)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 1000, 1000, 10])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=50, help="timed steps per worker")
    parser.add_argument("--repeats", type=int, default=3, help="workers per implementation")
    parser.add_argument("--worker", choices=["minigrad", "numpy"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.sizes, args.batch, args.rounds)
    runs = {"minigrad": [], "numpy": []}
    for _ in range(args.repeats):
        for impl in runs:
            out = subprocess.run([sys.executable, __file__, "--worker", impl, "--batch", str(args.batch),
                                  "--rounds", str(args.rounds), "--sizes", *map(str, args.sizes)],
                                 check=True, capture_output=True, text=True)
            runs[impl].append(json.loads(out.stdout))
    ms = {impl: statistics.median(ts) * 1e3 for impl, ts in runs.items()}
    name = "-".join(map(str, args.sizes))
    print(f"One training step, MLP {name}, batch {args.batch}, float32 (target: minigrad / numpy <= 1.2x)")
    print(table([[name, f"{ms['minigrad']:.2f}", f"{ms['numpy']:.2f}", f"{ms['minigrad'] / ms['numpy']:.2f}x"]],
                ["MLP", "minigrad ms", "numpy by hand ms", "minigrad / numpy"]))


if __name__ == "__main__":
    main()
