"""softmax, log_softmax, logsumexp, sigmoid, log_sigmoid: values, extremes, axes (docs/losses.md#conventions)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

RNG = np.random.default_rng(0)


def ref_log_softmax(a, axis):
    a = a.astype(np.float64)
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("shape, axis", [((5,), None), ((3, 5), None), ((2, 3, 4), None), ((2, 3, 4), -1),
                                         ((2, 3, 4), 0)])
def test_values_and_default_axis(shape, axis):
    a = RNG.standard_normal(shape) * 5
    ax = (1 if len(shape) >= 2 else 0) if axis is None else axis
    np.testing.assert_allclose(F.log_softmax(a, axis).data, ref_log_softmax(a, ax), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.softmax(a, axis).data, np.exp(ref_log_softmax(a, ax)), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(a, axis).data.sum(axis=ax), 1.0, rtol=1e-12)
    lse = np.log(np.exp(a).sum(axis=ax))
    np.testing.assert_allclose(F.logsumexp(a, axis).data, lse, rtol=1e-12)
    np.testing.assert_allclose(F.logsumexp(a, axis, keepdims=True).data, np.expand_dims(lse, ax), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extremes(dtype):
    x = np.array([1000.0, 0.0, -1000.0], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        np.testing.assert_array_equal(F.softmax(x).data, [1.0, 0.0, 0.0])
        np.testing.assert_array_equal(F.log_softmax(x).data, [0.0, -1000.0, -2000.0])
        assert float(F.logsumexp(x).data) == 1000.0
        big = np.array([1e6, -1e6], dtype=dtype)
        np.testing.assert_array_equal(F.log_softmax(big).data, [0.0, -2e6])
    assert F.softmax(x).dtype == dtype


def test_infinities_follow_torch():
    np.testing.assert_array_equal(F.log_softmax(np.array([0.0, -np.inf])).data, [0.0, -np.inf])
    assert np.isnan(F.softmax(np.array([-np.inf, -np.inf])).data).all()
    assert np.isnan(F.softmax(np.array([np.inf, 0.0])).data).all()
    assert np.isnan(F.log_softmax(np.array([np.inf, 0.0])).data).all()
    assert float(F.logsumexp(np.array([-np.inf, -np.inf])).data) == -np.inf
    assert float(F.logsumexp(np.array([np.inf, 0.0])).data) == np.inf


def test_zero_dim_input():
    assert float(F.softmax(np.array(3.0)).data) == 1.0
    assert float(F.log_softmax(np.array(3.0), axis=0).data) == 0.0


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.logsumexp])
def test_axis_out_of_range_names_it(fn):
    with pytest.raises(ValueError, match="axis 2"):
        fn(np.ones((2, 3)), axis=2)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.logsumexp, F.sigmoid, F.log_sigmoid])
def test_integer_input_is_rejected(fn):
    with pytest.raises(TypeError, match="int64"):
        fn(np.array([1, 2]))


def test_sigmoid_tails_are_accurate():
    x = np.array([-30.0, -100.0, -700.0, 30.0])
    exact = np.exp(x) / (1 + np.exp(x))  # fine for x <= 30 in float64
    np.testing.assert_allclose(F.sigmoid(x).data, exact, rtol=1e-15)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        np.testing.assert_array_equal(F.sigmoid(np.array([-1e4, 1e4])).data, [0.0, 1.0])
    tanh_form = np.tanh(x / 2) / 2 + 0.5
    assert abs(tanh_form[0] - exact[0]) / exact[0] > 1e-4  # the form DeZero uses loses the tail


def test_log_sigmoid_extremes():
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        assert float(F.log_sigmoid(np.array(-1e4)).data) == -1e4
        assert float(F.log_sigmoid(np.array(100.0)).data) == pytest.approx(-3.720075976020836e-44, rel=1e-12)
    x = mg.Variable(np.array([-1000.0, 0.0, 1000.0]))
    F.sum(F.log_sigmoid(x)).backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.5, 0.0])
    x.cleargrad()
    F.sum(F.sigmoid(x)).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.25, 0.0])


def test_log_softmax_gradient_is_composite_of_softmax():
    a = RNG.standard_normal((3, 4))
    x = mg.Variable(a)
    gy = RNG.standard_normal((3, 4))
    F.log_softmax(x).backward(gy)
    s = np.exp(ref_log_softmax(a, 1))
    np.testing.assert_allclose(x.grad.data, gy - s * gy.sum(axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.logsumexp])
def test_third_derivative_exists(fn):
    assert mg.gradgradcheck(lambda x: F.sum(fn(x) ** 2, axis=0), (RNG.standard_normal((2, 3)),))


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=lambda f: f.__name__)
def test_softmax_over_an_empty_axis_is_empty(fn):
    x = mg.Variable(np.zeros((2, 0)))
    y = fn(x, axis=1)
    assert y.shape == (2, 0)
    y.backward(np.zeros((2, 0)))
    assert x.grad.shape == (2, 0)
    assert fn(np.zeros((0, 3)), axis=1).shape == (0, 3)


def test_logsumexp_of_an_empty_axis_is_minus_inf():
    x = mg.Variable(np.zeros((2, 0)))
    y = F.logsumexp(x, axis=1)
    assert y.data.tolist() == [-np.inf, -np.inf]
    F.sum(y).backward()
    assert x.grad.shape == (2, 0)
    assert F.logsumexp(np.zeros((0, 3)), axis=1).shape == (0,)


def test_logsumexp_takes_a_tuple_of_axes():
    x = np.random.default_rng(3).standard_normal((2, 3, 4)) * 50
    for axis, keepdims in [((0, 2), False), ((0, 2), True), ((-1, 1), False), ((0, 1, 2), False)]:
        m = x.max(axis=axis, keepdims=True)
        ref = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
        ref = ref if keepdims else ref.squeeze(axis)
        np.testing.assert_allclose(F.logsumexp(x, axis=axis, keepdims=keepdims).data, ref, rtol=1e-13)
        mg.gradcheck(lambda v: F.logsumexp(v, axis=axis, keepdims=keepdims), [x / 50])
        mg.gradgradcheck(lambda v: F.logsumexp(v, axis=axis, keepdims=keepdims), [x / 50])


def test_sigmoid_and_log_sigmoid_derivatives_are_accurate_in_both_tails():
    """sigmoid' = e / (1 + e)^2 and sigmoid'' = sigmoid' * -sign(x) (1 - e) / (1 + e), e = exp(-|x|): the
    form y (1 - y) would give 0 wherever y rounds to 1 (docs/losses.md#conventions)."""
    xs = np.array([-700.0, -100.0, -40.0, -30.0, -5.0, -0.5, 0.5, 5.0, 30.0, 40.0, 100.0, 700.0])
    e = np.exp(-np.abs(xs))
    d1 = e / (1 + e) ** 2
    d2 = d1 * -np.sign(xs) * (1 - e) / (1 + e)
    d3 = d1 * (1 - 6 * d1)  # sigmoid''' = sigmoid' (1 - 6 sigmoid')
    x = mg.Variable(xs)
    g1, = mg.grad(F.sum(F.sigmoid(x)), x, create_graph=True)
    g2, = mg.grad(F.sum(g1), x, create_graph=True)
    g3, = mg.grad(F.sum(g2), x)
    for got, want in [(g1, d1), (g2, d2), (g3, d3)]:
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=0)
    h1, = mg.grad(F.sum(F.log_sigmoid(x)), x, create_graph=True)
    h2, = mg.grad(F.sum(h1), x)
    np.testing.assert_allclose(h1.data, 1 / (1 + np.exp(xs)), rtol=1e-12, atol=0)
    np.testing.assert_allclose(h2.data, -d1, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_sigmoid_shared_with_the_bce_losses_is_accurate_everywhere(dtype):
    """numerics.sigmoid_from (sigmoid from exp(-|x|), as sigmoid_bce's gradient computes it) and sigmoid(x,
    negate=True) against float64 (float128 where the platform has it) in both tails and at the extremes."""
    from minigrad import numerics
    x = np.concatenate([np.linspace(-120, 120, 4001), [0.0, -0.0, 1e-30, -1e-30, 1e4, -1e4]]).astype(dtype)
    wide = np.longdouble if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else np.float64
    ref = 1 / (1 + np.exp(-x.astype(wide)))
    e = numerics.exp_neg_abs(x)
    s = numerics.sigmoid_from(x, e, e + 1, np.empty_like(x))
    tiny = np.finfo(dtype).tiny  # below it (denormals, or 0 where exp(-x) overflows) to within tiny
    for got in (s, numerics.sigmoid(-x, negate=True)):
        assert got.dtype == dtype
        err = np.abs(got.astype(wide) - ref)
        normal = ref >= tiny
        assert (err[normal] / ref[normal]).max() <= 3 * np.finfo(dtype).eps
        assert err[~normal].max() <= tiny
    inf = np.array([np.inf, -np.inf, np.nan], dtype)
    e = numerics.exp_neg_abs(inf)
    np.testing.assert_array_equal(numerics.sigmoid_from(inf, e, e + 1, np.empty(3, dtype)), [1, 0, np.nan])
