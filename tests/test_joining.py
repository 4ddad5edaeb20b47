"""concat, stack, split, flatten, expand_dims, squeeze, argmax, one_hot against NumPy and torch (docs/ops.md)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F


def test_concat_matches_numpy_and_sends_each_piece_its_gradient():
    rng = np.random.default_rng(0)
    a, b = mg.Parameter(rng.standard_normal((2, 3))), mg.Parameter(rng.standard_normal((2, 1)))
    y = F.concat([a, b, a], axis=-1)
    np.testing.assert_array_equal(y.data, np.concatenate([a.data, b.data, a.data], axis=1))
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    np.testing.assert_array_equal(a.grad.data, gy[:, :3] + gy[:, 4:])
    np.testing.assert_array_equal(b.grad.data, gy[:, 3:4])


def test_concat_promotes_and_casts_gradients_back():
    a = mg.Parameter(np.ones((1, 2), np.float32))
    b = mg.Parameter(np.ones((3, 2), np.float64))
    y = F.concat([a, b])
    assert y.dtype == np.float64 and y.shape == (4, 2)
    F.sum(y).backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_stack_matches_numpy():
    xs = [np.random.default_rng(i).standard_normal((2, 3)) for i in range(3)]
    for axis in (0, 1, 2, -1):
        np.testing.assert_array_equal(F.stack(xs, axis).data, np.stack(xs, axis))


@pytest.mark.parametrize("sections, sizes", [(2, [2, 2, 1]), (5, [5]), (7, [5]), ([1, 0, 4], [1, 0, 4])])
def test_split_follows_torch(sections, sizes):
    x = mg.Parameter(np.arange(10.0).reshape(5, 2))
    ys = F.split(x, sections)
    assert [len(y) for y in ys] == sizes
    np.testing.assert_array_equal(np.concatenate([y.data for y in ys]), x.data)
    F.sum(ys[-1]).backward()  # the pieces without a gradient get zeros
    expected = np.zeros((5, 2))
    expected[5 - sizes[-1]:] = 1
    np.testing.assert_array_equal(x.grad.data, expected)


def test_split_matches_torch_split():
    torch = pytest.importorskip("torch")
    x = np.arange(24.0).reshape(2, 12)
    for s in (5, [3, 9], 12):
        ours = [y.data for y in F.split(x, s, axis=1)]
        theirs = [t.numpy() for t in torch.split(torch.tensor(x), s, dim=1)]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, match", [
    (lambda: F.concat([np.ones((2, 3)), np.ones((3, 2))]), r"xs\[1\] of shape \(3, 2\) does not match"),
    (lambda: F.concat([np.ones(2), np.ones((2, 1))]), r"xs\[1\] has 2 dimensions"),
    (lambda: F.concat([]), "at least one"),
    (lambda: F.concat(np.ones((2, 2))), "list or tuple"),
    (lambda: F.concat([np.ones(2)], axis=1), "axis 1 is out of range"),
    (lambda: F.stack([np.ones(2), np.ones(3)]), r"xs\[1\] of shape \(3,\) differs"),
    (lambda: F.split(np.ones(5), [2, 2]), r"adding up to 5"),
    (lambda: F.split(np.ones(5), 0), "at least 1"),
    (lambda: F.split(np.ones(5), 2.0), "an int or a list"),
    (lambda: F.squeeze(np.ones((2, 1)), 0), "axis 0 of x of shape \\(2, 1\\) has length 2"),
    (lambda: F.flatten(np.ones((2, 3, 4)), 2, 1), "comes after"),
    (lambda: F.one_hot(np.array([0, -1, 2]), 3), r"index -1 is outside \[0, 3\)"),
    (lambda: F.one_hot(np.array([0, 3]), 3), r"index 3 is outside"),
    (lambda: F.one_hot(np.array([0.0]), 3), "integer class indices"),
    (lambda: F.argmax(np.ones((2, 0)), axis=1), "no elements"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_flatten_expand_dims_squeeze_match_numpy_and_torch():
    x = np.random.default_rng(1).standard_normal((2, 1, 3, 1))
    assert F.flatten(x).shape == (6,)
    assert F.flatten(x, 1).shape == (2, 3)
    assert F.flatten(x, 1, 2).shape == (2, 3, 1)
    assert F.expand_dims(x, -1).shape == np.expand_dims(x, -1).shape
    assert F.squeeze(x).shape == (2, 3)
    assert F.squeeze(x, (1, 3)).shape == (2, 3)
    torch = pytest.importorskip("torch")
    t = torch.tensor(x)
    assert F.flatten(x, 1, -2).shape == tuple(torch.flatten(t, 1, -2).shape)
    assert F.expand_dims(x, 2).shape == tuple(torch.unsqueeze(t, 2).shape)


def test_argmax_and_one_hot_match_numpy_and_take_no_gradient():
    x = mg.Parameter(np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, 5.0]]))
    assert F.argmax(x).data == 3  # the NaN, as NumPy and torch
    np.testing.assert_array_equal(F.argmax(x, axis=1).data, [1, 0])  # first of ties; the NaN
    assert F.argmax(x, axis=0, keepdims=True).shape == (1, 3)
    assert F.argmax(x).dtype == np.int64 and not F.argmax(x).requires_grad
    t = np.array([[2, 0], [1, 1]], dtype=np.uint8)
    y = F.one_hot(t)
    assert y.dtype == np.int64 and y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.data, np.eye(3, dtype=np.int64)[t])
    assert F.one_hot(t, 5, dtype=np.float32).dtype == np.float32
    torch = pytest.importorskip("torch")
    tt = torch.tensor(t.astype(np.int64))
    np.testing.assert_array_equal(F.one_hot(t, 4).data, torch.nn.functional.one_hot(tt, 4).numpy())


def test_split_gradients_already_side_by_side_are_joined_without_a_copy():
    """Split's backward (docs/ops.md#attention): gradients that lie side by side in one array along the split axis
    (as attention's gq, gk, gv of a split qkv) are one view of it, equal to the copy it would otherwise make; any
    other arrangement (apart, in another order, other strides, recording a graph) is copied as before."""
    from minigrad.ops.joining import Split, _side_by_side
    rng = np.random.default_rng(0)
    joint = rng.standard_normal((4, 3, 9))
    sizes = (2, 3, 4)
    pieces = np.split(joint, np.cumsum(sizes)[:-1], axis=-1)
    joined = _side_by_side([mg.Variable(p) for p in pieces], sizes, 2, joint.shape, joint.dtype)
    assert joined is not None and np.shares_memory(joined, joint)
    np.testing.assert_array_equal(joined, np.concatenate(pieces, axis=-1))
    for arranged in (pieces[::-1], [pieces[0], pieces[1].copy(), pieces[2]], [p.astype(np.float32) for p in pieces]):
        assert _side_by_side([mg.Variable(p) for p in arranged], sizes, 2, joint.shape, joint.dtype) is None
    x = mg.Variable(rng.standard_normal((4, 3, 9)))
    for create_graph in (False, True):
        x.grad = None
        ys = Split(sizes, 2)(x)
        (sum((y * mg.Variable(p)).sum() for y, p in zip(ys, pieces))).backward(create_graph=create_graph)
        np.testing.assert_array_equal(x.grad.data, joint)
        assert (x.grad.creator is not None) == create_graph


def test_multi_head_attention_joins_its_qkv_gradient_without_a_copy(monkeypatch):
    """MultiHeadAttention's q, k, v gradients are made side by side (kernels/heads.py), so the split of qkv
    joins them with no Concat; the gradients equal those of the copying path, bit for bit."""
    from minigrad import kernels
    from minigrad.ops import joining
    from minigrad.transformer import MultiHeadAttention
    if not kernels.installed():
        pytest.skip("numba is not installed: the per-head kernels do not run")
    mg.seed(0)
    m = MultiHeadAttention(16, 4)
    x = mg.Variable(np.random.default_rng(1).standard_normal((2, 5, 16)).astype(np.float32))
    grads, concats, forward = [], [], joining.Concat.forward
    monkeypatch.setattr(joining.Concat, "forward", lambda self, *xs: (concats.append(1), forward(self, *xs))[1])
    for joins in (True, False):
        if not joins:
            monkeypatch.setattr(joining, "_side_by_side", lambda *args: None)
        concats.clear()
        x.grad = None
        m.cleargrads()
        with mg.using_config("cpu_kernels", True):
            m(x, is_causal=True).backward(np.ones((2, 5, 16), np.float32))
        assert len(concats) == (0 if joins else 1)
        grads.append([x.grad.data] + [p.grad.data for p in m.params()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
