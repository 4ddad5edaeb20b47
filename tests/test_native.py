"""Kernels spread over the threads natively, with no GIL (docs/design.md#threads): every row once, the same answers
lent, pooled, refused, from four threads at once and in a forked child, and against NumPy."""
import os

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from conftest import in_threads

pytest.importorskip("numba")


def _native():
    from minigrad.kernels import native, rows
    return native, rows


def _bias_adds(n, k, parts):
    """rows.add_bias's entry run by native.run over `parts` parts: y (n, k) of zeros plus a bias of 1 .. k."""
    native, rows = _native()
    y, b = np.zeros((n, k)), np.arange(1.0, k + 1)
    native.run(rows._add_bias_entry, n, parts, [*native.contiguous(y), *native.contiguous(b), True])
    return y


@pytest.mark.parametrize("n, parts", [(1, 1), (7, 2), (1000, 2), (5, 5)])
def test_every_row_is_done_once_by_exactly_one_part(n, parts):
    """The parts' spans cover the rows once each (a row done twice would hold twice the bias), more parts than
    OpenBLAS lends going to the pool."""
    y = _bias_adds(n, 3, parts)
    np.testing.assert_array_equal(y, np.broadcast_to([1.0, 2.0, 3.0], (n, 3)))


def test_lent_refused_and_pooled_give_the_same_rows(monkeypatch):
    """On OpenBLAS's workers, with the workers already lent (refused: the pool takes over) and with no OpenBLAS to
    borrow from: the same result, and BLAS's thread count back as it was."""
    from minigrad import blas
    before = blas.controls().get() if blas.controls() else None
    lent = _bias_adds(999, 17, 2)
    with blas._lent:  # held, as by another call on the workers: lend_native refuses at once
        assert not blas.lend_native(0, np.zeros((2, 4), np.int64))
        refused = _bias_adds(999, 17, 2)
    monkeypatch.setattr("minigrad.blas._server", lambda: None)
    pooled = _bias_adds(999, 17, 2)
    np.testing.assert_array_equal(lent, refused)
    np.testing.assert_array_equal(lent, pooled)
    if before is not None:
        assert blas.controls().get() == before


def test_lend_native_runs_where_openblas_lends_two_threads():
    from minigrad import blas
    server = blas._server()
    if server is None or server[1].value < 2:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with two or more threads: nothing to lend")
    native, rows = _native()
    y, b = np.zeros((4, 2)), np.ones(2)
    frames = np.array([[8, i, 2 * i, 2 * i + 2, *native.contiguous(y), *native.contiguous(b), 1] for i in range(2)],
                      np.int64)
    assert blas.lend_native(rows._add_bias_entry.address, frames)
    np.testing.assert_array_equal(y, np.ones((4, 2)))


def test_kernels_in_parts_from_four_threads_at_once_match_one_call(monkeypatch):
    """layer_norm, gelu, a Linear's bias and attention's heads cut into parts (SPLIT lowered) from four Python
    threads at once: each answer equals that of the same call alone, bit for bit."""
    monkeypatch.setattr("minigrad.kernels.native.SPLIT", 64)
    monkeypatch.setattr("minigrad.kernels.native.SPLIT_LIGHT", 64)
    monkeypatch.setattr("minigrad.kernels.LIGHT", 128)
    rng = np.random.default_rng(5)
    jobs = [[rng.standard_normal(s).astype(np.float32) for s in ((2, 6, 16), (16, 24), (24,), (2, 3, 6, 8))]
            for _ in range(4)]

    def run(arrays):
        x, W, b, q = (mg.Variable(a) for a in arrays)
        h = F.gelu(F.linear(F.layer_norm(x, 16), W, b), approximate="tanh")
        a = F.scaled_dot_product_attention(q, q * 2, q * 3, is_causal=True)
        loss = F.sum(h * h) + F.sum(a * a)
        loss.backward()
        return [h.data, a.data] + [v.grad.data for v in (x, W, b, q)]
    alone = [run(arrays) for arrays in jobs]
    for got, ref in zip(in_threads(lambda i: run(jobs[i]), repeats=3), alone):
        for a, r in zip(got, ref):
            np.testing.assert_array_equal(a, r)


