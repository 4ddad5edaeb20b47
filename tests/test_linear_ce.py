"""linear_cross_entropy against the composite softmax_cross_entropy(linear(...)) and torch, its memory, its
errors (docs/losses.md#linear_cross_entropy)."""
import itertools
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
import minigrad.layers as L

RNG = np.random.default_rng(0)
N, D, V = 23, 5, 11
X, W, B = RNG.standard_normal((N, D)), RNG.standard_normal((D, V)), RNG.standard_normal(V)
T = RNG.integers(0, V, N)
T[[3, 7]] = -100
CW = RNG.uniform(0.5, 2.0, V)

OPTIONS = [dict(reduction=r, weight=w, label_smoothing=e)
           for r, w, e in itertools.product(["mean", "sum", "none"], [None, CW], [0.0, 0.3])]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o['reduction']}-w{o['weight'] is not None}-"
                                                          f"eps{o['label_smoothing']}")
@pytest.mark.parametrize("bias, chunk", [(True, None), (False, 4), (True, 1)], ids=["bias-1block", "4rows", "1row"])
def test_equals_the_composite(options, bias, chunk):
    mine, ref = [mg.Variable(a) for a in (X, W, B)], [mg.Variable(a) for a in (X, W, B)]
    b, rb = (mine[2], ref[2]) if bias else (None, None)
    y = F.linear_cross_entropy(mine[0], mine[1], T, b, chunk_size=chunk, **options)
    yr = F.softmax_cross_entropy(F.linear(ref[0], ref[1], rb), T, **options)
    np.testing.assert_allclose(y.data, yr.data, rtol=1e-12, atol=1e-12)
    gy = RNG.standard_normal(y.shape)
    y.backward(gy)
    yr.backward(gy)
    for v, r in zip(mine, ref):
        if r.grad is not None:
            np.testing.assert_allclose(v.grad.data, r.grad.data, rtol=1e-11, atol=1e-13)
    assert (mine[2].grad is None) == (not bias)


def test_float32_stays_float32_and_float16_is_computed_in_float32():
    y = F.linear_cross_entropy(X.astype(np.float32), W.astype(np.float32), T)
    assert y.dtype == np.float32
    w32 = mg.Variable(W.astype(np.float32))
    mixed = F.linear_cross_entropy(X, w32, T)  # promoted as linear promotes; the gradient cast back
    mixed.backward()
    assert mixed.dtype == np.float64 and w32.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, F.linear_cross_entropy(X, W, T).data, rtol=1e-5)
    h = [mg.Variable(a.astype(np.float16)) for a in (X, W)]
    y16 = F.linear_cross_entropy(*h, T)
    y16.backward()
    assert y16.dtype == np.float16 and h[1].grad.dtype == np.float16
    ref = F.softmax_cross_entropy(F.linear(*(a.astype(np.float16).astype(np.float32) for a in (X, W))), T)
    np.testing.assert_allclose(float(y16), float(ref), rtol=1e-3)


def test_a_frozen_weight_gets_no_gradient_work():
    x = mg.Variable(X)
    y = F.linear_cross_entropy(x, W, T)  # W a plain array: no gradient wanted
    assert y.creator.grads[1] is None and y.creator.grads[0] is not None
    y.backward()
    xr = mg.Variable(X)
    F.softmax_cross_entropy(F.linear(xr, W), T).backward()
    np.testing.assert_allclose(x.grad.data, xr.grad.data, rtol=1e-12)


def test_no_logits_sized_array_is_made():
    """Peak traced memory of forward + backward, beyond the inputs and the gradients, under 0.1x the logits."""
    n, d, v = 2048, 16, 4096
    x, w = (mg.Variable(RNG.standard_normal(s).astype(np.float32)) for s in ((n, d), (d, v)))
    t = RNG.integers(0, v, n)
    tracemalloc.start()
    F.linear_cross_entropy(x, w, t).backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    gradients = (n * d + d * v) * 4
    assert peak - gradients < 0.1 * n * v * 4, (peak - gradients) / (n * v * 4)


def test_the_layer_gives_logits_or_the_fused_loss(tmp_path):
    np.random.seed(0)
    head = L.LinearCrossEntropy(V, label_smoothing=0.1)
    h = mg.Variable(X)
    loss = head(h, T)
    np.testing.assert_allclose(loss.data, F.softmax_cross_entropy(head(h), T, label_smoothing=0.1).data,
                               rtol=1e-12)
    loss.backward()
    assert head.W.grad.shape == (D, V) and head.b.grad.shape == (V,)
    with pytest.raises(TypeError, match="unknown loss option 'smoothing'"):
        L.LinearCrossEntropy(V, smoothing=0.1)


