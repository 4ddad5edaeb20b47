"""The losses' one Reduction object: reduce, scale and its adjoint, the empty rules (docs/losses.md#reduction)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.losses.reduction import Reduction, check_reduction

KEPT, OUT = (4, 1, 3), (4, 3)


def _by_count(mode, count=12):
    return Reduction.of_count(mode, OUT, KEPT, count, np.float64, np)


def _by_targets(mode, valid, wt):
    return Reduction.of_targets(mode, OUT, valid, wt.sum())


def _cases(seed):
    """(mode, Reduction, per-position terms, 0 where they do not count) over counts and targets."""
    rng = np.random.default_rng(seed)
    valid = rng.random(KEPT) > 0.3
    wt = np.where(valid, rng.uniform(0.5, 2.0, KEPT), 0.0)
    loss = rng.standard_normal(KEPT)
    for mode in ("none", "sum", "mean"):
        yield mode, _by_count(mode), loss
        yield mode, _by_targets(mode, valid, wt), np.where(valid, loss, 0)


@pytest.mark.parametrize("seed", range(3))
def test_reduce_follows_the_table(seed):
    for mode, red, masked in _cases(seed):
        want = {"none": masked.reshape(OUT), "sum": masked.sum(), "mean": masked.sum() / red.denom}[mode]
        np.testing.assert_allclose(red.reduce(masked), want, rtol=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_the_loss_is_sum_coef_times_the_terms_and_gy_grad_is_the_adjoint_of_scale(seed):
    rng = np.random.default_rng(seed + 10)
    for mode, red, masked in _cases(seed):
        gy = rng.standard_normal(OUT if mode == "none" else ())
        # d(sum gy * reduce(l))/dl = scale(gy), checked as a directional derivative
        np.testing.assert_allclose(np.sum(gy * red.reduce(masked)), np.sum(red.scale(gy) * masked), rtol=1e-12)
        # <scale(gy), h> == <gy, gy_grad(h)> with Variables, as the double backward uses it
        h = rng.standard_normal(KEPT)
        lhs = np.sum(red.scale(gy) * h)
        rhs = np.sum(gy * red.gy_grad(mg.Variable(h)).data)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_mean_over_nothing_is_nan_with_a_zero_coefficient():
    red = _by_targets("mean", np.zeros(KEPT, dtype=bool), np.zeros(KEPT))
    with np.errstate(all="raise"):
        assert np.isnan(red.reduce(np.zeros(KEPT)))
        np.testing.assert_array_equal(red.scale(np.array(1.0)), np.zeros(KEPT))
    assert np.isnan(_by_count("mean", 0).finish(np.float64(0.0)))
    assert _by_count("sum", 0).finish(np.float64(0.0)) == 0


def test_is_unit_only_for_the_default_seed_of_a_reduced_loss():
    assert _by_count("mean").is_unit(np.array(1.0))
    assert not _by_count("mean").is_unit(np.array(2.0))
    assert not _by_count("none").is_unit(np.array(1.0))


def test_check_reduction():
    assert check_reduction("sum") == "sum"
    with pytest.warns(UserWarning, match="elementwise_mean"):
        assert check_reduction("elementwise_mean") == "mean"
    with pytest.raises(ValueError, match=r"'avg' is not a valid value for reduction; expected one of"):
        check_reduction("avg")
