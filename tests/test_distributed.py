"""Data-parallel training over MPI (docs/distributed.md): under mpiexec -n 2 and -n 3 the split batch gives the
weights of one process on the whole batch; bcast, averages, a failing rank, checkpoints; the shards."""
import os
import subprocess
import sys

import numpy as np
import pytest

import distributed_run
import resume_run
from conftest import mpiexec, standin_env
from minigrad.data import DataLoader, Spiral
from minigrad.distributed import Shard

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(n, *args, env=None, check=True, timeout=120):
    out = subprocess.run([mpiexec(), "-n", str(n), sys.executable, *args], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=HERE)
    if check and out.returncode:
        raise AssertionError(f"mpiexec -n {n} {args} failed:\n{out.stdout}\n{out.stderr}")
    return out


def _weights(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("case", ["sgd", "adam", "adam-buckets"])
def test_the_split_batch_gives_the_weights_of_one_process_on_the_whole_batch(case, n, tmp_path):
    """ClipGrad and WeightDecay included: the hooks see the averaged gradient. adam-buckets: Allreduces of 7
    values, most parameters' gradients split between buckets."""
    _run(n, "distributed_run.py", case, str(tmp_path))
    model = distributed_run.train(case.split("-")[0], 0, 1)
    ref = {k: p.data for k, p in model.named_params()}
    for rank in range(n):
        got = _weights(tmp_path / f"{case}-{n}-{rank}.npz")
        assert got.keys() == ref.keys()
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-13, atol=1e-15)


def test_gradients_of_cupy_arrays_are_staged_through_the_host(tmp_path):
    """The CuPy stand-in (an MPI that is not CUDA-aware): the same weights as the one-process run on the CPU."""
    env = {**standin_env(), "MINIGRAD_MPI_CUDA_AWARE": "0"}
    _run(2, "distributed_run.py", "gpu", str(tmp_path), env=env)
    ref = {k: p.data for k, p in distributed_run.train("sgd", 0, 1).named_params()}
    for rank in range(2):
        got = _weights(tmp_path / f"gpu-2-{rank}.npz")
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-13, atol=1e-15)


def test_bcast_gives_every_rank_rank_0s_weights_and_average_is_the_mean(tmp_path):
    _run(3, "distributed_run.py", "bcast", str(tmp_path))
    first = _weights(tmp_path / "bcast-0.npz")
    assert len(first) == 4
    for rank in (1, 2):
        got = _weights(tmp_path / f"bcast-{rank}.npz")
        for k in first:
            np.testing.assert_array_equal(got[k], first[k])
    for rank in range(3):  # the mean of 0, 1, 2, and of [0, r] over r
        np.testing.assert_allclose(np.load(tmp_path / f"average-{rank}.npy"), [1.0, 0.0, 1.0])


def test_a_rank_that_raises_aborts_the_others_instead_of_hanging(tmp_path):
    out = _run(3, "distributed_run.py", "raise", str(tmp_path), check=False, timeout=60)
    assert out.returncode != 0
    assert "planted failure on rank 1" in out.stderr and "rank 1 of 3 raised RuntimeError" in out.stderr


def test_ranks_with_different_parameters_fail_on_every_rank_before_any_data_moves(tmp_path):
    out = _run(2, "distributed_run.py", "mismatch", str(tmp_path), check=False, timeout=60)
    assert out.returncode != 0
    assert "rank 1's parameters differ from rank 0's: ('l0/W', (3, 6), 'float32') there" in out.stderr


def test_a_resumed_distributed_run_equals_the_uninterrupted_one_bit_for_bit(tmp_path):
    """docs/training.md#resuming under mpiexec -n 2: rank 0 writes the checkpoint, both ranks load it in fresh
    processes; each rank trains on the same batches, so the weights equal one process's bit for bit."""
    for mode in ("first", "rest"):
        _run(2, "resume_run.py", mode, str(tmp_path), "distributed")
    for case in resume_run.CASES:
        model, opt, sched, loader = resume_run.build(case, 0)
        resume_run.train(model, opt, sched, loader, resume_run.N + resume_run.M)
        got = _weights(tmp_path / f"{case}-final.npz")
        for k, p in model.named_params():
            np.testing.assert_array_equal(got[k], p.data, err_msg=case)


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_together_make_the_batches_of_one_process(size, shuffle):
    """Batches of b on each of size ranks are, together, the batches of size * b of the common order; every rank
    draws the same order for a seed and epoch, a new one each epoch."""
    data = Spiral(num_data=10)  # 30 items: with 3 ranks no padding, with 2 none, with 4 (below) two repeated
    shards = [Shard(data, r, size, shuffle, seed=3) for r in range(size)]
    for epoch in (0, 1):
        for s in shards:
            s.set_epoch(epoch)
        order = shards[0].order
        assert all((s.order == order).all() for s in shards)
        loaders = [DataLoader(s, 5, shuffle=False) for s in shards]
        whole = DataLoader(Shard(data, 0, 1, shuffle, seed=3), 5 * size, shuffle=False)
        whole.dataset.set_epoch(epoch)
        for parts, (x, t) in zip(zip(*loaders), whole):
            rows = np.concatenate([p[0] for p in parts])
            assert sorted(map(tuple, rows)) == sorted(map(tuple, x))
    if shuffle:
        s = Shard(data, 0, 1, True, seed=3)
        assert not (s.order == Shard(data, 0, 1, True, seed=4).order).all()
        before = s.order.copy()
        s.set_epoch(1)
        assert not (s.order == before).all()


def test_an_uneven_dataset_is_padded_so_that_every_rank_has_as_many_items():
    data = Spiral(num_data=10)  # 30 items over 4 ranks: 8 each, items 0 and 1 of the order twice
    shards = [Shard(data, r, 4) for r in range(4)]
    assert [len(s) for s in shards] == [8] * 4
    np.testing.assert_array_equal(np.sort(np.concatenate([s.indices for s in shards])),
                                  np.sort(np.r_[np.arange(30), 0, 1]))
    assert (shards[1][3][0] == data[13][0]).all()
