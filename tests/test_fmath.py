"""The kernels' float32 exp, log and log(1 + exp(-|x|)) within 2 ulp of the correctly rounded result over their
whole domain (docs/kernels.md#accuracy): a dense grid of every float32 bit pattern, every float32 in the ranges
where the reductions change (denormal results, the overflow edge), and the special values."""
import numpy as np
import pytest

numba = pytest.importorskip("numba")
from minigrad.kernels import fmath  # noqa: E402

SPECIAL = np.array([0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38, 1.0, -1.0, 88.72283, 88.72284, -87.33654,
                    -103.97208, -103.97209, -104.0, 89.0, -88.0, 3.4028235e38, -3.4028235e38, np.inf, -np.inf, np.nan,
                    -np.nan, 0.5, 2.0, 0.6931472, 1e-7, -1e-7], np.float32)


@numba.njit(error_model="numpy")
def _apply(which, x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = fmath.exp32(v) if which == 0 else fmath.log32(v) if which == 1 else fmath.log1p32(fmath.exp32(-abs(v)))


REFERENCE = [np.exp, np.log, lambda v: np.log1p(np.exp(-np.abs(v)))]


def _ulps(got, want):
    """The distance in float32 steps between got and want (float32 arrays; NaN against NaN is 0)."""
    def order(a):
        i = a.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    d = np.abs(order(got) - order(want))
    d[np.isnan(got) & np.isnan(want)] = 0
    d[np.isnan(got) != np.isnan(want)] = 1 << 40
    return d


def _grid():
    every = np.arange(0, 1 << 32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    ranges = [np.arange(np.float32(a).view(np.uint32), np.float32(b).view(np.uint32), dtype=np.uint32).view(np.float32)
              for a, b in ((-87.0, -104.5), (88.0, 89.5), (0.5, 1.5), (1e-39, 1.2e-38))]
    return np.concatenate([SPECIAL, every] + ranges)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["exp", "log", "log1p(exp(-|x|))"])
def test_within_two_ulp_of_the_correctly_rounded_result(which):
    x = _grid()
    out = np.empty_like(x)
    _apply(which, x, out)
    with np.errstate(all="ignore"):
        want = REFERENCE[which](x.astype(np.float64)).astype(np.float32)  # float64 rounded once: correct here
    d = _ulps(out, want)
    worst = int(d.argmax())
    assert d[worst] <= 2, f"{d[worst]} ulp at x = {x[worst]!r}: {out[worst]!r}, want {want[worst]!r}"


def test_the_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1e-45], np.float32)
    e, lg = np.empty_like(x), np.empty_like(x)
    _apply(0, x, e)
    _apply(1, x, lg)
    np.testing.assert_array_equal(e[:4], [1, 1, np.inf, 0])
    assert np.isnan(e[4])
    np.testing.assert_array_equal(lg[:4], [-np.inf, -np.inf, np.inf, np.nan])
    assert np.isnan(lg[4]) and np.isnan(lg[5]) and lg[6] == np.float32(np.log(np.float64(x[6])))


def test_a_row_max_of_float32_as_integers():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = (rng.standard_normal(rng.integers(1, 300)) * 10.0 ** rng.integers(-40, 38)).astype(np.float32)
        assert fmath.max32(x) == x.max()
    assert fmath.max32(np.array([-np.inf, -np.inf], np.float32)) == -np.inf
    assert fmath.max32(np.array([-0.0, -5.0], np.float32)) == 0.0
    assert np.isnan(fmath.max32(np.array([1.0, np.nan, 2.0], np.float32)))
