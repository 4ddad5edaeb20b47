"""scaled_dot_product_attention against torch (masks, causal, float32/16), its O(L) saved state, the transformer
layers and GPT (docs/ops.md#attention)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.ops.attention import ScaledDotProductAttention
from minigrad.transformer import GPT, MultiHeadAttention

RNG = np.random.default_rng(0)


def _qkv(batch=(2, 3), n_l=5, n_s=6, e=4, ev=3, dtype=np.float64):
    return tuple((RNG.standard_normal(batch + shape) * 2).astype(dtype)
                 for shape in ((n_l, e), (n_s, e), (n_s, ev)))


def _on_and_off(arrays, gy, **kwargs):
    """[y, gq, gk, gv] of attention over arrays with the CPU kernels on, then off (the dropout seed the same)."""
    results = []
    for on in (True, False):
        with mg.using_config("cpu_kernels", on):
            mg.seed(4)
            vs = [mg.Variable(a) for a in arrays]
            y = F.scaled_dot_product_attention(*vs, **kwargs)
            y.backward(gy)
            results.append([y.data] + [v.grad.data for v in vs])
    return results


MASKS = {
    "none": lambda: {},
    "causal": lambda: {"is_causal": True},
    "boolean": lambda: {"mask": RNG.random((5, 6)) > 0.3},
    "boolean per head": lambda: {"mask": RNG.random((2, 3, 5, 6)) > 0.5},
    "additive": lambda: {"mask": RNG.standard_normal((3, 1, 6))},
    "scale": lambda: {"scale": 0.3},
}


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", MASKS)
def test_matches_torch(kind, dtype, rtol):
    torch = pytest.importorskip("torch")
    kwargs = MASKS[kind]()
    arrays = _qkv(dtype=dtype)
    vs = [mg.Variable(a) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.scaled_dot_product_attention(*vs, **kwargs)
    tk = {"is_causal": kwargs.get("is_causal", False), "scale": kwargs.get("scale")}
    if "mask" in kwargs:
        tk["attn_mask"] = torch.tensor(kwargs["mask"].astype(dtype) if kwargs["mask"].dtype != bool else kwargs["mask"])
    yt = torch.nn.functional.scaled_dot_product_attention(*ts, **tk)
    gy = RNG.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=rtol)
    for v, t in zip(vs, ts):
        np.testing.assert_allclose(v.grad.data, t.grad.numpy(), rtol=rtol, atol=rtol)


def test_a_query_with_nothing_to_attend_gives_zeros_and_zero_gradients():
    q, k, v = (mg.Variable(a) for a in _qkv())
    mask = np.ones((5, 6), bool)
    mask[2] = False
    y = F.scaled_dot_product_attention(q, k, v, mask=mask)
    assert not np.isnan(y.data).any() and not y.data[:, :, 2].any()
    F.sum(y * y).backward()
    assert not np.isnan(q.grad.data).any() and not q.grad.data[:, :, 2].any()
    additive = np.where(mask, 0.0, -np.inf)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, mask=additive).data, y.data)


def test_blocks_of_query_rows_give_the_same_result(monkeypatch):
    arrays = _qkv(n_l=9, n_s=7)
    whole = [F.scaled_dot_product_attention(*arrays, is_causal=True).data]
    monkeypatch.setattr("minigrad.ops.attention.BLOCK", 30)  # blocks of 30 // (7 * 6) = 1 row
    vs = [mg.Variable(a) for a in arrays]
    y = F.scaled_dot_product_attention(*vs, is_causal=True)
    np.testing.assert_allclose(y.data, whole[0], rtol=1e-12, atol=1e-15)  # BLAS sums smaller products
    assert mg.gradcheck(lambda *a: F.scaled_dot_product_attention(*a, is_causal=True), list(arrays))


def test_dropout_is_repeatable_from_its_seed_and_unbiased():
    arrays = _qkv(batch=(64,), n_l=8, n_s=8)
    mg.seed(1)
    a = F.scaled_dot_product_attention(*arrays, dropout=0.5).data
    mg.seed(1)
    b = F.scaled_dot_product_attention(*arrays, dropout=0.5).data
    np.testing.assert_array_equal(a, b)
    plain = F.scaled_dot_product_attention(*arrays).data
    draws = np.mean([F.scaled_dot_product_attention(*arrays, dropout=0.5).data for _ in range(200)], axis=0)
    assert abs(draws - plain).mean() < 0.1 * abs(plain).mean()
    with mg.test_mode():  # no dropout outside training
        np.testing.assert_array_equal(F.scaled_dot_product_attention(*arrays, dropout=0.5).data, plain)
    mg.seed(2)
    assert mg.gradcheck(lambda *x: (mg.seed(2), F.scaled_dot_product_attention(*x, dropout=0.3))[1],
                        [a[:2] for a in arrays])


@pytest.mark.parametrize("kernels_on", [True, False])
def test_causal_blocks_against_keys_up_to_their_last_row_match_one_block(kernels_on, monkeypatch):
    """Causal attention in query blocks of 3 rows, each against the keys up to its last row only (the scores
    above the diagonal never made), dropout included: the values and gradients of one block of every row, and
    the plain backward equals the recorded one (create_graph), which draws the dropout block by block too."""
    arrays = _qkv(batch=(2,), n_l=8, n_s=10)
    gy = RNG.standard_normal((2, 8, 3))
    results = []
    with mg.using_config("cpu_kernels", kernels_on):
        for rows in (8, 3):
            monkeypatch.setattr("minigrad.ops.attention.CAUSAL_ROWS", rows)
            for create_graph in (False, True):
                mg.seed(5)
                vs = [mg.Variable(a) for a in arrays]
                y = F.scaled_dot_product_attention(*vs, is_causal=True, dropout=0.3 if rows == 3 else 0.0)
                results.append([y.data] + [g.data for g in mg.grad(y, vs, gy, create_graph=create_graph)])
    for got in results[1:]:
        for a, b in zip(got, results[0] if got is results[1] else results[2]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    mg.seed(6)  # without dropout the blocks give one block's answer
    monkeypatch.setattr("minigrad.ops.attention.CAUSAL_ROWS", 3)
    with mg.using_config("cpu_kernels", kernels_on):
        vs = [mg.Variable(a) for a in arrays]
        y = F.scaled_dot_product_attention(*vs, is_causal=True)
        grads = mg.grad(y, vs, gy)
    for a, b in zip([y.data] + [g.data for g in grads], results[0]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "numpy"])
@pytest.mark.parametrize("kind", ["none", "causal in blocks", "boolean per batch", "additive broadcast"])
def test_a_batch_spread_over_threads_gives_the_answer_of_one_call(kind, kernels_on, monkeypatch):
    """The batch's first axis in slices over the CPU threads, OpenBLAS on one thread each (docs/ops.md#attention):
    values and gradients of one call over the whole batch (to float32 rounding: NumPy's vector loops sum in an
    order that depends on where a slice starts in memory), masks sliced with the batch where they have its axis,
    zeros for a fully masked row; BLAS's thread count restored."""
    from minigrad import blas
    mask = RNG.random((4, 3, 5, 6)) > 0.3
    mask[1, 2, 3] = False
    kwargs = {"none": {}, "causal in blocks": {"is_causal": True}, "boolean per batch": {"mask": mask},
              "additive broadcast": {"mask": RNG.standard_normal((3, 1, 6))}}[kind]
    if kind == "causal in blocks":
        monkeypatch.setattr("minigrad.ops.attention.CAUSAL_ROWS", 2)
    arrays = _qkv(batch=(4, 3), dtype=np.float32)
    gy = RNG.standard_normal((4, 3, 5, 3)).astype(np.float32)
    threads = blas.controls().get() if blas.controls() else None
    results = []
    with mg.using_config("cpu_kernels", kernels_on):
        for split in (1 << 40, 1):
            monkeypatch.setattr("minigrad.ops.attention.SPLIT", split)
            monkeypatch.setattr("minigrad.ops.attention.workers", lambda: 2)
            vs = [mg.Variable(a) for a in arrays]
            y = F.scaled_dot_product_attention(*vs, **kwargs)
            y.backward(gy)
            results.append([y.data] + [v.grad.data for v in vs])
    for a, b in zip(*results):  # float32 rounding of sums whose terms reach the array's largest value
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5 * np.abs(b).max())
    assert not np.isnan(results[1][0]).any()
    if "mask" in kwargs and kwargs["mask"].dtype == bool:  # query 3 of batch (1, 2) attends to nothing
        assert not results[1][0][1, 2, 3].any() and not results[1][1][1, 2, 3].any()
    if threads is not None:
        assert blas.controls().get() == threads


