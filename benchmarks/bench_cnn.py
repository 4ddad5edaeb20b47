"""Forward + backward of conv2d, max_pooling, batch_norm and one LSTM step, float32: minigrad against torch's CPU
kernels and DeZero's im2col convolution, each side in its own worker processes, alternating."""
import argparse
import json
import statistics
import subprocess
import sys
import tracemalloc

import numpy as np
from common import median_time, table


def dezero_im2col(img, k, s, p):
    """DeZero's im2col (functions_conv.py): a (N, C, KH, KW, OH, OW) array filled one kernel offset at a time."""
    n, c, h, w = img.shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    img = np.pad(img, ((0, 0), (0, 0), (p, p + s - 1), (p, p + s - 1)), mode="constant", constant_values=(0,))
    col = np.ndarray((n, c, k, k, oh, ow), dtype=img.dtype)
    for j in range(k):
        for i in range(k):
            col[:, :, j, i, :, :] = img[:, :, j:j + s * oh:s, i:i + s * ow:s]
    return col


def dezero_col2im(col, shape, k, s, p):
    n, c, h, w = shape
    oh, ow = col.shape[4:]
    img = np.zeros((n, c, h + 2 * p + s - 1, w + 2 * p + s - 1), dtype=col.dtype)
    for j in range(k):
        for i in range(k):
            img[:, :, j:j + s * oh:s, i:i + s * ow:s] += col[:, :, j, i, :, :]
    return img[:, :, p:h + p, p:w + p]


def dezero_conv_step(x, W, b, gy, s, p):
    """DeZero's Conv2d forward and its backward (Deconv2d for gx, Conv2DGradW for gW), on arrays."""
    k = W.shape[2]
    col = dezero_im2col(x, k, s, p)
    y = np.rollaxis(np.tensordot(col, W, ((1, 2, 3), (1, 2, 3))) + b, 3, 1)
    gcol = np.rollaxis(np.tensordot(W, gy, (0, 1)), 3)
    gx = dezero_col2im(gcol, x.shape, k, s, p)
    gW = np.tensordot(gy, dezero_im2col(x, k, s, p), ((0, 2, 3), (0, 4, 5)))
    return y, gx, gW, gy.sum(axis=(0, 2, 3))


def setup(case, impl, a):
    """The step to time for one case and implementation, on inputs drawn from one seed."""
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    n, c, h = a.batch, a.channels, a.size
    x, W, b, gamma, beta = f32(n, c, h, h), f32(c, c, 3, 3) * 0.05, f32(c), f32(c), f32(c)
    hidden = a.hidden
    xs, hs, cs = f32(n, hidden), f32(n, hidden), f32(n, hidden)
    Wx, Wh, bias = f32(hidden, 4 * hidden) * 0.05, f32(hidden, 4 * hidden) * 0.05, f32(4 * hidden)
    if impl == "torch":
        import torch
        torch.set_num_threads(2)
        tf = torch.nn.functional
        T = lambda v: torch.tensor(v, requires_grad=True)  # noqa: E731
        if case == "lstm":
            cell = torch.nn.LSTMCell(hidden, hidden)
            xt, ht, ct = T(xs), T(hs), T(cs)

            def step():  # a training step's backward: gradients cleared (set to None) before it
                cell.zero_grad()
                xt.grad = ht.grad = ct.grad = None
                cell(xt, (ht, ct))[0].sum().backward()
            return step
        xt, Wt, bt, gt, bet = map(T, (x, W, b, gamma, beta))
        rm, rv = torch.zeros(c), torch.ones(c)
        forward = {"conv2d": lambda: tf.conv2d(xt, Wt, bt, padding=1),
                   "max_pooling": lambda: tf.max_pool2d(xt, 2, 2),
                   "batch_norm": lambda: tf.batch_norm(xt, rm, rv, gt, bet, training=True)}[case]
        return lambda: forward().sum().backward()
    if impl == "dezero":
        gy = np.ones((n, c, h, h), dtype=np.float32)
        return lambda: dezero_conv_step(x, W, b, gy, 1, 1)
    import minigrad as mg
    import minigrad.functions as F
    from minigrad.layers import LSTM
    V = mg.Variable
    if case == "lstm":
        lstm = LSTM(hidden, in_size=hidden)
        lstm.x2g.W.data, lstm.x2g.b.data, lstm.h2g.W.data = Wx, bias, Wh
        xv, hv, cv = V(xs), V(hs), V(cs)

        def step():
            lstm.cleargrads()
            for v in (xv, hv, cv):
                v.cleargrad()
            lstm.h, lstm.c = hv, cv
            F.sum(lstm(xv)).backward()
        return step
    xv, Wv, bv, gv, bev = map(V, (x, W, b, gamma, beta))
    rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
    forward = {"conv2d": lambda: F.conv2d(xv, Wv, bv, pad=1),
               "max_pooling": lambda: F.max_pooling(xv, 2, 2),
               "batch_norm": lambda: F.batch_norm(xv, gv, bev, rm, rv)}[case]
    return lambda: F.sum(forward()).backward()