BAD = [
    (lambda: F.linear_cross_entropy(X[0], W, T), ValueError, r"x of shape \(5,\) and W of shape \(5, 11\)"),
    (lambda: F.linear_cross_entropy(X, W.T, T), ValueError, "expected x \\(N, D\\) and W \\(D, V\\)"),
    (lambda: F.linear_cross_entropy(X, W, T, B[:3]), ValueError, r"b of shape \(3,\) does not match"),
    (lambda: F.linear_cross_entropy(X, W, T[:5]), ValueError, r"target of shape \(5,\) .* \(23,\)"),
    (lambda: F.linear_cross_entropy(X, W, np.full(N, V)), IndexError, "11"),
    (lambda: F.linear_cross_entropy(X, W, np.full(N, -1)), IndexError, "-1"),
    (lambda: F.linear_cross_entropy(X, W, T, chunk_size=0), ValueError, "chunk_size must be a positive int"),
    (lambda: F.linear_cross_entropy(X, W, T, label_smoothing=1.5), ValueError, "linear_cross_entropy: label_sm"),
    (lambda: F.linear_cross_entropy(X, W, T, reduction="avg"), ValueError, "reduction"),
    (lambda: F.linear_cross_entropy(X, W, T, weight=np.ones(3)), ValueError, r"weight of shape \(3,\)"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_name_what_was_expected(call, error, message):
    before = X.copy(), W.copy(), T.copy()
    with pytest.raises(error, match=message):
        call()
    for a, b in zip((X, W, T), before):
        np.testing.assert_array_equal(a, b)


def test_against_torch():
    torch = pytest.importorskip("torch")
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (X, W.T.copy(), B))
    ty = torch.nn.functional.linear_cross_entropy(tx, tw, torch.tensor(T), linear_bias=tb, weight=torch.tensor(CW),
                                                  ignore_index=-100, label_smoothing=0.2)
    ty.backward()
    vs = [mg.Variable(a) for a in (X, W, B)]
    y = F.linear_cross_entropy(vs[0], vs[1], T, vs[2], weight=CW, label_smoothing=0.2, chunk_size=5)
    y.backward()
    np.testing.assert_allclose(y.data, ty.item(), rtol=1e-12)
    for v, t in zip(vs, (tx.grad.numpy(), tw.grad.numpy().T, tb.grad.numpy())):
        np.testing.assert_allclose(v.grad.data, t, rtol=1e-10, atol=1e-13)


def _layouts(a):
    """a in C order, F order, as a transposed copy's view, and as a slice of a wider array (leading dim > cols)."""
    wide = np.zeros((a.shape[0] + 3, a.shape[1] + 5), a.dtype)
    wide[2:2 + a.shape[0], 1:1 + a.shape[1]] = a
    return [a, np.asfortranarray(a), a.T.copy().T, wide[2:2 + a.shape[0], 1:1 + a.shape[1]]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
@pytest.mark.parametrize("shape", [(7, 5, 9), (1, 6, 4), (6, 1, 4), (6, 4, 1), (0, 3, 2), (3, 0, 2), (4, 3, 0)])
def test_add_product_adds_a_times_b_into_c_for_every_layout(dtype, shape):
    """blas.add_product (the linear cross entropy's gW accumulation, docs/losses.md#linear_cross_entropy):
    c += a @ b by one GEMM with beta = 1, against the float64 formula, for every layout of a and b and for c as a
    slice of a wider array (nothing outside it written); other dtypes and layouts take NumPy's product."""
    from minigrad import blas
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    A = (rng.standard_normal((m, k)) * 4).astype(dtype)
    B = (rng.standard_normal((k, n)) * 4).astype(dtype)
    C = (rng.standard_normal((m, n)) * 4).astype(dtype)
    ref = C.astype(np.float64) + A.astype(np.float64) @ B.astype(np.float64)
    tol = {np.float16: 0.1, np.float32: 1e-4}.get(dtype, 1e-12)
    for a in _layouts(A):
        for b in _layouts(B):
            wide = np.full((m + 2, n + 4), 7, dtype)
            c = wide[1:1 + m, 2:2 + n]
            c[...] = C
            assert blas.add_product(a, b, c) is c
            np.testing.assert_allclose(c, ref, rtol=tol, atol=tol * np.abs(ref).max(initial=1))
            wide[1:1 + m, 2:2 + n] = 7
            assert (wide == 7).all()


def test_add_product_uses_one_gemm_and_falls_back_where_memory_overlaps(monkeypatch):
    from minigrad import blas
    if blas._gemm(np.float32) is None:
        pytest.skip("NumPy's BLAS is not the bundled OpenBLAS")
    calls = []
    real = blas._gemm(np.float32)
    monkeypatch.setattr(blas, "_gemm", lambda dtype: (lambda *args: calls.append(args) or real(*args)))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4), dtype=np.float32), rng.standard_normal((4, 5), dtype=np.float32)
    c = np.zeros((5, 5), np.float32)
    blas.add_product(a.T.copy().T, b, c)
    assert len(calls) == 1
    np.testing.assert_allclose(c, a @ b, rtol=1e-6, atol=1e-6)
    s = rng.standard_normal((5, 5), dtype=np.float32)
    ref = s + s @ s
    blas.add_product(s, s, s)  # c is a and b: NumPy's product first, then the sum
    assert len(calls) == 1
    np.testing.assert_allclose(s, ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(5, 4\) @ \(5, 5\)"):
        blas.add_product(a, c, c)
    with pytest.raises(ValueError, match="read-only"):
        blas.add_product(a, b, np.broadcast_to(np.float32(0), (5, 5)))
