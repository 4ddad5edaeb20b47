"""Fused losses on the GPU against torch on the same GPU: time, bandwidth as a fraction of a copy, peak memory.

float32 logits, 'mean', forward + backward, medians of several rounds after a warm-up, each round ended by a
device synchronisation. Bandwidth counts the bytes a fused forward + backward must move (the logits read
twice, the gradient written once; targets too for sigmoid_bce) against a device-to-device copy of the logits
timed in the same run. Peak memory is what CuPy's memory pool holds after one forward + backward from an empty
pool, against torch.cuda.max_memory_allocated, both beyond the inputs. Without a GPU (the tests run it on a
stand-in) the figures mean nothing, but the script keeps working.
"""
import argparse
import statistics
import time

import numpy as np
from common import table


def shape(text):
    n, c = text.lower().split("x")
    return int(n), int(c)


def timed(fn, sync, rounds, warmup=2):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cases(args):
    return [("softmax_cross_entropy", n, c) for n, c in args.ce] + [("sigmoid_bce", n, c) for n, c in args.bce]


def minigrad_case(cupy, loss, n, c, rounds):
    import minigrad as mg
    import minigrad.functions as F
    rng = np.random.default_rng(0)
    x = cupy.asarray(rng.standard_normal((n, c), dtype=np.float32))
    t = cupy.asarray(rng.integers(0, c, n) if loss == "softmax_cross_entropy" else
                     (rng.random((n, c)) < 0.3).astype(np.float32))
    fn = F.softmax_cross_entropy if loss == "softmax_cross_entropy" else F.sigmoid_bce

    def step():
        xv = mg.Variable(x)
        fn(xv, t).backward()
        return xv.grad

    sync = cupy.cuda.runtime.deviceSynchronize
    seconds = timed(step, sync, rounds)
    out = cupy.empty_like(x)

    def copy():
        out[...] = x
    copy_seconds = timed(copy, sync, rounds)
    moved = 3 * x.nbytes + (x.nbytes if loss == "sigmoid_bce" else 0)
    bandwidth = (moved / seconds) / (2 * x.nbytes / copy_seconds)
    pool = cupy.get_default_memory_pool()
    sync()
    before = pool.used_bytes()
    pool.free_all_blocks()
    step()
    sync()
    peak = pool.total_bytes() - before
    return seconds, bandwidth, peak / x.nbytes


def torch_case(torch, loss, n, c, rounds):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((n, c), dtype=np.float32), device="cuda", requires_grad=True)
    t = torch.tensor(rng.integers(0, c, n) if loss == "softmax_cross_entropy" else
                     (rng.random((n, c)) < 0.3).astype(np.float32), device="cuda")
    fn = (torch.nn.functional.cross_entropy if loss == "softmax_cross_entropy" else
          torch.nn.functional.binary_cross_entropy_with_logits)

    def step():
        x.grad = None
        fn(x, t).backward()

    seconds = timed(step, torch.cuda.synchronize, rounds)
    x.grad = None
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return seconds, (torch.cuda.max_memory_allocated() - base) / (x.numel() * 4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ce", type=shape, nargs="*", default=[(8192, 32000), (8192, 128256)], metavar="NxC")
    parser.add_argument("--bce", type=shape, nargs="*", default=[(8192, 32000)], metavar="NxC")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    import minigrad as mg
    if not mg.gpu_available():
        print(f"no GPU: {mg.backend.gpu_unavailable_reason()}")
        return
    import cupy
    try:
        import torch
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    device = "a CuPy stand-in (figures meaningless)" if cupy.__version__.endswith("standin") else "GPU"
    rows = []
    for loss, n, c in cases(args):
        seconds, bandwidth, memory = minigrad_case(cupy, loss, n, c, args.rounds)
        ref = torch_case(torch, loss, n, c, args.rounds) if torch is not None else None
        rows.append([loss, f"{n}x{c}", f"{seconds * 1e3:.2f}", f"{ref[0] * 1e3:.2f}" if ref else "-",
                     f"{seconds / ref[0]:.2f}x" if ref else "n/a", f"{bandwidth:.2f}", f"{memory:.2f}x",
                     f"{ref[1]:.2f}x" if ref else "-"])
    print(f"Fused losses on {device}, float32, forward + backward (targets: <= 1.0x torch, >= 0.6 of copy "
          f"bandwidth, <= 0.5x torch's memory)")
    print(table(rows, ["loss", "shape", "minigrad ms", "torch ms", "minigrad / torch", "of copy bandwidth",
                       "peak memory / logits", "torch peak / logits"]))


if __name__ == "__main__":
    main()