def test_the_saved_state_is_one_number_per_query_row():
    q, k, v = (mg.Variable(a) for a in _qkv(batch=(2, 4), n_l=64, n_s=64, e=8, ev=8, dtype=np.float32))
    f = ScaledDotProductAttention(None, True, 0.3, 0.0, 0)
    y = f(q, k, v)
    saved = [a for a in vars(f).values() if isinstance(a, np.ndarray)]
    assert [a.shape for a in saved] == [(2, 4, 64)] or {a.shape for a in saved} <= {(2, 4, 64), (64, 64)}
    extra = sum(a.nbytes for a in saved if a.shape == (2, 4, 64))
    assert extra <= 0.1 * 64 * 64 * 4 * 8  # at most 0.1x of one L x L float32 matrix per head (8 heads)
    assert y.shape == (2, 4, 64, 8)


def test_float16_is_computed_in_float32():
    arrays = _qkv(dtype=np.float16)
    vs = [mg.Variable(a) for a in arrays]
    y = F.scaled_dot_product_attention(*vs, is_causal=True)
    assert y.dtype == np.float16
    ref = F.scaled_dot_product_attention(*[a.astype(np.float32) for a in arrays], is_causal=True).data
    np.testing.assert_array_equal(y.data, ref.astype(np.float16))
    F.sum(y).backward()
    assert all(v.grad.dtype == np.float16 for v in vs)


