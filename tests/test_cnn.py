"""Convolution, pooling and batch norm against plain loops, their adjoints and torch
(docs/design.md#images-convolution-pooling-batch-norm)."""
import threading

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad import layers as L

RNG = np.random.default_rng(0)


def conv_loop(x, W, b, stride, pad):
    """conv2d by its definition, one output element at a time, in float64."""
    (sh, sw), (ph, pw) = stride, pad
    n, c, h, w = x.shape
    oc, _, kh, kw = W.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((n, oc, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, W)
    return y if b is None else y + b[:, None, None]


def pool_loop(x, k, s, p, reduce, fill):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p, w + 2 * p), fill)
    xp[:, :, p:p + h, p:p + w] = x
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return np.array([[[[reduce(xp[a, b, i * s:i * s + k, j * s:j * s + k]) for j in range(ow)] for i in range(oh)]
                      for b in range(c)] for a in range(n)])


CONVS = [((1, 1), (0, 0)), ((2, 2), (1, 1)), ((2, 1), (0, 2)), ((3, 3), (2, 1))]


@pytest.mark.parametrize("stride, pad", CONVS, ids=str)
def test_conv2d_is_the_definition(stride, pad):
    x, W, b = RNG.standard_normal((2, 3, 7, 6)), RNG.standard_normal((4, 3, 3, 2)), RNG.standard_normal(4)
    y = F.conv2d(x, W, b, stride, pad)
    np.testing.assert_allclose(y.data, conv_loop(x, W, b, stride, pad), rtol=1e-12, atol=1e-12)
    y32 = F.conv2d(x.astype(np.float32), W.astype(np.float32), b.astype(np.float32), stride, pad)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.data, y.data, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride, pad", CONVS, ids=str)
def test_deconv2d_and_col2im_are_the_adjoints(stride, pad):
    """<conv2d(x, W), y> = <x, deconv2d(y, W)> and <im2col(x), c> = <x, col2im(c)>, exactly the transposes."""
    x, W = RNG.standard_normal((2, 3, 7, 6)), RNG.standard_normal((4, 3, 3, 2))
    y = RNG.standard_normal(F.conv2d(x, W, None, stride, pad).shape)
    back = F.deconv2d(y, W, None, stride, pad, outsize=(7, 6))
    np.testing.assert_allclose(np.sum(F.conv2d(x, W, None, stride, pad).data * y), np.sum(x * back.data),
                               rtol=1e-12)
    for to_matrix in (True, False):
        col = F.im2col(x, (3, 2), stride, pad, to_matrix=to_matrix)
        c = RNG.standard_normal(col.shape)
        np.testing.assert_allclose(np.sum(col.data * c), np.sum(x * F.col2im(c, x.shape, (3, 2), stride, pad,
                                                                                 to_matrix=to_matrix).data),
                                   rtol=1e-12)
    cols = F.im2col(x, (3, 2), stride, pad).data  # DeZero's matrix: rows (n, oh, ow), columns (c, kh, kw)
    np.testing.assert_allclose(cols @ W.reshape(4, -1).T,
                               conv_loop(x, W, None, stride, pad).transpose(0, 2, 3, 1).reshape(-1, 4), rtol=1e-12)


def test_deconv2d_default_outsize_and_stride_one():
    x, W = RNG.standard_normal((2, 3, 4, 5)), RNG.standard_normal((3, 2, 3, 3))
    assert F.deconv2d(x, W, stride=2, pad=1).shape == (2, 2, 7, 9)  # s (H - 1) + K - 2 p
    assert F.deconv2d(x, W, stride=2, pad=1, outsize=(8, 10)).shape == (2, 2, 8, 10)
    W1 = RNG.standard_normal((4, 3, 3, 2))
    for pad in [(1, 1), (2, 2)]:  # stride 1: a flipped convolution, or a scatter where pad >= the kernel
        y = RNG.standard_normal(F.conv2d(x, W1, pad=pad).shape)
        np.testing.assert_allclose(np.sum(F.conv2d(x, W1, pad=pad).data * y),
                                   np.sum(x * F.deconv2d(y, W1, pad=pad).data), rtol=1e-12)


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)], ids=str)
def test_pooling_is_the_definition(k, s, p):
    x = RNG.standard_normal((2, 3, 6, 5))
    np.testing.assert_array_equal(F.max_pooling(x, k, s, p).data, pool_loop(x, k, s, p, np.max, -np.inf))
    np.testing.assert_allclose(F.average_pooling(x, k, s, p).data, pool_loop(x, k, s, p, np.mean, 0.0), rtol=1e-12)
    np.testing.assert_array_equal(F.pooling(x, k, s, p).data, F.max_pooling(x, k, s, p).data)
    assert F.max_pooling(x, 2).shape == (2, 3, 5, 4)  # DeZero's default stride 1


