"""Sums along a row for the kernels: in float32 over chunks of a fixed length (so they vectorize), then float64."""
from numba import njit

from minigrad.kernels import JIT
from minigrad.kernels.fmath import cast, exp

CHUNK = 64  # terms per float32 partial sum


@njit(**JIT)
def exp_rows(xr, m, er):
    """er[c] = exp(xr[c] - m) for c < xr.size; returns sum_c er[c] in float64."""
    n = xr.size
    full = n - n % CHUNK
    total = 0.0
    for lo in range(0, full, CHUNK):  # a constant trip count: the inner loop vectorizes
        part = cast(xr, 0.0)
        for c in range(lo, lo + CHUNK):
            e = exp(xr[c] - m)
            er[c] = e
            part += e
        total += part
    part = cast(xr, 0.0)
    for c in range(full, n):
        e = exp(xr[c] - m)
        er[c] = e
        part += e
    return total + part


@njit(**JIT)
def dot(a, b):
    """sum_c a[c] b[c] in float64; b None: sum_c a[c]."""
    n = a.size
    full = n - n % CHUNK
    total = 0.0
    for lo in range(0, full, CHUNK):
        part = cast(a, 0.0)
        for c in range(lo, lo + CHUNK):
            part += a[c] if b is None else a[c] * b[c]
        total += part
    part = cast(a, 0.0)
    for c in range(full, n):
        part += a[c] if b is None else a[c] * b[c]
    return total + part
