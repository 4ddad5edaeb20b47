"""Cache-sized row blocks for the kernels, spread over CPU threads: OpenBLAS's idle workers, else a pool of our own."""
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from minigrad import blas


@functools.lru_cache(maxsize=1)
def pool(workers):
    """A pool of `workers` threads of our own, made once: where OpenBLAS cannot lend its workers."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minigrad")


if hasattr(os, "register_at_fork"):  # a forked child has none of the pool's threads: start a new pool
    os.register_at_fork(after_in_child=pool.cache_clear)


def workers():
    """CPU threads the blocks are spread over (the CPUs this process may run on)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def for_blocks(fn, n, row_size, xp, block):
    """fn(lo, hi) for consecutive row blocks [lo, hi) covering range(n); returns fn's results in order.

    NumPy work is cut into blocks of about `block` elements (rows of row_size), each thread (the
    caller and OpenBLAS's lent workers, else the pool's) taking one contiguous span of blocks, with
    OpenBLAS at one thread when lent (docs/design.md#threads); CuPy work (and small work) is a single
    call. fn must set its own np.errstate: the error state does not pass to other threads.
    """
    rows = max(1, block // max(row_size, 1))
    if xp is not np or n <= rows:
        return [fn(0, n)]
    starts = list(range(0, n, rows))
    k = min(workers(), len(starts))
    spans = [starts[i * len(starts) // k:(i + 1) * len(starts) // k] for i in range(k)]

    def run(span):
        return [fn(lo, min(lo + rows, n)) for lo in span]

    if k == 1:
        return run(spans[0])
    lent = blas.lend_threads(lambda i: run(spans[i]), k)
    if lent is not None:
        return [r for part in lent for r in part]
    others = [pool(k - 1).submit(run, span) for span in spans[1:]]
    first = run(spans[0])  # the calling thread takes the first span itself
    return first + [r for future in others for r in future.result()]
