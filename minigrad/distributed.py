"""Data-parallel training over MPI (mpi4py): one communicator, gradients averaged through one buffer per dtype."""
import functools
import os
import sys
import time
import traceback

import numpy as np

from minigrad import resume
from minigrad.backend import as_numpy, get_array_module, is_cupy_array
from minigrad.core import Variable
from minigrad.data import Dataset


ABORT_DELAY = 0.2  # seconds between printing a rank's traceback and aborting every rank
BUCKET = 1 << 20  # values per Allreduce of the gradients, each bucket packed and reduced while in cache: 0.95-1.0x
# the time of one Allreduce of all of them unpacked, here (benchmarks/bench_distributed.py); 1.4x as one bucket


@functools.lru_cache(maxsize=1)
def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("minigrad.distributed needs mpi4py and an MPI: pip install 'minigrad[mpi]' (mpi4py with "
                          "the mpich wheel, which brings mpiexec), then run the script under mpiexec") from e
    return MPI


def _abort_on_exception(comm):
    """An uncaught exception on one rank prints its traceback and aborts every rank (MPI_Abort): the others
    would otherwise wait forever in their next collective call."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        sys.stderr.write(f"minigrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()} raised "
                         f"{kind.__name__}; aborting every rank\n")
        sys.stderr.flush()
        if comm.Get_size() > 1:
            time.sleep(ABORT_DELAY)  # mpiexec forwards the ranks' output on its own: give it the traceback first
            comm.Abort(1)
        previous(kind, value, tb)
    sys.excepthook = hook


class Communicator:
    """The processes of one training run (mpi4py's COMM_WORLD unless `comm` is given): rank, size, barrier, and the
    data-parallel collectives. abort_on_error: an uncaught exception on any rank aborts all of them."""

    def __init__(self, comm=None, abort_on_error=True):
        self.comm = _mpi().COMM_WORLD if comm is None else comm
        self._buffers = {}  # (dtype, size, module) -> the last flat gradient buffer, reused once nothing views it
        if abort_on_error:
            _abort_on_exception(self.comm)

    @property
    def rank(self):
        return self.comm.Get_rank()

    @property
    def size(self):
        return self.comm.Get_size()

    def barrier(self):
        self.comm.Barrier()

    def _params(self, target, what):
        """[(name, Parameter)] of a Layer, an optimizer's target or a list of Parameters, in a fixed order, the
        same on every rank (checked: a mismatch raises on every rank, before any data moves)."""
        target = getattr(target, "target", target)  # an optimizer: its model
        named = list(target.named_params()) if hasattr(target, "named_params") else \
            [(str(i), p) for i, p in enumerate(target)]
        lazy = [n for n, p in named if p.data is None]
        if lazy:
            raise ValueError(f"{what}: parameters {lazy[:4]} have no array yet (sized by the first forward pass): "
                             f"run one forward pass on every rank first")
        layout = [(n, p.shape, str(p.dtype)) for n, p in named]
        layouts = self.comm.allgather(layout)  # every rank sees every mismatch, so every rank raises
        for r, other in enumerate(layouts):
            if other != layouts[0]:
                diff = next((a, b) for a, b in zip(other + [None] * len(layout), layouts[0] + [None] * len(other))
                            if a != b)
                raise ValueError(f"{what}: rank {r}'s parameters differ from rank 0's: {diff[0]} there, {diff[1]} "
                                 f"on rank 0")
        return named

    def bcast_params(self, model, root=0):
        """Every rank's Parameters become rank root's (in place): one buffer per dtype, sent in buckets of BUCKET
        values as allreduce_grads sends the gradients."""
        params = [p for _, p in self._params(model, "bcast_params")]
        for group in _by_dtype(params):
            flat = _buffer(group)
            for lo, hi in _pack(group, flat, 1, False, BUCKET):
                self._collective(flat[lo:hi], lambda buf: self.comm.Bcast(buf, root=root))
            for p, view in zip(group, _views(flat, group)):
                p.data[...] = view

    def allreduce_grads(self, target):
        """Each Parameter's gradient becomes the mean of the ranks' gradients: the gradients of one dtype are
        packed into one buffer (scaled by 1 / size on the way), summed by in-place Allreduces of BUCKET values
        each, every bucket reduced as soon as it is packed (while it is in cache), and handed back as views of
        the buffer. A Parameter without a gradient on some ranks counts as zeros there; one without a gradient
        on every rank keeps none."""
        named = self._params(target, "allreduce_grads")
        has = np.array([p.grad is not None for _, p in named], dtype=np.int8)
        self.comm.Allreduce(_mpi().IN_PLACE, has, op=_mpi().MAX)
        params = [p for (_, p), h in zip(named, has) if h]
        for group in _by_dtype(params):
            flat = _buffer(group, self._buffers)
            for lo, hi in _pack(group, flat, 1 / self.size, True, BUCKET):
                self._collective(flat[lo:hi], lambda buf: self.comm.Allreduce(_mpi().IN_PLACE, buf, op=_mpi().SUM))
            for p, view in zip(group, _views(flat, group)):
                p.grad = Variable(view)

    def _collective(self, flat, op):
        """op(buffer) on a NumPy buffer, or on a CuPy one where the MPI is CUDA-aware; else staged via the host."""
        if not is_cupy_array(flat) or cuda_aware():
            if is_cupy_array(flat):
                get_array_module(flat).cuda.get_current_stream().synchronize()
            op(flat)
            return
        host = as_numpy(flat)
        op(host)
        flat[...] = get_array_module(flat).asarray(host)

    def average(self, value):
        """The mean over ranks of a number or an array (a Variable's data), for logging: a float for a number."""
        data = value.data if isinstance(value, Variable) else value
        a = np.array(as_numpy(data), dtype=np.float64)
        self.comm.Allreduce(_mpi().IN_PLACE, a, op=_mpi().SUM)
        a /= self.size
        return float(a) if a.ndim == 0 else a

    def save_checkpoint(self, path, *args, **kwargs):
        """mg.save_checkpoint on rank 0 alone, then a barrier: every rank may load it once this returns."""
        out = resume.save_checkpoint(path, *args, **kwargs) if self.rank == 0 else None
        self.barrier()
        return self.comm.bcast(out, root=0)


@functools.lru_cache(maxsize=1)
def cuda_aware():
    """True where CuPy arrays go to MPI as device buffers: MPI reports CUDA support (MPIX_Query_cuda_support, via
    mpi4py) or MINIGRAD_MPI_CUDA_AWARE=1; else (and with MINIGRAD_MPI_CUDA_AWARE=0) they are staged via the host."""
    env = os.environ.get("MINIGRAD_MPI_CUDA_AWARE")
    if env is not None:
        return env == "1"
    query = getattr(_mpi(), "Query_cuda_support", None)
    return bool(query()) if query is not None else False


def _by_dtype(params):
    groups = {}
    for p in params:
        groups.setdefault((p.dtype, get_array_module(p.data)), []).append(p)
    return list(groups.values())


def _buffer(group, into=None):
    """A flat buffer for the group's values. into: a dict of earlier buffers by (dtype, size, module), one of which
    is reused when no array views it any more (a fresh buffer costs a page fault per 4 KiB written)."""
    xp = get_array_module(group[0].data)
    key = (group[0].dtype, sum(p.size for p in group), xp.__name__)
    flat = None if into is None else into.get(key)
    # references to an unused buffer: the dict's, this name's and getrefcount's argument; a view adds one
    if flat is None or sys.getrefcount(flat) > 3:
        flat = xp.empty(key[1], dtype=key[0])
        if into is not None:
            into[key] = flat
    return flat


def _pack(group, flat, scale, grads, bucket):
    """Fill flat with the group's arrays (or gradients, zeros where one has none) times scale, in order; yields
    (lo, hi) each time flat[lo:hi], a bucket of `bucket` values (the last one shorter), is filled."""
    xp = get_array_module(flat)
    lo = pos = 0
    for p in group:
        src = (p.grad.data if p.grad is not None else None) if grads else p.data
        src = None if src is None else xp.ascontiguousarray(src).reshape(-1)
        i = 0
        while i < p.size:
            take = min(p.size - i, lo + bucket - pos)
            dst = flat[pos:pos + take]
            if src is None:
                dst[...] = 0
            elif scale == 1:
                dst[...] = src[i:i + take]
            else:
                xp.multiply(src[i:i + take], flat.dtype.type(scale), out=dst)
            pos, i = pos + take, i + take
            if pos == lo + bucket:
                yield lo, pos
                lo = pos
    if pos > lo:
        yield lo, pos


def _views(flat, group):
    out, start = [], 0
    for p in group:
        out.append(flat[start:start + p.size].reshape(p.shape))
        start += p.size
    return out


class DistributedOptimizer:
    """optimizer with every rank's gradients averaged before each update: hooks (ClipGrad, WeightDecay) then see
    the averaged gradient, so every rank makes the same update. Everything else (lr, state_dict, hooks,
    schedules) is the wrapped optimizer's."""

    def __init__(self, optimizer, comm):
        object.__setattr__(self, "optimizer", optimizer)
        object.__setattr__(self, "comm", comm)

    def update(self):
        self.comm.allreduce_grads(self.optimizer.target)
        self.optimizer.update()

    def setup(self, target):
        self.optimizer.setup(target)
        return self

    def add_hook(self, hook):
        self.optimizer.add_hook(hook)
        return self

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def __setattr__(self, name, value):  # a schedule setting lr sets the wrapped optimizer's
        setattr(self.optimizer, name, value)


class Shard(Dataset):
    """This rank's share of a dataset: items order[rank], order[rank + size], ... of an order that is the same on
    every rank (arange, or a permutation drawn from (seed, epoch)), padded by repeating its start to a multiple of
    size so that every rank has len(dataset) / size items, rounded up (torch's DistributedSampler). Batches of b
    consecutive items on each rank then make, together, the batch of size * b consecutive items of the order."""

    def __init__(self, dataset, rank, size, shuffle=False, seed=0):
        self.base, self.rank, self.size, self.shuffle, self.seed = dataset, rank, size, shuffle, seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """The order of epoch `epoch` (a new permutation per epoch when shuffling, the same on every rank)."""
        n = len(self.base)
        order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        total = -(-n // self.size) * self.size
        self.order = np.resize(order, total) if n else order
        self.indices = self.order[self.rank::self.size]
        self.epoch = epoch
        # the shard's own arrays where the dataset has plain ones, so that DataLoader slices them; else item by item
        base = self.base
        plain = getattr(base, "transform", None) is None and getattr(base, "target_transform", None) is None
        arrays = plain and getattr(base, "data", None) is not None and getattr(base, "label", None) is not None
        self.data, self.label = (base.data[self.indices], base.label[self.indices]) if arrays else (None, None)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.base[int(self.indices[index])]


def scatter_dataset(dataset, comm, shuffle=False, seed=0):
    """This rank's Shard of dataset (every rank builds the same dataset; no data is sent). Call
    shard.set_epoch(e) at the start of each epoch for a new shuffled order, as with torch's DistributedSampler."""
    return Shard(dataset, comm.rank, comm.size, shuffle, seed)