def test_max_pooling_gradient_goes_to_the_first_maximum_and_nans_win():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 2] = np.nan
    v = mg.Variable(x)
    y = F.max_pooling(v, 2, 2)
    y.backward(np.array([[[[2.0, 3.0]]]]))
    assert y.data[0, 0, 0, 0] == 0 and np.isnan(y.data[0, 0, 0, 1])
    np.testing.assert_array_equal(v.grad.data, [[[[2.0, 0, 0, 0], [0, 0, 3.0, 0]]]])


def bn_reference(x, gamma, beta, eps):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu, var = x.mean(axis=axes), x.var(axis=axes)
    y = (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
    return y, mu, var * (x.size // x.shape[1]) / (x.size // x.shape[1] - 1)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 5)], ids=str)
def test_batch_norm_training_and_test_mode(shape):
    x = RNG.standard_normal(shape) * 3 + 2
    gamma, beta = RNG.uniform(0.5, 2, shape[1]), RNG.standard_normal(shape[1])
    mean, var = np.zeros(shape[1]), np.ones(shape[1])
    y = F.batch_norm(x, gamma, beta, mean, var, decay=0.8, eps=1e-3)
    ref, mu, unbiased = bn_reference(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, 0.2 * mu, rtol=1e-12)
    np.testing.assert_allclose(var, 0.8 + 0.2 * unbiased, rtol=1e-12)
    before = mean.copy(), var.copy()
    with mg.test_mode():
        yt = F.batch_norm(x, gamma, beta, mean, var, eps=1e-3)
    axes = (1, -1) + (1,) * (len(shape) - 2)
    np.testing.assert_allclose(yt.data, (x - mean.reshape(axes)) / np.sqrt(var.reshape(axes) + 1e-3)
                               * gamma.reshape(axes) + beta.reshape(axes), rtol=1e-12)
    np.testing.assert_array_equal(mean, before[0])
    np.testing.assert_array_equal(var, before[1])


def test_batch_norm_backward_on_arrays_equals_the_recorded_one():
    x, gamma, beta = RNG.standard_normal((6, 4, 3, 3)), RNG.uniform(0.5, 2, 4), RNG.standard_normal(4)
    gy = RNG.standard_normal(x.shape)
    vs = [mg.Variable(a) for a in (x, gamma, beta)]

    def run(create_graph):
        return mg.grad(F.batch_norm(*vs, np.zeros(4), np.ones(4)), vs, gy, create_graph=create_graph)
    for fast, recorded in zip(run(False), run(True)):
        np.testing.assert_allclose(fast.data, recorded.data, rtol=1e-10, atol=1e-12)


def test_conv_from_several_threads_at_once():
    """Each thread has its own im2col workspace: concurrent convolutions do not see each other's columns."""
    xs = [RNG.standard_normal((4, 3, 9, 9)) for _ in range(4)]
    W = RNG.standard_normal((5, 3, 3, 3))
    expected = [conv_loop(x, W, None, (1, 1), (1, 1)) for x in xs]
    errors = []

    def work(i):
        for _ in range(20):
            y = F.conv2d(xs[i], W, pad=1).data
            if not np.allclose(y, expected[i], rtol=1e-12, atol=1e-12):
                errors.append(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


BAD = [
    (lambda: F.conv2d(np.zeros((2, 3, 5)), np.zeros((4, 3, 3, 3))), ValueError, r"conv2d: x must be 4-D .* 3, 5\)"),
    (lambda: F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3))), ValueError, "3 channels but W of shape"),
    (lambda: F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(3)), ValueError,
     r"b of shape \(3,\) does not match the 4 output channels"),
    (lambda: F.conv2d(np.zeros((2, 3, 2, 2)), np.zeros((4, 3, 3, 3))), ValueError, "kernel .* is larger than"),
    (lambda: F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), stride=0), ValueError, "stride must be at"),
    (lambda: F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), pad=-1), ValueError, "pad must be at"),
    (lambda: F.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), stride=1.5), TypeError,
     "stride must be an int or a pair"),
    (lambda: F.deconv2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 1, 3, 3)), stride=2, outsize=(9, 7)), ValueError,
     r"outsize \(9, 7\) does not fit"),
    (lambda: F.max_pooling(np.zeros((1, 1, 4, 4)), 2, 2, 2), ValueError, "pad .* at most half the kernel"),
    (lambda: F.max_pooling(np.zeros((1, 1, 4, 4), dtype=int), 2), TypeError, "floating point"),
    (lambda: F.average_pooling(np.zeros((4, 4)), 2), ValueError, "4-D"),
    (lambda: F.col2im(np.zeros((4, 7)), (1, 2, 3, 3), 2), ValueError, r"\(4, 7\) does not match \(4, 8\)"),
    (lambda: F.batch_norm(np.zeros((1, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)), ValueError,
     "more than one value per channel"),
    (lambda: F.batch_norm(np.zeros((4, 3)), np.ones(2), np.zeros(3), np.zeros(3), np.ones(3)), ValueError,
     r"gamma must have shape \(3,\)"),
    (lambda: F.batch_norm(np.zeros((4, 3)), np.ones(3), np.zeros(3), np.zeros(4), np.ones(3)), ValueError,
     r"mean must have shape \(3,\)"),
    (lambda: F.batch_norm(np.zeros((4, 3, 2)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)), ValueError,
     r"\(N, C\) or \(N, C, H, W\)"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_name_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_failed_batch_norm_leaves_the_running_statistics():
    mean, var = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError):
        F.batch_norm(np.ones((4, 3)), np.ones(3), np.zeros(3), mean, var, decay=1.5)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)


