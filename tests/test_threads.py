"""Configuration per thread and per asyncio task; training in threads and in a forked child
(docs/design.md#configuration-threads-and-tasks)."""
import asyncio
import os
import threading
import time

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
import minigrad.optimizers as O
from conftest import in_threads


def _records():
    x = mg.Variable(np.array([1.0, 2.0]))
    return F.sum(x * x).creator is not None


def test_no_grad_in_one_thread_leaves_the_others_recording():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with mg.no_grad():
            seen["worker"] = _records()
            inside.set()
            done.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = _records()  # while the worker is inside no_grad
    done.set()
    t.join()
    assert seen == {"worker": False, "main": True}


def test_interleaved_no_grad_blocks_restore_each_threads_own_setting():
    # A enters, B enters, A leaves, B leaves: with one process-wide switch B would restore False for everyone.
    steps = [threading.Event() for _ in range(4)]
    after = {}

    def a():
        with mg.no_grad():
            steps[0].set()
            steps[1].wait(5)
        after["a"] = _records()
        steps[2].set()

    def b():
        steps[0].wait(5)
        with mg.no_grad():
            steps[1].set()
            steps[2].wait(5)
        after["b"] = _records()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert after == {"a": True, "b": True} and _records() and mg.Config.enable_backprop


def test_a_long_backward_in_one_thread_does_not_stop_recording_in_another():
    started, release = threading.Event(), threading.Event()

    class Slow(mg.Function):
        def forward(self, x):
            return x * 1.0

        def backward(self, gy):
            started.set()
            release.wait(5)
            return gy

    x = mg.Variable(np.ones(3))
    y = F.sum(Slow()(x))
    t = threading.Thread(target=y.backward)
    t.start()
    started.wait(5)
    recorded = _records()  # the other thread is inside backward, where graph recording is off
    release.set()
    t.join()
    assert recorded and np.array_equal(x.grad.data, np.ones(3))


def test_a_process_wide_assignment_is_seen_by_every_thread_outside_its_own_blocks():
    seen = []
    old = mg.Config.train
    try:
        mg.Config.train = False
        t = threading.Thread(target=lambda: seen.append(mg.Config.train))
        t.start()
        t.join()
        with mg.using_config("train", True):
            seen.append(mg.Config.train)
        seen.append(mg.Config.train)
    finally:
        mg.Config.train = old
    assert seen == [False, True, False]


def test_asyncio_tasks_have_their_own_settings():
    async def task(use_no_grad, gate, seen, key):
        if use_no_grad:
            with mg.no_grad():
                gate.set()
                await asyncio.sleep(0.01)
                seen[key] = _records()
        else:
            await gate.wait()
            seen[key] = _records()  # runs while the other task is inside no_grad

    async def main():
        gate, seen = asyncio.Event(), {}
        await asyncio.gather(task(True, gate, seen, "inside"), task(False, gate, seen, "outside"))
        return seen

    assert asyncio.run(main()) == {"inside": False, "outside": True}


