"""The kernels' exp, log, log1p(exp(-|x|)) and row max: float32 by vectorizable polynomials (docs/kernels.md)."""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from minigrad.kernels import JIT_EXACT

F32 = np.float32


@intrinsic
def _as_float(typingctx, i):
    """The float32 whose bits are the int32 i."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _as_int(typingctx, f):
    """The int32 holding the bits of the float32 f."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


_LOG2E, _ROUND = F32(1.4426950408889634), F32(12582912.0)  # 1.5 * 2**23: adding it rounds to an integer
_LN2_HI, _LN2_LO = F32(0.693359375), F32(-2.12194440e-4)  # ln 2 = hi + lo, hi with few bits: n * hi is exact
_EXP_LO, _EXP_HI = F32(-104.0), F32(89.0)  # exp underflows to 0 below, overflows to inf above
_E5, _E4, _E3 = F32(1.9875691500e-4), F32(1.3981999507e-3), F32(8.3334519073e-3)
_E2, _E1, _E0 = F32(4.1665795894e-2), F32(1.6666665459e-1), F32(5.0000001201e-1)
_ONE, _HALF, _ZERO = F32(1.0), F32(0.5), F32(0.0)


@njit(**JIT_EXACT)
def exp32(x):
    """exp(x) for float32 x: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-7 polynomial, 2**n
    placed in the exponent bits in two halves (so denormal results round once and 2**128 overflows)."""
    xc = x if x > _EXP_LO else _EXP_LO  # NaN becomes _EXP_LO here and is put back at the end
    xc = xc if xc < _EXP_HI else _EXP_HI
    nf = (xc * _LOG2E + _ROUND) - _ROUND
    r = (xc - nf * _LN2_HI) - nf * _LN2_LO
    p = ((((_E5 * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
    p = p * (r * r) + r + _ONE
    n = np.int32(nf)
    n1 = n >> 1
    y = p * _as_float((n1 + 127) << 23) * _as_float((n - n1 + 127) << 23)
    return y if x == x else x


_SQRTH = F32(0.70710678118654752440)
_L8, _L7, _L6 = F32(7.0376836292e-2), F32(-1.1514610310e-1), F32(1.1676998740e-1)
_L5, _L4, _L3 = F32(-1.2420140846e-1), F32(1.4249322787e-1), F32(-1.6668057665e-1)
_L2, _L1, _L0 = F32(2.0000714765e-1), F32(-2.4999993993e-1), F32(3.3333331174e-1)
_TINY, _TWO23 = F32(1.17549435e-38), F32(8388608.0)
_INF, _NAN = F32(np.inf), F32(np.nan)


@njit(**JIT_EXACT)
def log32(x):
    """log(x) for float32 x: x = 2**e m with sqrt(1/2) <= m < sqrt(2), log(m) by a degree-9 polynomial in
    m - 1; denormals scaled into the normal range first; 0 -> -inf, negative -> NaN, inf -> inf."""
    small = x < _TINY
    xs = x * _TWO23 if small else x
    bits = _as_int(xs)
    e = ((bits >> 23) & 0xFF) - 126 - (23 if small else 0)
    m = _as_float((bits & 0x007FFFFF) | 0x3F000000)  # in [0.5, 1)
    low = m < _SQRTH
    e = e - 1 if low else e
    f = (m + m if low else m) - _ONE
    z = f * f
    p = ((((((((_L8 * f + _L7) * f + _L6) * f + _L5) * f + _L4) * f + _L3) * f + _L2) * f + _L1) * f + _L0)
    ef = F32(e)
    y = f * z * p + ef * _LN2_LO - _HALF * z
    y = f + y + ef * _LN2_HI
    y = y if x > _ZERO else (-_INF if x == _ZERO else _NAN)
    return y if x < _INF else x  # inf and NaN


_SQRT2 = F32(1.41421356237309504880)


@njit(**JIT_EXACT)
def _log12(w):
    """log(w) for float32 w in [1, 2]: no bit fields (e = 1 and m = w / 2 from sqrt(2) up, else e = 0 and m = w;
    both exact), then log32's polynomial: the same results as log32 bit for bit there, a third faster."""
    high = w >= _SQRT2
    f = (w * _HALF if high else w) - _ONE
    ef = _ONE if high else _ZERO
    z = f * f
    p = ((((((((_L8 * f + _L7) * f + _L6) * f + _L5) * f + _L4) * f + _L3) * f + _L2) * f + _L1) * f + _L0)
    y = f * z * p + ef * _LN2_LO - _HALF * z
    return f + y + ef * _LN2_HI


@njit(**JIT_EXACT)
def log1p32(u):
    """log(1 + u) for float32 u in [0, 1] (the losses' exp(-|x|)): log(w) for w = 1 + u, corrected by w's
    rounding error (u - (w - 1)) / w."""
    w = u + _ONE
    return _log12(w) + (u - (w - _ONE)) / w


def _float32_or_libm(f32, libm, doc):
    """A function callable in the kernels: f32 for a float32 argument, libm otherwise."""
    def stub(x):
        raise TypeError("a kernel helper: call it from compiled code")
    stub.__doc__ = doc

    @overload(stub, jit_options={"nogil": True})
    def _impl(x):
        if x == types.float32:
            return lambda x: f32(x)
        return lambda x: libm(x)
    return stub


exp = _float32_or_libm(exp32, math.exp, "exp(x) in the kernels: exp32 for float32, libm for float64.")
log = _float32_or_libm(log32, math.log, "log(x) in the kernels: log32 for float32, libm for float64.")


_SIGN32 = np.int32(0x7FFFFFFF)
_NEG_INF32 = np.int32(-8388608)  # the bits of float32 -inf


@njit(nogil=True, cache=True, error_model="numpy")
def max32(xr):
    """The largest of the float32 values xr (NaN when one is a NaN with its sign bit clear, -inf when empty),
    compared as integers: a float's bits with the sign bit's meaning flipped order as the floats do, and an
    integer max reduction vectorizes where a float one does not."""
    m = _NEG_INF32 ^ _SIGN32
    for c in range(xr.size):
        b = _as_int(xr[c])
        k = b ^ ((b >> 31) & _SIGN32)
        m = k if k > m else m
    return _as_float(m ^ ((m >> 31) & _SIGN32))


def row_max(xr):
    """max(xr) in the kernels; a NaN may be left out (the caller's sums of exp(xr - max) carry it)."""


@overload(row_max, jit_options={"nogil": True})
def _row_max(xr):
    if xr.dtype == types.float32:
        return lambda xr: max32(xr)

    def max64(xr):
        m = -np.inf
        for c in range(xr.size):
            v = xr[c]
            m = v if v > m else m
        return m
    return max64


def cast(a, v):
    """The number v in the dtype of the array a, in the kernels."""


@overload(cast, jit_options={"nogil": True})
def _cast(a, v):
    if a.dtype == types.float32:
        return lambda a, v: np.float32(v)
    return lambda a, v: np.float64(v)


log1p = _float32_or_libm(log1p32, math.log1p, "log(1 + x) for x in [0, 1] in the kernels: log1p32 or libm.")


_T4, _T3, _T2 = F32(-5.70498872745e-3), F32(2.06390887954e-2), F32(-5.37397155531e-2)
_T1, _T0 = F32(1.33314422036e-1), F32(-3.33332819422e-1)
_TANH_SMALL, _TWO = F32(0.625), F32(2.0)


@njit(**JIT_EXACT)
def tanh32(x):
    """tanh(x) for float32 x: an odd polynomial below |x| = 0.625, else 1 - 2 / (exp(2|x|) + 1) with x's sign
    (both computed, one chosen: no branch)."""
    a = abs(x)
    z = x * x
    small = x * (((((_T4 * z + _T3) * z + _T2) * z + _T1) * z + _T0) * z + _ONE)  # -0 stays -0
    large = _ONE - _TWO / (exp32(a + a) + _ONE)
    large = large if x >= _ZERO else -large  # NaN: exp32(NaN) is NaN, so large is too
    return small if a < _TANH_SMALL else large


@njit(**JIT_EXACT)
def sigmoid32(x):
    """1 / (1 + exp(-x)) from e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below; no overflow."""
    e = exp32(-abs(x))
    return (_ONE if x >= _ZERO else e) / (_ONE + e)


@njit(**JIT_EXACT)
def log_sigmoid32(x):
    """min(x, 0) - log(1 + exp(-|x|)): exact for large |x|."""
    return (x if x < _ZERO else _ZERO) - log1p32(exp32(-abs(x)))
