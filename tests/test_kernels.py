"""The CPU kernels give the NumPy path's numbers (docs/kernels.md): every option of the fused losses, float32 and
float64 (float16 through float32), every memory layout, N = 0, C = 1, non-finite logits, row blocks on threads,
Python threads and a forked child."""
import os

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from conftest import in_threads
from layouts import LAYOUTS

pytest.importorskip("numba")
# the NumPy reference warns on the extreme inputs (overflow in exp, log of 0) that the kernels take silently
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
from minigrad.kernels import bce as kbce, ce as kce  # noqa: E402

TOL = {np.float16: 1e-3, np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture
def ran(monkeypatch):
    """Counts the kernel calls of each loss, so that a test knows the kernels ran."""
    calls = {"ce": 0, "bce": 0, "common ce": 0, "common bce": 0}
    for name, module, fn in (("ce", kce, "cross_entropy"), ("bce", kbce, "sigmoid_bce"),
                             ("common ce", kce, "plain_rows"), ("common bce", kbce, "plain_sum")):
        real = getattr(module, fn)

        def spy(*args, real=real, name=name):
            calls[name] += 1
            return real(*args)
        monkeypatch.setattr(module, fn, spy)
    return calls


def _run(loss, x, t, options, gy, kernels, second=False):
    """The loss, the gradient of x (and of t when it is a Variable) and, when second, a Hessian-vector product."""
    with mg.using_config("cpu_kernels", kernels):
        xv = mg.Variable(x)
        tv = mg.Variable(t) if isinstance(t, np.ndarray) and t.dtype.kind == "f" and loss is not F.sigmoid_bce \
            else t
        y = loss(xv, tv, **options)
        inputs = [xv] + ([tv] if isinstance(tv, mg.Variable) else [])
        grads = mg.grad(y, inputs, gy, create_graph=second)
        out = [y.data] + [g.data for g in grads]
        if second:
            v = np.random.default_rng(0).standard_normal(x.shape).astype(x.dtype)
            out.append(mg.grad(F.sum(grads[0] * v), [xv])[0].data)
    return out


def _same(loss, x, t, options=None, gy=None, second=False, x_ref=None):
    options = options or {}
    y = loss(x, t, **options)
    gy = np.asarray(np.random.default_rng(1).standard_normal(y.shape) if gy is None else gy, x.dtype)
    got = _run(loss, x, t, options, gy, True, second)
    want = _run(loss, x if x_ref is None else x_ref, t, options, gy, False, second)
    tol = TOL[x.dtype.type]
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True, err_msg=str(options))


def _ce_case(rng, dtype, kdim=False, probs=False, n=None, c=None):
    n = rng.integers(0, 20) if n is None else n
    c = rng.integers(1, 12) if c is None else c
    shape = (n, c) + ((rng.integers(1, 4), rng.integers(1, 4)) if kdim else ())
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if probs:
        t = rng.random(shape).astype(dtype)
        return x, t / np.maximum(t.sum(axis=1, keepdims=True), 1e-3)
    t = rng.integers(0, c, (n,) + shape[2:])
    if t.size:
        t.flat[::3] = -100
    return x, t