def test_layers_are_lazily_sized_and_load_without_a_forward(tmp_path):
    np.random.seed(0)
    x = RNG.standard_normal((3, 2, 6, 6)).astype(np.float32)
    model = mg.models.Sequential(L.Conv2d(4, 3, pad=1), L.BatchNorm(), F.relu, L.Deconv2d(2, 2, stride=2))
    y = model(x)
    assert y.shape == (3, 2, 12, 12) and y.dtype == np.float32
    conv = model.layers[0]
    assert conv.W.shape == (4, 2, 3, 3) and conv.in_channels == 2
    assert 0.2 < conv.W.data.std() * np.sqrt(2 * 9) < 5  # N(0, 1 / (C KH KW)), DeZero's scale
    assert model.layers[3].W.shape == (4, 2, 2, 2)  # deconv: (C, OC, KH, KW)
    F.sum(y).backward()
    assert model.layers[1].avg_mean.grad is None and model.layers[1].gamma.grad is not None
    model.save_weights(tmp_path / "cnn")
    fresh = mg.models.Sequential(L.Conv2d(4, 3, pad=1), L.BatchNorm(), F.relu, L.Deconv2d(2, 2, stride=2))
    fresh.load_weights(tmp_path / "cnn")
    with mg.test_mode():
        np.testing.assert_array_equal(fresh(x).data, model(x).data)
    assert L.Conv2d(4, 3, nobias=True, in_channels=2).b is None


def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, W, b = RNG.standard_normal((2, 3, 8, 7)), RNG.standard_normal((4, 3, 3, 2)), RNG.standard_normal(4)
    gy = RNG.standard_normal((2, 4, 4, 3))

    def both(mine, theirs, *arrays, g):
        vs, ts = [mg.Variable(a) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]
        y, ty = mine(*vs), theirs(*ts)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        y.backward(g)
        ty.backward(torch.tensor(g))
        for v, t in zip(vs, ts):
            np.testing.assert_allclose(v.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12)

    both(lambda *a: F.conv2d(*a, stride=2, pad=(1, 0)), lambda *a: tf.conv2d(*a, stride=2, padding=(1, 0)), x, W, b,
         g=gy)
    Wd = RNG.standard_normal((3, 2, 3, 3))
    both(lambda *a: F.deconv2d(*a, stride=2, pad=1, outsize=(16, 14)),
         lambda *a: tf.conv_transpose2d(*a, stride=2, padding=1, output_padding=1), x, Wd,
         g=RNG.standard_normal((2, 2, 16, 14)))
    gp = RNG.standard_normal((2, 3, 4, 4))
    both(lambda a: F.max_pooling(a, 3, 2, 1), lambda a: tf.max_pool2d(a, 3, 2, 1), x, g=gp)
    both(lambda a: F.average_pooling(a, 3, 2, 1), lambda a: tf.avg_pool2d(a, 3, 2, 1), x, g=gp)
    gamma, beta = RNG.uniform(0.5, 2, 3), RNG.standard_normal(3)
    mean, var = np.zeros(3), np.ones(3)
    tmean, tvar = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):  # decay 0.9 is torch's momentum 0.1
        both(lambda *a: F.batch_norm(*a, mean, var), lambda *a: tf.batch_norm(a[0], tmean, tvar, a[1], a[2],
                                                                               training=True, eps=2e-5),
             x, gamma, beta, g=RNG.standard_normal(x.shape))
        np.testing.assert_allclose(mean, tmean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(var, tvar.numpy(), rtol=1e-12)
    with mg.test_mode():
        both(lambda *a: F.batch_norm(*a, mean, var), lambda *a: tf.batch_norm(a[0], tmean, tvar, a[1], a[2],
                                                                               training=False, eps=2e-5),
             x, gamma, beta, g=RNG.standard_normal(x.shape))