@pytest.mark.parametrize("call, match", [
    (lambda q, k, v: F.scaled_dot_product_attention(q, k[..., :2], v), "do not match"),
    (lambda q, k, v: F.scaled_dot_product_attention(q[0, 0, 0], k, v), "of one rank"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask=np.ones((4, 6), bool)),
     r"mask of shape \(4, 6\) does not broadcast"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask=np.ones((5, 6), int)), "boolean"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask=np.ones((5, 6), bool), is_causal=True),
     "not both"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout=1.0), r"dropout must be in \[0, 1\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q[..., :0], k[..., :0], v),
     r"q of shape \(2, 3, 5, 0\) has E = 0 features.*give scale"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(*_qkv())


def test_no_features_with_a_scale_attend_uniformly():
    """E = 0 with a scale given: every score is 0, so each query averages the values of the keys it sees."""
    q, k, v = _qkv()
    y = F.scaled_dot_product_attention(q[..., :0], k[..., :0], v, is_causal=True, scale=0.5).data
    np.testing.assert_allclose(y, np.cumsum(v, axis=-2)[..., :5, :] / np.arange(1, 6)[:, None], rtol=1e-12)


def test_multi_head_attention_matches_torch():
    torch = pytest.importorskip("torch")
    mha = MultiHeadAttention(8, 2, dtype=np.float64)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.tensor(mha.qkv.W.data.T))
        ref.in_proj_bias.copy_(torch.tensor(mha.qkv.b.data))
        ref.out_proj.weight.copy_(torch.tensor(mha.proj.W.data.T))
        ref.out_proj.bias.copy_(torch.tensor(mha.proj.b.data))
    x = RNG.standard_normal((3, 5, 8))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    theirs, _ = ref(*(torch.tensor(x),) * 3, attn_mask=causal, need_weights=False)
    np.testing.assert_allclose(mha(x, is_causal=True).data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tie", [False, True], ids=["head", "tied"])
def test_gpt_is_causal_and_its_loss_is_the_logits_cross_entropy(tie):
    mg.seed(0)
    model = GPT(11, 2, 2, 8, 6, tie_weights=tie, dtype=np.float64)
    ids = RNG.integers(0, 11, (3, 6))
    t = RNG.integers(0, 11, (3, 6))
    logits = model(ids)
    changed = ids.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 11  # the future: the first four positions must not see it
    np.testing.assert_allclose(model(changed).data[:, :4], logits.data[:, :4], rtol=1e-12)
    loss = model(ids, t)
    ref = F.softmax_cross_entropy(F.reshape(logits, (18, 11)), t.reshape(-1))
    assert float(loss.data) == pytest.approx(float(ref.data), rel=1e-12)
    assert ("head/W" in dict(model.named_params())) != tie
    loss.backward()
    assert all(p.grad is not None for p in model.params())


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", ["none", "scale", "causal", "causal in blocks", "boolean", "fully masked row",
                                  "dropout", "non-finite"])
