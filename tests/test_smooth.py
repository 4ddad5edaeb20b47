"""softplus, silu, gelu, normal_cdf and layer_norm: torch parity, tails, float16, errors (docs/ops.md)."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

X = np.concatenate([np.linspace(-40, 40, 161), [-1e4, -200.0, -0.0, 0.0, 1e-8, 200.0, 1e4]])


def _torch():
    return pytest.importorskip("torch")


def _parity(ours, theirs, x, rtol):
    """Values and gradients (a random upstream gradient) of ours(Variable) at x and theirs(tensor) at x in float64
    (torch's float32 gelu cancels in 1 + erf(x / sqrt 2) for x < 0; the float64 result is the reference)."""
    torch = _torch()
    v, t = mg.Variable(x), torch.tensor(x.astype(np.float64), requires_grad=True)
    y, yt = ours(v), theirs(t)
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    y.backward(gy)
    yt.backward(torch.tensor(gy.astype(np.float64)))
    assert y.dtype == v.grad.dtype == x.dtype
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=rtol * 1e-3, equal_nan=True)
    np.testing.assert_allclose(v.grad.data, t.grad.numpy(), rtol=rtol, atol=rtol * 1e-3, equal_nan=True)


CASES = {
    "silu": (F.silu, lambda t: _torch().nn.functional.silu(t)),
    "gelu": (F.gelu, lambda t: _torch().nn.functional.gelu(t)),
    "gelu tanh": (lambda v: F.gelu(v, approximate="tanh"), lambda t: _torch().nn.functional.gelu(t, approximate="tanh")),
    "softplus": (F.softplus, lambda t: _torch().nn.functional.softplus(t)),
    "softplus beta 2 threshold 5": (lambda v: F.softplus(v, beta=2, threshold=5),
                                    lambda t: _torch().nn.functional.softplus(t, beta=2, threshold=5)),
}


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)], ids=["float64", "float32"])
@pytest.mark.parametrize("name", CASES)
def test_matches_torch(name, dtype, rtol):
    ours, theirs = CASES[name]
    _parity(ours, theirs, X.astype(dtype), rtol)


def test_normal_cdf_is_accurate_in_both_tails():
    x = np.array([-38.0, -10.0, -1.0, 0.0, 1.0, 10.0])
    expected = [0.5 * math.erfc(-v / math.sqrt(2)) for v in x]
    # Phi's condition number at x is |x| phi(x) / Phi(x), about x^2 = 100 at -10: 1e-14 is a few ulp of input
    np.testing.assert_allclose(F.normal_cdf(x).data, expected, rtol=2e-14)
    assert F.normal_cdf(np.float32(-10.0)).data > 0  # 7.6e-24, where 1 + erf(x / sqrt 2) gives 0
    assert F.gelu(np.array(-10.0)).data == pytest.approx(-10 * expected[1], rel=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_non_finite_inputs_as_torch(name):
    """NaN and +-inf give torch's values and gradients (silu(-inf) and gelu(-inf) are NaN there: -inf * 0)."""
    ours, theirs = CASES[name]
    with np.errstate(all="raise"):  # and no floating point warning on the way
        _parity(ours, theirs, np.array([np.nan, np.inf, -np.inf, 1.0]), 1e-12)


@pytest.mark.parametrize("fn", [F.silu, F.gelu, F.softplus, lambda x: F.layer_norm(x, 4)])
def test_float16_is_computed_in_float32(fn):
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float16)
    v = mg.Variable(x)
    y = fn(v)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y.data, fn(x.astype(np.float32)).data.astype(np.float16))
    F.sum(y).backward()
    assert v.grad.dtype == np.float16


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-11), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)], ids=str)
def test_layer_norm_matches_torch(affine, dtype, rtol):
    torch = _torch()
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 3, 4, 5)) * 3 + 1).astype(dtype)
    w, b = (rng.standard_normal((4, 5)).astype(dtype) if on else None for on in affine)
    vs = [mg.Variable(a) for a in (x, w, b) if a is not None]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    it = iter(vs[1:])
    y = F.layer_norm(vs[0], (4, 5), next(it) if affine[0] else None, next(it) if affine[1] else None, eps=1e-3)
    it = iter(ts[1:])
    yt = torch.nn.functional.layer_norm(ts[0], (4, 5), next(it) if affine[0] else None,
                                        next(it) if affine[1] else None, eps=1e-3)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=rtol)
    for v, t in zip(vs, ts):
        np.testing.assert_allclose(v.grad.data, t.grad.numpy(), rtol=rtol, atol=rtol)


