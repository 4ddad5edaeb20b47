"""Fused losses against torch's CPU kernels, JAX, minigrad's NumPy path and its composite graph: time and peak memory.

float32 logits, default reduction ('mean'), forward + backward. Times are medians over worker
processes of the medians of their rounds; "copy" is one np.copyto of the logits into an existing array, the
floor a pass that reads the logits and writes the gradient cannot beat; "numpy" is minigrad without its CPU
kernels (the path that runs without numba). Peak extra memory is measured in a fresh worker process per case: with
tracemalloc (NumPy's allocations) for minigrad, and as the growth of the peak resident set (Linux
VmHWM, reset after the inputs are made) for both frameworks; each as a multiple of the logits' size.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tracemalloc

import numpy as np
from common import median_time, peak_rss, table, try_import_torch


def shape(text):
    n, c = text.lower().split("x")
    return int(n), int(c)


def inputs(loss, n, c, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c), dtype=np.float32)
    t = rng.integers(0, c, n) if loss == "ce" else (rng.random((n, c)) < 0.3).astype(np.float32)
    return x, t


def minigrad_fns(loss, x, t):
    import minigrad as mg
    import minigrad.functions as F

    def run(fn):
        def step():
            xv = mg.Variable(x)
            fn(xv).backward()
            return xv.grad
        return step

    if loss == "ce":
        return {"fused": run(lambda xv: F.softmax_cross_entropy(xv, t)),
                "composite": run(lambda xv: F.nll_loss(F.log_softmax(xv), t))}
    return {"fused": run(lambda xv: F.sigmoid_bce(xv, t)),
            "composite": run(lambda xv: F.binary_cross_entropy(F.sigmoid(xv), t))}


def torch_fn(torch, loss, x, t):
    xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t)
    fn = torch.nn.functional.cross_entropy if loss == "ce" else torch.nn.functional.binary_cross_entropy_with_logits

    def step():
        xt.grad = None
        fn(xt, tt).backward()
        return xt.grad
    return step


def jax_fn(loss, x, t):
    """jax.jit(jax.value_and_grad(...)) of the loss, on device arrays made once."""
    import jax
    import jax.numpy as jnp

    def ce(z, y):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), y[:, None], axis=1))

    def bce(z, y):
        return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))

    fn = jax.jit(jax.value_and_grad(ce if loss == "ce" else bce))
    xj, tj = jnp.asarray(x), jnp.asarray(t)

    def step():
        value, grad = fn(xj, tj)
        return grad.block_until_ready()
    return step


def copy_fn(x):
    y = np.empty_like(x)
    np.copyto(y, x)
    return lambda: np.copyto(y, x)


def speed_worker(impl, loss, n, c, rounds):
    """In a fresh process: the median seconds of one forward + backward of one implementation."""
    torch = try_import_torch() if impl.startswith("torch") else None
    x, t = inputs(loss, n, c)
    if impl == "numpy":
        import minigrad
        minigrad.Config.cpu_kernels = False
    if torch is not None:
        fn = torch_fn(torch, loss, x, t)
    elif impl == "jax":
        fn = jax_fn(loss, x, t)
    elif impl == "copy":
        fn = copy_fn(x)
    else:
        fn = minigrad_fns(loss, x, t)["composite" if impl == "composite" else "fused"]
    big = x.size >= 1 << 26
    print(json.dumps(median_time(fn, rounds=3 if big else rounds, warmup=1 if big else 2)))


def speed(loss, shapes, rounds, repeats, torch, huge_pages=True, jax=False):
    """Each implementation in its own worker process (torch's idle threads spin for a while after each op
    and would slow whatever runs next), the workers alternating; the median of their medians."""
    impls = ["fused", "numpy", "composite", "copy"] + (["torch"] if torch is not None else [])
    impls += ["torch-thp"] if torch is not None and huge_pages else []
    impls += ["jax"] if jax else []
    rows = []
    for n, c in shapes:
        runs = {impl: [] for impl in impls}
        for _ in range(repeats):
            for impl in impls:
                # torch asks the kernel for huge pages only with THP_MEM_ALLOC_ENABLE=1 (NumPy always does)
                env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1") if impl == "torch-thp" else None
                out = subprocess.run([sys.executable, __file__, "--speed-worker", impl, loss, str(n), str(c),
                                      str(rounds)], check=True, capture_output=True, text=True, env=env)
                runs[impl].append(json.loads(out.stdout))
        ms = {impl: statistics.median(ts) * 1e3 for impl, ts in runs.items()}
        best = min((i for i in ("torch", "torch-thp") if i in ms), key=ms.get) if "torch" in ms else None
        vs_torch = f"{ms['fused'] / ms[best]:.2f}x ({best})" if best else "n/a"
        rows.append([f"{n}x{c}", f"{ms['fused']:.2f}", f"{ms['numpy']:.2f}", f"{ms['copy']:.2f}",
                     f"{ms['torch']:.2f}" if best else "-", f"{ms['torch-thp']:.2f}" if "torch-thp" in ms else "-",
                     f"{ms['jax']:.2f}" if "jax" in ms else "-", f"{ms['composite']:.2f}",
                     f"{ms['fused'] / ms['copy']:.2f}x", vs_torch,
                     f"{ms['fused'] / ms['jax']:.2f}x" if "jax" in ms else "n/a",
                     f"{ms['fused'] / ms['numpy']:.2f}x"])
    return rows


def memory_worker(framework, loss, n, c):
    """In a fresh process: peak extra memory of one forward + backward, as multiples of the logits."""
    torch = try_import_torch() if framework == "torch" else None
    if framework == "minigrad":  # imported before the baseline, like torch, with its kernels loaded
        minigrad_fns(loss, *inputs(loss, 4, 3))["fused"]()
    x, t = inputs(loss, n, c)
    fn = minigrad_fns(loss, x, t)["fused"] if torch is None else torch_fn(torch, loss, x, t)
    base = peak_rss(reset=True)
    tracemalloc.start()
    fn()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = peak_rss() - base
    print(json.dumps({"tracemalloc": traced / x.nbytes if torch is None else None, "rss": rss / x.nbytes}))


def memory(cases, torch):
    rows = []
    for loss, (n, c) in cases:
        got = {}
        for fw in ["minigrad"] + (["torch"] if torch is not None else []):
            out = subprocess.run([sys.executable, __file__, "--memory-worker", fw, loss, str(n), str(c)],
                                 check=True, capture_output=True, text=True)
            got[fw] = json.loads(out.stdout)
        name = "softmax_cross_entropy" if loss == "ce" else "sigmoid_bce"
        rows.append([name, f"{n}x{c}", f"{got['minigrad']['tracemalloc']:.2f}x", f"{got['minigrad']['rss']:.2f}x",
                     f"{got['torch']['rss']:.2f}x" if "torch" in got else "-"])
    return rows


def versions(torch, jax):
    import minigrad
    parts = [f"numpy {np.__version__}"]
    try:
        import numba
        parts.append(f"numba {numba.__version__} (CPU kernels {'on' if minigrad.Config.cpu_kernels else 'off'})")
    except ImportError:
        parts.append("numba not installed (CPU kernels off)")
    parts.append(f"torch {torch.__version__}" if torch is not None else "torch -")
    if jax:
        import jax as j
        parts.append(f"jax {j.__version__}")
    return "versions: " + ", ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ce", type=shape, nargs="*", default=[(8192, 32000), (4096, 1000), (256, 1000)],
                        metavar="NxC")
    parser.add_argument("--bce", type=shape, nargs="*", default=[(2048, 32000)], metavar="NxC")
    parser.add_argument("--memory-ce", type=shape, default=(4096, 32000), metavar="NxC")
    parser.add_argument("--memory-bce", type=shape, default=(2048, 32000), metavar="NxC")
    parser.add_argument("--rounds", type=int, default=7, help="timed runs per worker")
    parser.add_argument("--no-huge-pages", action="store_true", help="run torch only as installed")
    parser.add_argument("--repeats", type=int, default=3, help="workers per implementation and shape")
    parser.add_argument("--memory-worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--speed-worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_worker:
        impl, loss, n, c, rounds = args.speed_worker
        return speed_worker(impl, loss, int(n), int(c), int(rounds))
    if args.memory_worker:
        fw, loss, n, c = args.memory_worker
        return memory_worker(fw, loss, int(n), int(c))
    torch = try_import_torch()
    import importlib.util
    jax = importlib.util.find_spec("jax") is not None
    print(versions(torch, jax))
    if torch is None:
        print("torch is not installed (`make torch`): the torch columns are empty")
    if not jax:
        print("jax is not installed (`make jax`): the JAX column is empty")
    headers = ["shape", "fused ms", "numpy ms", "copy ms", "torch ms", "torch THP ms", "jax ms", "composite ms",
               "fused / copy", "fused / faster torch", "fused / jax", "fused / numpy"]
    print("\nsoftmax_cross_entropy; targets: (8192, 32000) <= 2.5x copy, <= 0.35x torch THP, <= 0.35x JAX; "
          "(4096, 1000) and (256, 1000) <= 0.5x torch, <= 1.0x JAX. composite = nll_loss(log_softmax(x))")
    print(table(speed("ce", args.ce, args.rounds, args.repeats, torch, not args.no_huge_pages, jax), headers))
    print("\nsigmoid_bce; targets: <= 3x copy, <= 0.4x torch THP, <= 0.4x JAX. "
          "composite = binary_cross_entropy(sigmoid(x))")
    print(table(speed("bce", args.bce, args.rounds, args.repeats, torch, not args.no_huge_pages, jax), headers))
    print("\nPeak extra memory of one forward + backward, as a multiple of the logits "
          "(target for softmax_cross_entropy: tracemalloc <= 1.25x)")
    cases = [("ce", args.memory_ce), ("bce", args.memory_bce)]
    print(table(memory(cases, torch), ["loss", "shape", "minigrad tracemalloc", "minigrad RSS", "torch RSS"]))


if __name__ == "__main__":
    main()