@pytest.mark.parametrize("split", [64, 1 << 40])
def test_parts_agree_with_the_numpy_path(split, monkeypatch):
    """docs/kernels.md: the same ops in parts (SPLIT and SPLIT_LIGHT 64) and in one part, kernels on, against the
    NumPy path (kernels off) in float64: values and gradients to 1e-12."""
    monkeypatch.setattr("minigrad.kernels.native.SPLIT", split)
    monkeypatch.setattr("minigrad.kernels.native.SPLIT_LIGHT", split)
    monkeypatch.setattr("minigrad.kernels.LIGHT", 2 * split)
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in ((3, 5, 16), (16, 40), (40,), (2, 3, 9, 8))]
    results = []
    for on in (True, False):
        with mg.using_config("cpu_kernels", on):
            x, W, b, q = (mg.Variable(a) for a in arrays)
            h = F.linear(F.layer_norm(x, 16), W, b)
            a = F.scaled_dot_product_attention(q, q * 2, q * 3, is_causal=True)
            (F.sum(h * h * h) + F.sum(a * a)).backward()
            results.append([h.data, a.data] + [v.grad.data for v in (x, W, b, q)])
    for got, ref in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (3, 7), (300, 129), (2048, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_and_column_sums_against_numpy(shape, dtype, monkeypatch):
    """rows.add_bias (y += b) exactly as NumPy's; rows.column_sums within float32 partials of NumPy's float64 sum,
    in parts and in one."""
    native, rows = _native()
    monkeypatch.setattr("minigrad.kernels.native.SPLIT_LIGHT", 256)
    rng = np.random.default_rng(8)
    g = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    y = g.copy()
    rows.add_bias(y, b)
    np.testing.assert_array_equal(y, g + b)
    sums = rows.column_sums(g)
    assert sums.dtype == dtype and sums.shape == (shape[1],)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sums, g.astype(np.float64).sum(axis=0), rtol=tol, atol=tol * max(1, shape[0]) ** 0.5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_kernels_in_parts():
    """A child forked after the parent lent its workers natively gets its own lending, and the right rows."""
    from test_threads import _in_a_forked_child
    _bias_adds(100, 3, 2)

    def child():
        return bool((_bias_adds(100, 3, 2) == np.arange(1.0, 4.0)).all())
    assert _in_a_forked_child(child)


@pytest.mark.parametrize("n", [0, 5, 1 << 18, (1 << 18) + 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_add_in_parts_gives_numpys_bits(n, dtype):
    """x + y of one shape (a residual stream) on the kernels' threads from 2 * SPLIT_LIGHT elements: NumPy's bits,
    NaN and inf included, gradients passed through; strided and broadcast operands go to NumPy."""
    rng = np.random.default_rng(9)
    x, y = (rng.standard_normal(n).astype(dtype) * 1e3 for _ in range(2))
    if n > 4:
        x[:4] = np.nan, np.inf, -np.inf, np.inf
        y[:4] = 1.0, -np.inf, 2.0, np.inf
    before = x.copy(), y.copy()
    for a, b in ((x, y), (x[::-1], y), (x, y[:1] if n else y)):
        vx, vy = mg.Variable(a), mg.Variable(b)
        with np.errstate(invalid="ignore"):
            z = vx + vy
            np.testing.assert_array_equal(z.data, a + b)
        z.backward(np.ones_like(z.data))
        np.testing.assert_array_equal(vx.grad.data, np.ones_like(a))
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(y, before[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_side_by_side_match_numpy_in_every_layout(dtype):
    """kernels/gemm.py: c = a @ b for two products at once, operands C-ordered, transposed views and row slices
    (a leading dimension past the row); a layout BLAS cannot take (a column step) is refused, nothing written."""
    from minigrad.kernels import gemm
    rng = np.random.default_rng(10)
    a = rng.standard_normal((70, 40)).astype(dtype)
    b = rng.standard_normal((40, 90)).astype(dtype)
    wide = rng.standard_normal((70, 60)).astype(dtype)[:, 10:50]  # rows with a leading dimension of 60
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for x, y in ((a, b), (np.ascontiguousarray(a.T).T, b), (a, np.ascontiguousarray(b.T).T), (wide, b)):
        c1, c2 = np.full((70, 90), np.nan, dtype), np.full((40, 40), np.nan, dtype)
        assert gemm.side_by_side([(x, y, c1), (x.T, x, c2)])
        np.testing.assert_allclose(c1, x.astype(np.float64) @ y, rtol=tol, atol=tol)
        np.testing.assert_allclose(c2, x.T.astype(np.float64) @ x, rtol=tol, atol=tol)
    c1, c2 = np.full((70, 90), np.nan, dtype), np.full((70, 90), np.nan, dtype)
    assert not gemm.side_by_side([(a, b, c1), (a[:, ::2], b[:20], c2)])
    assert np.isnan(c1).all() and np.isnan(c2).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_linear_backward_with_its_products_side_by_side_matches_numpy(dtype):
    """ops/linear.py: gx, gW (at once, from SIDE_BY_SIDE multiply-adds) and gb of y = x W + b against the NumPy
    formulas in float64, kernels on and off."""
    from minigrad.ops import linear
    rng = np.random.default_rng(11)
    x, W, b, gy = (rng.standard_normal(s).astype(dtype) for s in ((4, 64, 96), (96, 128), (128,), (4, 64, 128)))
    assert gy.size * W.shape[0] >= linear.SIDE_BY_SIDE
    tol = 1e-4 if dtype == np.float32 else 1e-12
    x64, W64, g64 = (a.astype(np.float64) for a in (x, W, gy))
    for on in (True, False):
        with mg.using_config("cpu_kernels", on):
            vs = [mg.Variable(a) for a in (x, W, b)]
            F.linear(*vs).backward(gy)
        np.testing.assert_allclose(vs[0].grad.data, g64 @ W64.T, rtol=tol, atol=tol)
        np.testing.assert_allclose(vs[1].grad.data, x64.reshape(-1, 96).T @ g64.reshape(-1, 128), rtol=tol,
                                   atol=tol * 10)
        np.testing.assert_allclose(vs[2].grad.data, g64.sum(axis=(0, 1)), rtol=tol, atol=tol * 10)


def _shifted_runs(fn, arrays, repeats=12):
    """fn on fresh copies of arrays, each run with the inputs at another alignment and the heap shifted by a few
    allocations of odd sizes (so outputs and scratch rows land elsewhere too): the results' bytes per run."""
    rng = np.random.default_rng(9)
    runs, keep = [], []
    for r in range(repeats):
        keep.append([np.empty(int(rng.integers(1, 300)), np.float32) for _ in range(int(rng.integers(1, 6)))])
        copies = []
        for a in arrays:
            off = r % 8
            c = np.empty(a.size + 8, a.dtype)[off:off + a.size].reshape(a.shape)
            c[...] = a
            copies.append(c)
        runs.append([np.asarray(o).tobytes() for o in fn(*copies)])
    return runs


def _ops():
    """(name, fn, arrays) of the kernels that sum a row: layer norm, the softmaxes, logsumexp, the losses summed."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((9, 37)) * 3).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    t = rng.integers(0, 37, 9)
    q = rng.standard_normal((1, 2, 19, 8)).astype(np.float32)
    x16 = rng.standard_normal((12, 16)).astype(np.float32)
    wide = rng.standard_normal((5, 131)).astype(np.float32)
    row = (rng.standard_normal((1, 60)) * 3).astype(np.float32)

    def grads(f):
        def run(a, g):
            v = mg.Variable(a)
            y = f(v)
            y.backward(g if y.shape == g.shape else None)
            return y.data, v.grad.data
        return run
    return [("layer_norm", grads(lambda v: F.layer_norm(v, 37)), [x, gy]),
            ("layer_norm 16", grads(lambda v: F.layer_norm(v, 16)), [x16, x16[::-1].copy()]),
            ("softmax", grads(lambda v: F.softmax(v, axis=1)), [x, gy]),
            ("log_softmax", grads(lambda v: F.log_softmax(v, axis=1)), [x, gy]),
            ("logsumexp", grads(lambda v: F.sum(F.logsumexp(v, axis=1))), [x, gy]),
            ("cross_entropy", grads(lambda v: F.softmax_cross_entropy(v, t, reduction="sum")), [x, gy]),
            ("sigmoid_bce", grads(lambda v: F.sigmoid_bce(v, (gy > 0).astype(np.float32), reduction="sum")), [x, gy]),
            ("softmax 60", grads(lambda v: F.softmax(v, axis=1)), [row, row[:, ::-1].copy()]),
            ("cross_entropy 60", grads(lambda v: F.softmax_cross_entropy(v, np.array([7]), reduction="sum")),
             [row, row]),
            ("sigmoid_bce 131", grads(lambda v: F.sigmoid_bce(v, (wide < 0).astype(np.float32), reduction="sum")),
             [wide, wide]),
            ("attention", grads(lambda v: F.sum(F.scaled_dot_product_attention(v, v * 2, v * 3, is_causal=True))),
             [q, q])]


@pytest.mark.parametrize("name, fn, arrays", _ops(), ids=[op[0] for op in _ops()])
def test_row_sums_do_not_depend_on_where_arrays_lie(name, fn, arrays):
    """A loop that stores and sums at once is vectorized only after a run-time check that its arrays lie apart, and
    its fallback sums in another order: the sums that could meet it run in loops of their own, so the same
    inputs give the same bits wherever they, the outputs and the scratch rows lie."""
    runs = _shifted_runs(fn, arrays)
    for r in runs[1:]:
        assert r == runs[0], name