def _ce_options(rng, dtype, c, probs):
    options = {"reduction": ["mean", "sum", "none"][rng.integers(3)],
               "label_smoothing": [0.0, 0.0, 0.25][rng.integers(3)]}
    if rng.integers(2):
        options["weight"] = rng.uniform(0.2, 2.0, c).astype(dtype)
    return options


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kdim", [False, True], ids=["2-d", "K-dim"])
@pytest.mark.parametrize("probs", [False, True], ids=["indices", "probabilities"])
def test_cross_entropy_kernels_equal_the_numpy_path_on_random_calls(dtype, kdim, probs, ran):
    rng = np.random.default_rng(11)
    for _ in range(25):
        x, t = _ce_case(rng, dtype, kdim, probs)
        _same(F.softmax_cross_entropy, x, t, _ce_options(rng, dtype, x.shape[1], probs))
    assert ran["ce"] > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_kernels_equal_the_numpy_path_on_random_calls(dtype, ran):
    rng = np.random.default_rng(12)
    for _ in range(30):
        shape = tuple(rng.integers(0, 6, rng.integers(0, 4)))
        x, y = (rng.standard_normal(shape) * 6).astype(dtype), rng.random(shape).astype(dtype)
        options = {"reduction": ["mean", "sum", "none"][rng.integers(3)]}
        tail = shape[-1:] if rng.integers(2) else ()
        if rng.integers(2):
            options["weight"] = rng.uniform(0.2, 2.0, tail).astype(dtype)
        if rng.integers(2):
            options["pos_weight"] = rng.uniform(0.2, 4.0, tail).astype(dtype)
        _same(F.sigmoid_bce, x, y, options)
    assert ran["bce"] > 0


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_the_kernels_take_any_layout(loss, layout, ran):
    rng = np.random.default_rng(13)
    for kdim in (False, True):
        if loss == "ce":
            x, t = _ce_case(rng, np.float32, kdim, n=5, c=4)
        else:
            x = rng.standard_normal((5, 4, 3) if kdim else (5, 4)).astype(np.float32) * 4
            t = rng.random(x.shape).astype(np.float32)
        laid = LAYOUTS[layout](x), (LAYOUTS[layout](t) if t.ndim else t)
        before = [a.copy() for a in laid]
        fn = F.softmax_cross_entropy if loss == "ce" else F.sigmoid_bce
        _same(fn, laid[0], laid[1], {"reduction": "sum"}, second=True)
        for a, b in zip(laid, before):
            np.testing.assert_array_equal(a, b)
    assert ran[loss] > 0


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_the_kernels_give_the_numpy_paths_nan_and_inf(loss, ran):
    rng = np.random.default_rng(14)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((6, 5)) * 3).astype(dtype)
        x[0, 0], x[1, 2], x[2] = np.inf, np.nan, -np.inf
        x[3, 1] = -np.inf
        x[4, :2] = np.finfo(dtype).max, np.finfo(dtype).min
        t = rng.integers(0, 5, 6) if loss == "ce" else rng.integers(0, 2, (6, 5)).astype(dtype)
        fn = F.softmax_cross_entropy if loss == "ce" else F.sigmoid_bce
        for reduction in ("none", "sum"):
            _same(fn, x, t, {"reduction": reduction})
    assert ran[loss] > 0


@pytest.mark.parametrize("shape", [(0, 4), (3, 1), (1, 1), (0, 1, 2)], ids=str)
def test_the_kernels_take_empty_batches_and_one_class(shape, ran):
    rng = np.random.default_rng(15)
    x = rng.standard_normal(shape).astype(np.float32)
    t = np.zeros((shape[0],) + shape[2:], int)
    for reduction in ("mean", "sum", "none"):
        _same(F.softmax_cross_entropy, x, t, {"reduction": reduction})
        _same(F.sigmoid_bce, x, rng.random(shape).astype(np.float32), {"reduction": reduction})
    assert ran["ce"] and ran["bce"]


def test_float16_goes_through_the_float32_kernels(ran):
    rng = np.random.default_rng(16)
    x = (rng.standard_normal((8, 6)) * 3).astype(np.float16)
    _same(F.softmax_cross_entropy, x, rng.integers(0, 6, 8), {"label_smoothing": 0.1})
    _same(F.sigmoid_bce, x, rng.random((8, 6)).astype(np.float16))
    assert ran["ce"] and ran["bce"]


@pytest.mark.parametrize("probs", [False, True], ids=["indices", "probabilities"])
def test_second_derivatives_through_the_kernels(probs):
    rng = np.random.default_rng(17)
    x, t = _ce_case(rng, np.float64, False, probs, n=6, c=5)
    _same(F.softmax_cross_entropy, x, t, {"weight": rng.uniform(0.5, 2, 5), "label_smoothing": 0.1}, second=True)
    _same(F.sigmoid_bce, x, rng.random(x.shape), {"pos_weight": rng.uniform(0.5, 2, 5)}, second=True)
    assert mg.gradcheck(lambda z: F.softmax_cross_entropy(z.T, t), (x.T.copy(),))


def test_row_blocks_on_threads_give_the_single_block_numbers(monkeypatch):
    rng = np.random.default_rng(18)
    x, t = _ce_case(rng, np.float32, False, n=64, c=7)
    y = rng.random((64, 7)).astype(np.float32)
    whole = [_run(fn, x, tt, {}, np.float32(1.5), True) for fn, tt in ((F.softmax_cross_entropy, t), (F.sigmoid_bce, y))]
    monkeypatch.setattr(kce, "BLOCK", 8)
    monkeypatch.setattr(kbce, "BLOCK", 8)
    blocked = [_run(fn, x, tt, {}, np.float32(1.5), True) for fn, tt in ((F.softmax_cross_entropy, t), (F.sigmoid_bce, y))]
    for a, b in zip(whole, blocked):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-6)  # the sums' order may differ between blocks