def _build(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    np.random.seed(seed)  # process-wide: models are built one at a time
    model = mg.models.MLP((16, 3))
    model(x)  # create the lazily sized weights now
    return model, x, t


def _fit(model, x, t, steps=20):
    opt = O.Adam(0.01).setup(model)
    for _ in range(steps):
        h = model(x)
        loss = F.softmax_cross_entropy(h, t) + F.sigmoid_bce(h[:, 0], (t == 1).astype(np.float32))
        model.cleargrads()
        loss.backward()
        opt.update()
        with mg.no_grad():  # an evaluation inside the loop flips this thread's switch only
            model(x)
    return [p.data.copy() for p in model.params()]


def test_threads_training_their_own_models_match_training_alone():
    alone = {seed: _fit(*_build(seed)) for seed in range(4)}
    jobs = {seed: _build(seed) for seed in range(4)}
    results = in_threads(lambda seed: _fit(*jobs[seed]))
    assert None not in results
    for seed in range(4):
        assert len(alone[seed]) == len(results[seed]) == 4
        for a, b in zip(alone[seed], results[seed]):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_trains_like_its_parent():
    expected = _fit(*_build(7), steps=5)

    def child():
        with mg.using_config("enable_backprop", True):
            got = _fit(*_build(7), steps=5)
        return all(np.array_equal(a, b) for a, b in zip(expected, got))
    with mg.no_grad():  # the child starts from the parent's context: it re-enables recording itself
        assert _in_a_forked_child(child)


def _in_a_forked_child(fn):
    """fn() run in a forked child: whether it returned True there."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, b"1" if fn() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    return answer == b"1"


def test_attention_spread_over_the_pool_from_four_threads_at_once(monkeypatch):
    """Each call spreads its batch over the pool with OpenBLAS on one thread (docs/ops.md#attention): from four
    Python threads at once the answers are those of each call alone, and BLAS's thread count comes back."""
    from minigrad import blas
    monkeypatch.setattr("minigrad.ops.attention.SPLIT", 1)
    before = blas.controls().get() if blas.controls() else None
    rng = np.random.default_rng(3)
    jobs = [[rng.standard_normal((4, 2, 9, 5)).astype(np.float32) for _ in range(3)] for _ in range(4)]

    def run(arrays):
        vs = [mg.Variable(a) for a in arrays]
        y = F.scaled_dot_product_attention(*vs, is_causal=True)
        y.backward(np.ones(y.shape, np.float32))
        return [y.data] + [v.grad.data for v in vs]
    alone = [run(arrays) for arrays in jobs]
    results = in_threads(lambda i: run(jobs[i]), repeats=5)
    for got, ref in zip(results, alone):
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)
    if before is not None:
        assert blas.controls().get() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_inside_a_single_blas_thread_block_gets_the_count_back():
    """docs/ops.md#attention: the child has no thread left inside the block; its BLAS count is the saved one."""
    from minigrad import blas
    if blas.controls() is None:
        pytest.skip("NumPy's BLAS is not the bundled OpenBLAS: single_thread does nothing")
    before = blas.controls().get()
    read, write = os.pipe()
    with blas.single_thread():
        assert blas.controls().get() == 1
        pid = os.fork()
        if pid == 0:
            try:
                with blas.single_thread():  # the child's lock is free and its own block works
                    inner = blas.controls().get()
                os.write(write, f"{blas.controls().get()},{inner}".encode())
            finally:
                os._exit(0)
    os.close(write)
    answer = os.read(read, 32).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == f"{before},1"
    assert blas.controls().get() == before


def _lending():
    """minigrad.blas, skipping the test where NumPy's OpenBLAS does not lend two threads."""
    from minigrad import blas
    server = blas._server()
    if server is None or server[1].value < 2:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with two or more threads: nothing to lend")
    return blas


def test_lent_threads_run_each_part_once_on_its_own_thread_with_blas_on_one():
    """docs/design.md#threads: part 0 on the caller, part 1 on an OpenBLAS worker, BLAS at one thread inside."""
    blas = _lending()
    before = blas.controls().get()
    a = np.random.default_rng(0).standard_normal((300, 300))

    def part(i):
        return i, threading.get_native_id(), blas.controls().get(), a @ a

    got = blas.lend_threads(part, 2)
    assert [g[0] for g in got] == [0, 1]
    assert got[0][1] == threading.get_native_id() and got[1][1] != got[0][1]
    assert [g[2] for g in got] == [1, 1]
    np.testing.assert_allclose(got[1][3], a @ a, rtol=1e-12, atol=1e-11)  # rounding of sums that cancel
    assert blas.controls().get() == before


def test_a_part_that_raises_is_raised_after_every_part_has_finished():
    blas = _lending()
    finished = []

    def part(i):
        if i == 1:
            raise ValueError("part 1 failed")
        time.sleep(0.05)
        finished.append(i)

    with pytest.raises(ValueError, match="part 1 failed"):
        blas.lend_threads(part, 2)
    assert finished == [0]
    assert blas.lend_threads(lambda i: i * 10, 2) == [0, 10]  # released: the next call borrows again


def test_a_nested_call_is_refused_instead_of_waiting_for_its_own_thread():
    """A part asking for the workers again gets None at once (a worker it waited for could be itself)."""
    blas = _lending()
    inner = {}

    def part(i):
        inner[i] = blas.lend_threads(lambda j: j, 2)

    t = threading.Thread(target=lambda: blas.lend_threads(part, 2), daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the nested call waited for its own thread"
    assert inner == {0: None, 1: None}


def test_row_blocks_give_the_same_results_lent_pooled_and_from_four_threads(monkeypatch):
    """for_blocks on OpenBLAS's workers, on minigrad's pool (no OpenBLAS to borrow from) and from four Python threads
    at once (all but one caller fall back to the pool): the same blocks in the same order."""
    from minigrad import blocks
    _lending()
    x = np.arange(10_000, dtype=np.float64)

    def run():
        return blocks.for_blocks(lambda lo, hi: (lo, hi, float(np.sum(np.sqrt(x[lo:hi])))), len(x), 1, np, 1000)
    lent = run()
    assert len(lent) == 10 and lent[0][:2] == (0, 1000) and lent[-1][:2] == (9000, 10_000)
    assert all(r == lent for r in in_threads(lambda i: run(), repeats=20))
    monkeypatch.setattr("minigrad.blas._server", lambda: None)
    assert run() == lent


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_borrows_the_threads_of_its_own_openblas():
    blas = _lending()
    assert blas.lend_threads(lambda i: i, 2) == [0, 1]  # the parent's workers exist before the fork

    def child():
        got = blas.lend_threads(lambda i: threading.get_native_id(), 2)
        return got is not None and got[0] != got[1]
    assert _in_a_forked_child(child)
