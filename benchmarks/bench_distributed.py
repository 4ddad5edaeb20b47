"""Data-parallel costs over MPI on this machine: allreduce_grads of a ResNet-50-sized parameter set (23.5M float32)
against one MPI.Allreduce of a flat buffer of the same size, and an MLP training step on 1 and 2 processes with one
BLAS thread each (the overhead of the split, not a cluster's speed-up)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

import numpy as np
from common import median_time, table


def resnet50_shapes():
    """The weight shapes of ResNet-50 without its classifier (convolutions, batch norms' scale and shift)."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            for k, (i, o) in enumerate(((cin, width), (width, width), (width, 4 * width))):
                shapes += [(o, i, 3 if k == 1 else 1, 3 if k == 1 else 1), (o,), (o,)]
            if b == 0:
                shapes += [(4 * width, cin, 1, 1), (4 * width,), (4 * width,)]
            cin = 4 * width
    return shapes


def allreduce_worker(rounds, small):
    import minigrad as mg
    from mpi4py import MPI
    from minigrad.distributed import Communicator
    comm = Communicator()
    shapes = resnet50_shapes() if not small else [(3, 4), (5,)]
    rng = np.random.default_rng(comm.rank)
    params = [mg.Parameter(rng.standard_normal(s, dtype=np.float32)) for s in shapes]
    grads = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    flat = np.concatenate([g.ravel() for g in grads])

    def ours():
        for p, g in zip(params, grads):
            p.grad = mg.Variable(g)
        comm.allreduce_grads(params)

    def plain():
        comm.comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)

    def each():  # one Allreduce per tensor, in place: no packing pass, one call's latency per tensor
        for g in grads:
            comm.comm.Allreduce(MPI.IN_PLACE, g, op=MPI.SUM)
    times = {}
    for name, fn in (("plain", plain), ("ours", ours), ("each", each)) * 2:  # alternated: drift hits all alike
        comm.barrier()
        times[name] = min(times.get(name, 1e9), median_time(fn, rounds=rounds, warmup=2))
    if comm.rank == 0:
        print(json.dumps({"n": int(flat.size), "tensors": len(shapes), **times}))


def mlp_worker(rounds, small, distributed):
    import minigrad as mg
    import minigrad.functions as F
    from minigrad.layers import Linear
    from minigrad.models import Sequential
    from minigrad.optimizers import Adam
    batch, width = (8, 16) if small else (512, 1024)
    mg.seed(0)
    model = Sequential(Linear(width, in_size=784), F.relu, Linear(width, in_size=width), F.relu,
                       Linear(10, in_size=width))
    opt = Adam(1e-3).setup(model)
    rank, size = 0, 1
    if distributed:
        from minigrad.distributed import Communicator, DistributedOptimizer
        comm = Communicator()
        rank, size = comm.rank, comm.size
        opt = DistributedOptimizer(opt, comm)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((batch, 784), dtype=np.float32), rng.integers(0, 10, batch)
    lo, hi = rank * batch // size, (rank + 1) * batch // size

    def step():
        loss = F.softmax_cross_entropy(model(x[lo:hi]), t[lo:hi])
        model.cleargrads()
        loss.backward()
        opt.update()
    seconds = median_time(step, rounds=rounds, warmup=2)
    if rank == 0:
        print(json.dumps({"seconds": seconds}))


def launch(n, args, rounds, small):
    """A worker under mpiexec -n n (or alone for n = 0), one BLAS thread per process; rank 0's JSON line."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", *args, "--rounds", str(rounds)] + ["--small"] * small
    if n:
        cmd = [mpiexec(), "-n", str(n)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mpiexec():
    found = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return found if os.path.exists(found) else shutil.which("mpiexec")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="launches per case")
    parser.add_argument("--small", action="store_true", help="tiny sizes (the test of this script)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a.worker:
        if a.worker[0] == "allreduce":
            return allreduce_worker(a.rounds, a.small)
        return mlp_worker(a.rounds, a.small, a.worker[1] == "distributed")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        print("mpi4py is not installed (pip install 'minigrad[mpi]'): nothing to measure")
        return
    if mpiexec() is None:
        print("no mpiexec on this machine (pip install 'minigrad[mpi]' brings mpich's): nothing to measure")
        return
    reduce = [launch(2, ["allreduce"], a.rounds, a.small) for _ in range(a.repeats)]
    ours, plain, each = (statistics.median(r[k] for r in reduce) * 1e3 for k in ("ours", "plain", "each"))
    one = statistics.median(launch(0, ["mlp", "single"], a.rounds, a.small)["seconds"] for _ in range(a.repeats))
    two = statistics.median(launch(2, ["mlp", "distributed"], a.rounds, a.small)["seconds"]
                            for _ in range(a.repeats))
    r = reduce[0]
    rows = [[f"allreduce_grads, {r['tensors']} float32 tensors, {r['n'] / 1e6:.1f}M values, 2 ranks", f"{ours:.1f}",
             f"{ours / plain:.2f}x one flat MPI.Allreduce ({plain:.1f} ms)"],
            ["the same tensors, one MPI.Allreduce each (for comparison)", f"{each:.1f}", f"{each / plain:.2f}x"],
            ["MLP step (784-1024-1024-10, batch 512, Adam), 1 process", f"{one * 1e3:.1f}", ""],
            ["the same, batch split over 2 ranks (mpiexec -n 2)", f"{two * 1e3:.1f}",
             f"{one / two:.2f}x the speed of 1 process"]]
    print(table(rows, ["case (one BLAS thread per process)", "ms", "ratio"]))


if __name__ == "__main__":
    main()