def worker(impl, a):
    """In a fresh process: for each case this implementation runs, the median seconds of one step and the peak
    traced memory (bytes) of one more step."""
    results = {}
    for case in a.cases:
        if impl not in CASES[case]:
            continue
        step = setup(case, impl, a)
        seconds = median_time(step, rounds=a.rounds, warmup=2)
        tracemalloc.start()
        step()
        results[case] = [seconds, tracemalloc.get_traced_memory()[1]]
        tracemalloc.stop()
    print(json.dumps(results))


CASES = {"conv2d": ["minigrad", "torch", "dezero"], "max_pooling": ["minigrad", "torch"],
         "batch_norm": ["minigrad", "torch"], "lstm": ["minigrad", "torch"]}
TARGETS = {"conv2d": 1.5, "max_pooling": 1.5, "batch_norm": 1.5, "lstm": 1.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="height and width of the activations")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (and input size)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per worker")
    parser.add_argument("--repeats", type=int, default=3, help="workers per implementation")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a.worker:
        return worker(a.worker, a)
    try:
        import torch  # noqa: F401
        has_torch = True
    except ImportError:
        has_torch = False
    common = ["--batch", str(a.batch), "--channels", str(a.channels), "--size", str(a.size), "--hidden",
              str(a.hidden), "--rounds", str(a.rounds), "--cases", *a.cases]
    impls = [i for i in ("minigrad", "torch", "dezero") if (has_torch or i != "torch")
             and any(i in CASES[case] for case in a.cases)]
    runs = {impl: [] for impl in impls}
    for _ in range(a.repeats):
        for impl in impls:
            out = subprocess.run([sys.executable, __file__, "--worker", impl, *common], check=True,
                                 capture_output=True, text=True)
            runs[impl].append(json.loads(out.stdout))
    rows = []
    for case in a.cases:
        ms = {impl: statistics.median(r[case][0] for r in rs) * 1e3 for impl, rs in runs.items() if case in rs[0]}
        peak = max(r[case][1] for r in runs["minigrad"]) / 2 ** 20
        vs_torch = f"{ms['minigrad'] / ms['torch']:.2f}x (<= {TARGETS[case]}x)" if "torch" in ms else "-"
        vs_dezero = f"{ms['minigrad'] / ms['dezero']:.2f}x (<= 0.5x)" if "dezero" in ms else "-"
        rows.append([case, f"{ms['minigrad']:.2f}", f"{ms['torch']:.2f}" if "torch" in ms else "-",
                     f"{ms['dezero']:.2f}" if "dezero" in ms else "-", vs_torch, vs_dezero, f"{peak:.1f}"])
    print(f"Forward + backward, float32: activations ({a.batch}, {a.channels}, {a.size}, {a.size}), conv 3x3 pad 1, "
          f"max pooling 2x2 stride 2, LSTM step batch {a.batch} hidden {a.hidden}")
    print(table(rows, ["case", "minigrad ms", "torch ms", "dezero ms", "minigrad / torch", "minigrad / dezero",
                       "minigrad peak MiB (tracemalloc)"]))
    if "conv2d" in a.cases:
        k = a.channels * 9 * a.batch * a.size * a.size * 4
        print(f"conv2d's im2col buffer: {k / 2 ** 20:.1f} MiB (C*KH*KW x N*OH*OW float32), in a per-thread workspace "
              f"reused from call to call (so not in the traced peak after warm-up); the activations are "
              f"{a.batch * a.channels * a.size * a.size * 4 / 2 ** 20:.1f} MiB")


if __name__ == "__main__":
    main()