def test_the_cpu_kernel_rows_match_the_numpy_path(kind, dtype, rtol, monkeypatch):
    """docs/kernels.md: the softmax-with-logsumexp and dS rows of the kernels (the scale and the causal mask
    applied in their pass where there is no mask array) against the NumPy path."""
    from minigrad import kernels
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    mask = RNG.random((5, 6)) > 0.3
    mask[1] = False
    kwargs = {"none": {}, "scale": {"scale": 0.7}, "causal": {"is_causal": True}, "causal in blocks": {"is_causal": True},
              "boolean": {"mask": mask}, "fully masked row": {"mask": mask},
              "dropout": {"dropout": 0.4, "is_causal": True}, "non-finite": {}}[kind]
    if kind == "causal in blocks":  # query rows in blocks of 2, the kernels' rows in blocks of 1 over the threads
        monkeypatch.setattr("minigrad.ops.attention.BLOCK", 2 * 6 * 6)
        monkeypatch.setattr("minigrad.kernels.attention.BLOCK", 6)
    arrays = _qkv(dtype=dtype)
    if kind == "non-finite":
        arrays[0][0, 0, 1, 2], arrays[0][1, 2, 3, 0], arrays[1][0, 1, 4, 1] = np.inf, np.nan, -np.inf
    gy = RNG.standard_normal((2, 3, 5, 3)).astype(dtype)
    results = _on_and_off(arrays, gy, **kwargs)
    np.testing.assert_array_equal(np.isnan(results[0][0]), np.isnan(results[1][0]))
    for a, b in zip(*results):
        # a row of scores holding +inf has no softmax: the kernel makes the whole row NaN, the NumPy path the
        # +inf entry alone, so the gradients' NaN reach further on the kernel; never a number where NumPy has NaN
        assert (np.isnan(a) >= np.isnan(b)).all() and (kind == "non-finite" or (np.isnan(a) == np.isnan(b)).all())
        both = ~np.isnan(a) & ~np.isnan(b)
        np.testing.assert_allclose(a[both], b[both], rtol=rtol, atol=rtol)


def _heads_counted(monkeypatch):
    """A list that gets one entry per call of the per-head kernels' forward (so a test knows they ran)."""
    import minigrad.kernels.heads as kernel
    calls, forward = [], kernel.heads_forward

    def counted(*args):
        calls.append(args[0].shape)
        return forward(*args)
    monkeypatch.setattr(kernel, "heads_forward", counted)
    return calls


LAYOUTS_4D = ["C", "F", "negative-stride", "sliced", "broadcast", "read-only", "heads transposed"]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("layout", LAYOUTS_4D)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_the_per_head_kernels_match_the_numpy_path_across_layouts(layout, causal, dtype, rtol, monkeypatch):
    """docs/kernels.md: without a mask array or dropout, each head runs on the per-head kernels (its products by
    NumPy's BLAS GEMM from compiled code, reading rows in place at their leading dimension): values and gradients
    against the NumPy path for q, k, v in every layout, heads in row blocks of 2 (the widest first, the others
    adding to gk and gv), L < S and L > S; the caller's arrays untouched."""
    from minigrad import kernels
    from layouts import laid_out
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    monkeypatch.setattr("minigrad.kernels.heads.HEAD_ROWS", 2 * 9)
    calls = _heads_counted(monkeypatch)
    for n_l, n_s in ((5, 9), (9, 4)):
        arrays = _qkv(batch=(2, 3), n_l=n_l, n_s=n_s, e=4, ev=3, dtype=dtype)
        if layout == "heads transposed":  # as MultiHeadAttention makes them: (N, T, 3, H, E) viewed as (N, H, T, E)
            arrays = tuple(np.ascontiguousarray(a.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3) for a in arrays)
        else:
            arrays = laid_out(arrays, layout)
        before = [a.copy() for a in arrays]
        gy = RNG.standard_normal((2, 3, n_l, 3)).astype(dtype)
        results = _on_and_off(arrays, gy, is_causal=causal)
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
        for a, b in zip(arrays, before):
            np.testing.assert_array_equal(a, b)
    assert len(calls) == 2


@pytest.mark.parametrize("n_l, n_s", [(70, 70), (70, 40), (33, 90)])
def test_causal_blocks_of_query_rows_match_the_numpy_path(n_l, n_s, monkeypatch):
    """docs/kernels.md: under a causal mask the per-head kernels take CAUSAL_ROWS (32) query rows at a time, here
    blocks of 32, 32 and 6 (or 32 and 1), each seeing only the keys up to its last row: values and gradients
    against the NumPy path."""
    from minigrad import kernels
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    import minigrad.kernels.heads as heads
    assert heads.CAUSAL_ROWS == 32 and heads.HEAD_ROWS // n_s > 32
    calls = _heads_counted(monkeypatch)
    arrays = _qkv(batch=(2, 2), n_l=n_l, n_s=n_s, e=8, ev=5, dtype=np.float64)
    gy = RNG.standard_normal((2, 2, n_l, 5))
    results = _on_and_off(arrays, gy, is_causal=True)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert len(calls) == 1