def test_layer_norm_second_derivatives_match_torch():
    torch = _torch()
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 6)), rng.uniform(0.5, 2, 6)
    v, wv = mg.Variable(x), mg.Variable(w)
    t, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.sum(F.layer_norm(v, 6, wv) ** 3)
    yt = (torch.nn.functional.layer_norm(t, (6,), wt) ** 3).sum()
    gx, = mg.grad(y, [v], create_graph=True)
    gxt, = torch.autograd.grad(yt, [t], create_graph=True)
    F.sum(gx * gx).backward()
    (gxt * gxt).sum().backward()
    np.testing.assert_allclose(v.grad.data, t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(wv.grad.data, wt.grad.numpy(), rtol=1e-10)


def test_layer_norm_keeps_per_row_state_only():
    from minigrad.ops.layer_norm import LayerNorm
    f = LayerNorm((64,), 1e-5, (False, False))
    f(mg.Variable(np.ones((8, 64)) + np.arange(64)))
    assert f.mu.shape == f.rstd.shape == (8, 1)


@pytest.mark.parametrize("call, match", [
    (lambda: F.layer_norm(np.ones((2, 3)), 4), r"normalized_shape \(4,\) must be the last axes"),
    (lambda: F.layer_norm(np.ones((2, 3)), (2, 3, 1)), "must be the last axes"),
    (lambda: F.layer_norm(np.ones((2, 3)), 3, weight=np.ones(2)), r"weight of shape \(2,\) does not match"),
    (lambda: F.layer_norm(np.ones((2, 3)), 3, eps=-1.0), "eps must be non-negative"),
    (lambda: F.layer_norm(np.ones((2, 3), np.int64), 3), "floating point"),
    (lambda: F.gelu(np.ones(2), approximate="fast"), "'none' or 'tanh'"),
    (lambda: F.softplus(np.ones(2), beta=0), "beta must be positive"),
    (lambda: F.silu(np.ones(2, np.int32)), "floating point"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_gelu_tanh_on_the_cpu_kernel_matches_the_numpy_path():
    """docs/kernels.md: the float32 kernel against the NumPy formula, values and gradients, tails and non-finite."""
    from minigrad import kernels
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    x = np.concatenate([np.linspace(-12, 12, 20001), [-1e30, -90.0, -0.0, 0.0, 1e-30, 90.0, 1e30, np.nan, np.inf,
                                                      -np.inf]]).astype(np.float32)
    gy = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    results = []
    for on in (True, False):
        with mg.using_config("cpu_kernels", on):
            v = mg.Variable(x)
            y = F.gelu(v, approximate="tanh")
            y.backward(gy)
            results.append((y.data, v.grad.data))
    # both round u = sqrt(8 / pi) (x + 0.044715 x^3) to float32 in their own order; exp(u) carries that error
    # relatively, so the bound grows with |u| (about 60 at x = -10, where the result is 1e-25), and it is taken
    # relative to the size of the terms (the derivative s + x s (1 - s) u' crosses 0 near x = -0.75)
    x64 = np.where(np.isfinite(x), x, 0).astype(np.float64)
    u = np.sqrt(8 / np.pi) * (x64 + 0.044715 * x64 ** 3)
    s64 = 1 / (1 + np.exp(-u))
    du = np.sqrt(8 / np.pi) * (1 + 3 * 0.044715 * x64 ** 2)
    sizes = (np.abs(x64) * s64, np.abs(gy) * (s64 + np.abs(x64) * s64 * (1 - s64) * du))
    for (a, b), size in zip(zip(*results), sizes):
        finite = np.isfinite(b)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_equal(a[~finite], b[~finite])
        bound = 4 * np.finfo(np.float32).eps * (1 + np.minimum(np.abs(u), 1e30)) * size + 1e-34  # + underflow
        bad = finite & (np.abs(a.astype(np.float64) - b) > bound)
        assert not bad.any(), (x[bad][:4], a[bad][:4], b[bad][:4])


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the NumPy path on the rows holding inf
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("shape", [(5, 7), (0, 7), (3, 1), (2, 3, 130), (600, 200), "(600, 200) in blocks", (70, 1024),
                                   (40, 1500)])
def test_layer_norm_on_the_cpu_kernel_matches_the_numpy_path(shape, affine, dtype, monkeypatch):
    """docs/kernels.md: the rows kernel against the NumPy formula, every layout, empty and single-column rows,
    rows up to SHORT (1024) and longer ones (two forms of the kernel), rows holding NaN and inf, and rows in parts
    over the threads (the weight and bias sums added from each part's partials); the caller's arrays untouched."""
    from minigrad import kernels
    from layouts import LAYOUTS
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    if isinstance(shape, str):
        monkeypatch.setattr("minigrad.kernels.native.SPLIT", 1000)
        shape = (600, 200)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    if x.size > 12:
        x.reshape(-1, shape[-1])[1, 0], x.reshape(-1, shape[-1])[2, -1] = np.nan, np.inf
    w, b = (rng.standard_normal(shape[-1:]).astype(dtype) for _ in range(2))
    gy = rng.standard_normal(shape).astype(dtype)
    tol = {np.float32: 2e-5, np.float64: 1e-12}[dtype]
    for layout, make in LAYOUTS.items():
        xs = make(x)
        before = xs.copy()
        results = []
        for on in (True, False):
            with mg.using_config("cpu_kernels", on):
                vs = [mg.Variable(a) for a in (xs, w, b)]
                y = F.layer_norm(vs[0], shape[-1], vs[1] if affine[0] else None, vs[2] if affine[1] else None)
                y.backward(gy)
                results.append([y.data] + [v.grad.data for v, used in zip(vs, (True,) + affine) if used])
        for a, ref in zip(*results):
            np.testing.assert_array_equal(np.isnan(a), np.isnan(ref), err_msg=layout)
            np.testing.assert_allclose(a, ref, rtol=tol, atol=tol * 10, err_msg=layout)
        np.testing.assert_array_equal(xs, before)