def _losses(x, t, y):
    a = mg.Variable(x)
    loss = F.softmax_cross_entropy(a, t) + F.sigmoid_bce(a, y)
    loss.backward()
    return loss.data, a.grad.data


def test_python_threads_run_the_kernels_at_once():
    rng = np.random.default_rng(19)
    cases = [(rng.standard_normal((300, 50)).astype(np.float32), rng.integers(0, 50, 300),
              rng.random((300, 50)).astype(np.float32)) for _ in range(4)]
    want = [_losses(*c) for c in cases]
    got = in_threads(lambda i: _losses(*cases[i]), repeats=5)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_the_kernels():
    rng = np.random.default_rng(20)
    case = rng.standard_normal((2000, 300)).astype(np.float32), rng.integers(0, 300, 2000), \
        rng.random((2000, 300)).astype(np.float32)
    want = _losses(*case)  # the child's arrays lie elsewhere in memory: the results must not depend on it
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute again, report the largest differences
        try:
            got = _losses(*case)
            os.write(w, repr([float(np.abs(a - b).max()) for a, b in zip(got, want)]).encode())
        finally:
            os._exit(0)
    os.close(w)
    answer = os.read(r, 200)
    os.waitpid(pid, 0)
    assert answer == b"[0.0, 0.0]", answer.decode()


def test_the_switch_turns_the_kernels_off(ran, monkeypatch):
    x, t = np.random.default_rng(21).standard_normal((4, 3)), np.array([0, 1, 2, 0])
    with mg.using_config("cpu_kernels", False):
        F.softmax_cross_entropy(x, t)
        F.softmax_cross_entropy(x, t, reduction="none")
    assert sum(ran.values()) == 0
    F.softmax_cross_entropy(x, t)
    F.softmax_cross_entropy(x, t, reduction="none")
    assert ran["common ce"] == 1 and ran["ce"] == 1


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_the_results_do_not_depend_on_where_the_arrays_lie(loss):
    """The same values at 16 different alignments give the same bits: no element rounds differently in a loop's
    vector body than in its scalar remainder (no approximate division, docs/kernels.md#threads-fork-compilation)."""
    rng = np.random.default_rng(22)
    n, c = 37, 131
    values = (rng.standard_normal((n, c)) * 5).astype(np.float32)
    t = rng.integers(0, c, n) if loss == "ce" else rng.random((n, c)).astype(np.float32)
    fn = F.softmax_cross_entropy if loss == "ce" else F.sigmoid_bce
    results = []
    for offset in range(16):
        x = np.empty(n * c + 16, np.float32)[offset:offset + n * c].reshape(n, c)
        x[...] = values
        results.append(_run(fn, x, t, {"reduction": "none"}, np.ones(n if loss == "ce" else (n, c), np.float32), True))
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_common_calls_equal_the_numpy_path(dtype, ran):
    """The common calls run as one kernel (KernelCrossEntropy, KernelSigmoidBCE): every integer target dtype,
    ignored targets (also one inside [0, C)), gy other than 1, a second backward, create_graph."""
    rng = np.random.default_rng(23)
    for i in range(30):
        n, c = rng.integers(1, 30), rng.integers(1, 9)
        x = (rng.standard_normal((n, c)) * 4).astype(dtype)
        t = rng.integers(0, c, n).astype(["int8", "int16", "int32", "int64"][i % 4])
        ignore = [-100, 0, -1][i % 3]
        t[::4] = ignore
        for reduction in ("mean", "sum"):
            options = {"reduction": reduction, "ignore_index": ignore}
            _same(F.softmax_cross_entropy, x, t, options, gy=[1.0, 2.5][i % 2], second=bool(i % 5 == 0))
            y = (rng.random((n, c)) < 0.5).astype(dtype)
            _same(F.sigmoid_bce, x, y, {"reduction": reduction}, gy=[1.0, 2.5][i % 2], second=bool(i % 5 == 0))
    assert ran["common ce"] and ran["common bce"]


def test_the_common_call_refuses_bad_targets_as_the_general_path_does():
    x = np.zeros((3, 4), np.float32)
    for t, kind in ((np.array([0, 4, 1]), IndexError), (np.array([0, -3, 1]), IndexError)):
        with pytest.raises(kind) as common:
            F.softmax_cross_entropy(x, t)
        with mg.using_config("cpu_kernels", False), pytest.raises(kind) as general:
            F.softmax_cross_entropy(x, t)
        assert str(common.value) == str(general.value)
    unsigned = np.array([0, 2**64 - 100, 1], np.uint64)  # -100 if wrapped: refused, never ignored
    with pytest.raises(IndexError):
        F.softmax_cross_entropy(x, unsigned)