@pytest.mark.parametrize("batch", [(), (3,), (2, 1, 3)], ids=["2-d", "3-d", "5-d"])
def test_the_per_head_kernels_take_any_number_of_leading_axes(batch, monkeypatch):
    """2-d, 3-d and 5-d q, k, v on the per-head kernels (seen as 4-d) against the NumPy path, with float32 inputs
    holding inf and NaN: NaN where the NumPy path has it (docs/kernels.md: a row holding +inf is NaN as a whole)."""
    from minigrad import kernels
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    calls = _heads_counted(monkeypatch)
    arrays = _qkv(batch=batch, n_l=6, n_s=6, dtype=np.float32)
    arrays[1][..., 4, 1] = np.nan
    gy = RNG.standard_normal(batch + (6, 3)).astype(np.float32)
    results = _on_and_off(arrays, gy, is_causal=True)
    for a, b in zip(*results):
        assert (np.isnan(a) >= np.isnan(b)).all()
        both = ~np.isnan(a) & ~np.isnan(b)
        np.testing.assert_allclose(a[both], b[both], rtol=2e-5, atol=2e-5)
    assert not np.isnan(results[0][0][..., :4, :]).any()  # causal: queries before key 4 never see its NaN
    assert len(calls) == 1


def test_without_numpys_blas_the_row_kernels_take_over(monkeypatch):
    """Where NumPy's BLAS is not OpenBLAS (no GEMM address), the per-head kernels step aside: the same answer."""
    from minigrad import kernels
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    arrays = _qkv(dtype=np.float32)
    results = []
    for address in (None, 0):
        if address is not None:
            monkeypatch.setattr("minigrad.blas.gemm_address", lambda dtype: 0)
        calls = _heads_counted(monkeypatch)
        with mg.using_config("cpu_kernels", True):
            vs = [mg.Variable(a) for a in arrays]
            y = F.scaled_dot_product_attention(*vs, is_causal=True)
            y.backward(np.ones_like(y.data))
        results.append([y.data] + [v.grad.data for v in vs])
        assert len(calls) == (1 if address is None else 0)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("kind", ["side by side", "overlapping", "one array"])
def test_views_of_one_array_get_gradients_of_their_own(kind, monkeypatch):
    """q, k, v as views of one array: side by side (MultiHeadAttention's split), overlapping (one element apart)
    or the same array thrice. The per-head kernels put gq, gk, gv side by side in one new array only in the first
    case (kernels/heads.py); each gradient matches the NumPy path's, the input array's gradient too."""
    from minigrad import kernels
    if not kernels.installed():
        pytest.skip("numba is not installed: the NumPy path is the only one")
    base = RNG.standard_normal((2, 5, 12)).astype(np.float32)
    results = []
    for on in (True, False):
        with mg.using_config("cpu_kernels", on):
            a = mg.Variable(base)
            if kind == "side by side":
                q, k, v = F.split(a, 4, axis=-1)
            elif kind == "overlapping":
                q, k, v = a[..., 0:4], a[..., 1:5], a[..., 2:6]
            else:
                q = k = v = a
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            y.backward(np.cos(y.data))
            results.append((y.data, a.grad.data))
    for x, y in zip(*results):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("batch, n_l, n_s", [((0, 2), 3, 4), ((2, 2), 0, 4), ((2, 2), 3, 0)],
                         ids=["N=0", "L=0", "S=0"])
def test_empty_inputs_give_the_numpy_paths_answer(batch, n_l, n_s):
    """An empty batch, no query or no key: the per-head kernels step aside (heads_fit) and the answer is the NumPy
    path's: shapes kept, zeros for a query with no key, zero gradients, no NaN."""
    arrays = _qkv(batch=batch, n_l=n_l, n_s=n_s, e=2, ev=3, dtype=np.float32)
    gy = RNG.standard_normal(batch + (n_l, 3)).astype(np.float32)
    on, off = _on_and_off(arrays, gy, is_causal=True)
    for a, b, like in zip(on, off, (gy,) + arrays):
        assert a.shape == b.shape == like.shape and not np.isnan(a).any()
        np.testing.assert_array_equal(a, b)
    if n_s == 0:
        assert not on[0].any() and not on[1].any()
