"""Runs for the distributed tests (docs/distributed.md), one per process of an mpiexec:
`mpiexec -n K python tests/distributed_run.py CASE DIR` (CASE: sgd, adam, adam-buckets (small buckets), gpu (sgd on CuPy arrays), bcast, raise,
mismatch), or `single DIR OPTIMIZER` alone for the one-process reference on the whole batch."""
import sys

import numpy as np

import minigrad as mg
import minigrad.functions as F
from minigrad import optimizers as O
from minigrad.layers import Linear
from minigrad.models import Sequential

STEPS, BATCH = 5, 12  # the global batch, split evenly over 1, 2 or 3 ranks
OPTIMIZERS = {"sgd": lambda: O.SGD(0.3), "adam": lambda: O.Adam(0.05)}


def batches():
    """The same global batches on every rank: 12 points of 4 features, 3 classes."""
    rng = np.random.default_rng(7)
    for _ in range(STEPS):
        yield rng.standard_normal((BATCH, 4)), rng.integers(0, 3, BATCH)


def train(case, rank, size, comm=None, gpu=False):
    """STEPS updates of a float64 MLP; rank takes rows [rank * B / size, (rank + 1) * B / size) of each batch."""
    mg.seed(0)
    model = Sequential(Linear(8, in_size=4, dtype=np.float64), F.tanh, Linear(3, in_size=8, dtype=np.float64))
    if gpu:
        model.to_gpu()
    opt = OPTIMIZERS[case]().setup(model).add_hook(O.ClipGrad(0.5)).add_hook(O.WeightDecay(1e-2))
    if comm is not None:
        from minigrad.distributed import DistributedOptimizer
        opt = DistributedOptimizer(opt, comm)
    lo, hi = rank * BATCH // size, (rank + 1) * BATCH // size
    for x, t in batches():
        x, t = (mg.as_cupy(a[lo:hi]) if gpu else a[lo:hi] for a in (x, t))
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        opt.update()
    return model


def main(case, folder):
    if case == "single":
        model = train(sys.argv[3], 0, 1)
        model.save_weights(f"{folder}/single")
        return
    from minigrad.distributed import Communicator
    comm = Communicator()
    if case == "bcast":  # each rank starts from its own weights; after bcast_params all hold rank 0's
        mg.seed(100 + comm.rank)
        model = Sequential(Linear(5), F.relu, Linear(2))
        model(np.zeros((1, 3), np.float32))  # size the lazy layers
        import minigrad.distributed
        minigrad.distributed.BUCKET = 7  # buckets of 7 values: the weights straddle them
        comm.bcast_params(model)
        model.save_weights(f"{folder}/bcast-{comm.rank}")
        np.save(f"{folder}/average-{comm.rank}.npy", [comm.average(comm.rank), *comm.average(np.arange(2.0) * comm.rank)])
        return
    if case == "mismatch":  # rank 1 builds a wider model: every rank must say so, before any data moves
        model = Sequential(Linear(5 + comm.rank, in_size=3))
        comm.bcast_params(model)
        return
    if case == "raise":  # rank 1 fails between two collectives; the others must not wait for it forever
        if comm.rank == 1:
            raise RuntimeError("planted failure on rank 1")
        comm.barrier()
        return
    gpu = case == "gpu"
    if case.endswith("-buckets"):  # buckets of 7 values: most parameters split between two or more
        import minigrad.distributed
        minigrad.distributed.BUCKET = 7
    model = train("sgd" if gpu else case.split("-")[0], comm.rank, comm.size, comm, gpu)
    model.save_weights(f"{folder}/{case}-{comm.size}-{comm.rank}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