def test_a_second_backward_without_the_buffer_gives_the_same_gradient():
    rng = np.random.default_rng(24)
    x = mg.Variable(rng.standard_normal((5, 4)).astype(np.float32))
    t = np.array([0, 3, -100, 1, 2])
    y = F.softmax_cross_entropy(x, t)
    assert type(y.creator).__name__ == "KernelCrossEntropy"
    y.backward()
    first = x.grad.data.copy()
    x.cleargrad()
    y.backward()  # the buffer was handed out: the general gradient now
    np.testing.assert_allclose(x.grad.data, first, rtol=1e-6, atol=1e-7)


ACTIVATIONS = {"exp": F.exp, "log": F.log, "tanh": F.tanh, "sigmoid": F.sigmoid, "log_sigmoid": F.log_sigmoid,
               "softmax": F.softmax, "log_softmax": F.log_softmax, "softmax axis 0": lambda v: F.softmax(v, axis=0),
               "log_softmax axis 2": lambda v: F.log_softmax(v, axis=2), "logsumexp": F.logsumexp,
               "logsumexp axis 0 kept": lambda v: F.logsumexp(v, axis=0, keepdims=True)}


def _activation_input(name, shape, rng, layout="C"):
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    if name == "log":
        x = np.abs(x)
    x.flat[:6] = [0.0, -0.0, 90.0, -90.0, 1e-40, 3e38] if x.size >= 6 else x.flat[:6]
    return LAYOUTS[layout](x)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("layout", ["C", "F", "sliced", "read-only"])
def test_activation_kernels_equal_the_numpy_path(name, layout, monkeypatch):
    from minigrad.kernels import activations
    calls = []
    for fn in ("elementwise", "softmax", "logsumexp"):
        real = getattr(activations, fn)
        monkeypatch.setattr(activations, fn, lambda *a, real=real: calls.append(1) or real(*a))
    rng = np.random.default_rng(25)
    for shape in [(37, 19), (2, 5, 3, 4), (1, 1)][1:2] if name.endswith("axis 2") else [(37, 19), (2, 5, 3, 4), (1, 1)]:
        x = _activation_input(name, shape, rng, layout)
        fn = ACTIVATIONS[name]
        gy = np.random.default_rng(1).standard_normal(fn(x).shape).astype(np.float32)
        got = _run(lambda v, t: fn(v), x, None, {}, gy, True, second=True)
        want = _run(lambda v, t: fn(v), x, None, {}, gy, False, second=True)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, equal_nan=True)
    assert calls


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "log_sigmoid", "softmax", "log_softmax",
                                  "logsumexp"])
def test_activation_kernels_give_the_numpy_paths_nan_and_inf(name):
    x = np.array([[np.nan, 1.0, 2.0], [np.inf, 0.5, -1.0], [-np.inf, 3.0, 0.0], [-np.inf, -np.inf, -np.inf]],
                 np.float32)
    with np.errstate(all="ignore"):
        got = ACTIVATIONS[name](x).data
        with mg.using_config("cpu_kernels", False):
            want = ACTIVATIONS[name](x).data
    np.testing.assert_allclose(got, want, rtol=2e-6, equal_nan=True)


@pytest.mark.parametrize("which", ["tanh32", "sigmoid32", "log_sigmoid32"])
def test_the_float32_activations_are_within_a_few_ulp(which):
    from minigrad.kernels import activations
    grid = np.concatenate([np.linspace(-100, 100, 400001, dtype=np.float32),
                           np.array([0.0, -0.0, 1e-30, -1e-30, 0.6249, 0.625, 9.0, 9.1, -9.1], np.float32)])
    name = {"tanh32": "tanh", "sigmoid32": "sigmoid", "log_sigmoid32": "log_sigmoid"}[which]
    got = activations.elementwise(name, grid)
    g = grid.astype(np.float64)
    want = {"tanh32": np.tanh(g), "sigmoid32": 1 / (1 + np.exp(-g)),
            "log_sigmoid32": np.minimum(g, 0) - np.log1p(np.exp(-np.abs(g)))}[which].astype(np.float32)
    ulps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
    assert ulps.max() <= 3, (grid[ulps.argmax()], got[ulps.argmax()], want[ulps.argmax()])


