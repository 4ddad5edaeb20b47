"""Training runs for the resume test (docs/training.md#resuming): N steps and a checkpoint, or a fresh process that
loads it and trains M more. Run as `python tests/resume_run.py first|rest DIR [distributed]`; distributed: under
mpiexec, the optimizer a DistributedOptimizer, rank 0 writing the checkpoint and every rank loading it."""
import sys

import numpy as np

import minigrad as mg
import minigrad.functions as F
from minigrad import optimizers as O
from minigrad import schedules as S
from minigrad.data import DataLoader, Spiral
from minigrad.layers import Dropout, Linear
from minigrad.models import Sequential

N, M = 7, 6  # steps before and after the checkpoint; a Spiral epoch is 10 batches of 30, so M crosses an epoch


def _sequential(opt):
    return S.SequentialLR(opt, [S.LinearLR(opt, 0.1, total_iters=3), S.CosineAnnealingLR(opt, 8, 1e-4)], [3])


CASES = {  # name: (optimizer, hooks, scheduler or None)
    "sgd-weightdecay-step": (lambda: O.SGD(0.5), lambda m: [O.WeightDecay(1e-3)], lambda o: S.StepLR(o, 4, 0.5)),
    "momentum-clip-exponential": (lambda: O.MomentumSGD(0.1), lambda m: [O.ClipGrad(0.5)],
                                  lambda o: S.ExponentialLR(o, 0.9)),
    "adagrad-freeze": (lambda: O.AdaGrad(0.1), lambda m: [O.FreezeParam(m.l0)], None),
    "adadelta": (lambda: O.AdaDelta(), lambda m: [], lambda o: S.LinearLR(o, total_iters=5)),
    "adam-clip-weightdecay-sequential": (lambda: O.Adam(0.01), lambda m: [O.ClipGrad(1.0), O.WeightDecay(1e-4)],
                                         _sequential),
    "adamw-cosine": (lambda: O.AdamW(0.01, weight_decay=0.1), lambda m: [], lambda o: S.CosineAnnealingLR(o, 10)),
}


def build(case, seed):
    """Fresh objects for a case: the model's first layer is lazily sized (created by the first batch or by the
    checkpoint), dropout and the loader's shuffling draw from NumPy's global generator."""
    make_opt, make_hooks, make_sched = CASES[case]
    mg.seed(seed)
    model = Sequential(Linear(16), F.relu, Dropout(0.2), Linear(3))
    opt = make_opt().setup(model)
    for hook in make_hooks(model):
        opt.add_hook(hook)
    sched = make_sched(opt) if make_sched else None
    return model, opt, sched, DataLoader(Spiral(), 30, shuffle=True)


def train(model, opt, sched, loader, steps):
    for _ in range(steps):
        try:
            x, t = loader.next()
        except StopIteration:  # the epoch ended; the next call starts the next one
            x, t = loader.next()
        loss = F.softmax_cross_entropy(model(x.astype(np.float32)), t)
        model.cleargrads()
        loss.backward()
        opt.update()
        if sched is not None:
            sched.step()


def first(folder, comm=None):
    for case in CASES:
        model, opt, sched, loader = build(case, 0)
        opt = opt if comm is None else DistributedOptimizer(opt, comm)
        train(model, opt, sched, loader, N)
        save = mg.save_checkpoint if comm is None else comm.save_checkpoint
        save(f"{folder}/{case}", model, opt, sched, loader, step=N, note="after N")


def rest(folder, comm=None):
    for case in CASES:
        model, opt, sched, loader = build(case, 12345)  # other weights and generator state: all must come from the file
        opt = opt if comm is None else DistributedOptimizer(opt, comm)
        extra = mg.load_checkpoint(f"{folder}/{case}", model, opt, sched, loader)
        assert extra == {"step": N, "note": "after N"}, extra
        train(model, opt, sched, loader, M)
        if comm is None or comm.rank == 0:
            model.save_weights(f"{folder}/{case}-final")
            np.save(f"{folder}/{case}-lr.npy", np.array(opt.lr))


if __name__ == "__main__":
    if sys.argv[3:] == ["distributed"]:
        from minigrad.distributed import Communicator, DistributedOptimizer
        comm = Communicator()
    else:
        comm = None
    {"first": first, "rest": rest}[sys.argv[1]](sys.argv[2], comm)