def test_linear_cross_entropy_rows_on_the_kernels(monkeypatch):
    calls = []
    real = kce.index_block
    monkeypatch.setattr(kce, "index_block", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(26)
    x, W = rng.standard_normal((9, 4)).astype(np.float32), rng.standard_normal((4, 7)).astype(np.float32)
    b, t = rng.standard_normal(7).astype(np.float32), np.array([0, 3, -100, 6, 1, 1, 2, 5, 4])
    for options in ({}, {"label_smoothing": 0.2, "weight": rng.uniform(0.5, 2, 7).astype(np.float32)},
                    {"reduction": "none", "chunk_size": 2}):
        got, want = [], []
        for kernels, out in ((True, got), (False, want)):
            with mg.using_config("cpu_kernels", kernels):
                xs = [mg.Variable(a) for a in (x, W, b)]
                y = F.linear_cross_entropy(xs[0], xs[1], t, xs[2], **options)
                gy = np.linspace(0.5, 1.5, y.size, dtype=np.float32).reshape(y.shape)
                y.backward(gy)
                out += [y.data] + [v.grad.data for v in xs]
        for a, c in zip(got, want):
            np.testing.assert_allclose(a, c, rtol=2e-5, atol=2e-6)
    assert calls


@pytest.mark.parametrize("first", [False, True], ids=["with c_prev", "first step"])
def test_the_lstm_cell_kernel_equals_the_numpy_path(first, monkeypatch):
    from minigrad.kernels import activations
    calls = []
    for fn in ("lstm", "lstm_grad"):
        real = getattr(activations, fn)
        monkeypatch.setattr(activations, fn, lambda *a, real=real: calls.append(1) or real(*a))
    rng = np.random.default_rng(27)
    z = (rng.standard_normal((7, 20)) * 4).astype(np.float32)
    z[0, :4] = [60.0, -60.0, np.inf, -np.inf]
    cp = None if first else rng.standard_normal((7, 5)).astype(np.float32)
    gh, gc = rng.standard_normal((7, 5)).astype(np.float32), rng.standard_normal((7, 5)).astype(np.float32)
    results = []
    for kernels in (True, False):
        with mg.using_config("cpu_kernels", kernels):
            zv, cv = mg.Variable(z), None if cp is None else mg.Variable(cp)
            h, c = F.lstm_cell(zv, cv)
            (F.sum(h * gh) + F.sum(c * gc)).backward()
            results.append([h.data, c.data, zv.grad.data] + ([] if cv is None else [cv.grad.data]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, equal_nan=True)
    assert len(calls) == 2


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_bias_gradient_sums_equal_float64_in_every_layout(layout, dtype, monkeypatch):
    """sum_to over leading axes (a bias gradient: Linear's plain backward, SumTo) takes C-ordered float32/float64
    arrays to the column-sum kernel (docs/kernels.md), every other layout to NumPy: both within float32 rounding of
    the float64 sum, the kernel with float32 partials over 64 rows only; inf and NaN as NumPy's sum gives them."""
    from minigrad.ops.shaping import sum_to_array
    rng = np.random.default_rng(5)
    for shape in [(300, 7), (3, 50, 33), (0, 5), (1, 1)]:
        g = LAYOUTS[layout](rng.standard_normal(shape).astype(dtype) + 3)
        got = sum_to_array(g, shape[-1:])
        assert got.dtype == dtype and got.shape == shape[-1:]
        ref = g.astype(np.float64).reshape(-1, shape[-1]).sum(0)
        np.testing.assert_allclose(got, ref, rtol={np.float16: 2e-3, np.float32: 3e-5, np.float64: 1e-13}[dtype],
                                   atol=1e-3 if dtype == np.float16 else 0)
        with mg.using_config("cpu_kernels", False):
            np.testing.assert_allclose(sum_to_array(g, shape[-1:]), got, rtol=5e-3 if dtype == np.float16 else 1e-5)
    g = rng.standard_normal((200, 4)).astype(dtype)
    g[0, 3], g[7, 0], g[100, 1], g[3, 2], g[4, 2] = np.inf, np.inf, np.nan, np.inf, -np.inf
    laid = LAYOUTS[layout](g)
    with np.errstate(invalid="ignore"):
        got, ref = sum_to_array(laid, (4,)), laid.astype(np.float64).sum(0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(got[np.isinf(ref)], ref[np.isinf(ref)])
    assert np.isinf(ref).any()


def test_the_column_sums_keep_float32_partials_short():
    """A column of 2^24 and then 2^20 - 1 float32 ones: a running float32 sum stays at 2^24 (each one is below half
    its rounding step); with float32 partials over 64 rows combined in float64 only the 63 ones in the big value's
    own partial are lost."""
    from minigrad.kernels.rows import CHUNK, column_sums
    g = np.ones((1 << 20, 3), np.float32)
    g[0] = 2.0 ** 24
    np.testing.assert_array_equal(column_sums(g), np.full(3, 2.0 ** 24 + (1 << 20) - CHUNK, np.float32))
    assert np.float32(2.0 ** 24) + np.float32(1) == np.float32(2.0 ** 24)  # what a running float32 sum would do


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_embedding_gradients_on_the_kernel_add_rows_in_order(layout, dtype):
    """GetItem's backward for rows picked by one index array (an embedding) adds the rows on a kernel
    (docs/kernels.md), one after the other in index order: the bits of a plain loop of row additions, within
    rounding of the NumPy path (sorted sums) and of float64; repeated and negative indices, every layout of the
    gradient, inf and NaN rows, no index at all, rows of zero width, unsigned indices."""
    rng = np.random.default_rng(11)
    tol = {np.float16: 5e-3, np.float32: 1e-6, np.float64: 1e-14}[dtype]
    for table, ids in [((7, 5), rng.integers(-7, 7, (6, 9))), ((3, 2, 4), np.array([2, -1, 0, 2, 2])),
                       ((4, 3), np.zeros((0,), np.int64)), ((4, 0), np.array([1, 1, 3])),
                       ((5, 3), np.array([4, 0, 4], np.uint8))]:
        w = mg.Variable(rng.standard_normal(table).astype(dtype))
        gy = rng.standard_normal(ids.shape + table[1:]).astype(dtype)
        if gy.size > 6:
            gy.reshape(-1)[[1, 4]] = np.inf, np.nan
        gy = LAYOUTS[layout](gy)  # the broadcast layout repeats the first entry: the references use gy as laid out
        got = []
        for on in (True, False):
            with mg.using_config("cpu_kernels", on), np.errstate(invalid="ignore"):
                w.cleargrad()
                w[ids].backward(gy)
                got.append(w.grad.data)
        in_order = np.zeros(table, np.float32 if dtype == np.float16 else dtype)
        for i, row in zip(ids.reshape(-1), gy.reshape((ids.size,) + table[1:])):
            in_order[i] += row
        np.testing.assert_array_equal(got[0], in_order.astype(dtype))
        ref = np.zeros(table)
        with np.errstate(invalid="ignore"):
            np.add.at(ref, ids, gy.astype(np.float64))
        for g in got:
            np.testing.assert_allclose(g, ref, rtol=tol, atol=1e-2 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_blas_gemm_called_from_compiled_code_matches_numpy(dtype):
    """kernels.gemm (docs/kernels.md): NumPy's cblas GEMM by address, every transpose pair, leading dimensions
    wider than the rows (slices), c = or c += op(a) @ op(b), against NumPy's product in float64."""
    from minigrad import blas
    from minigrad.kernels.gemm import NO, TRANS, gemm
    address = blas.gemm_address(dtype)
    if not address:
        pytest.skip("NumPy's BLAS is not a bundled OpenBLAS")
    rng = np.random.default_rng(5)
    m, n, k = 5, 7, 3
    for ta, tb in ((NO, NO), (TRANS, NO), (NO, TRANS), (TRANS, TRANS)):
        a = rng.standard_normal((k, m) if ta == TRANS else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if tb == TRANS else (k, n)).astype(dtype)
        a_wide, b_wide = np.zeros((a.shape[0], a.shape[1] + 2), dtype), np.zeros((b.shape[0], b.shape[1] + 3), dtype)
        a_wide[:, :a.shape[1]], b_wide[:, :b.shape[1]] = a, b
        want = (a.T if ta == TRANS else a).astype(np.float64) @ (b.T if tb == TRANS else b).astype(np.float64)
        c = np.full((m, n + 1), 2.0, dtype)
        for accumulate in (False, True):
            gemm(address, ta, tb, m, n, k, a_wide.ctypes.data, a_wide.shape[1], b_wide.ctypes.data, b_wide.shape[1],
                 c.ctypes.data, c.shape[1], accumulate, c)
            np.testing.assert_allclose(c[:, :n], want * (2 if accumulate else 1), rtol=1e-5)
        assert (c[:, n] == 2).all()  # nothing written past the rows' length
