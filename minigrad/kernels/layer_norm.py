"""Layer normalization's rows on the CPU: the forward with each row's mean and 1 / std, and the backward in one pass."""
import math

import numpy as np
from numba import njit

from minigrad.blocks import for_blocks
from minigrad.kernels import JIT
from minigrad.kernels.fmath import cast
from minigrad.kernels.rows import dot

BLOCK = 1 << 20  # elements per thread's block: below it one call (a hand-off to another thread costs ~100 us here)


SHORT = 1024  # rows up to this length sum in one float32 loop (vectorized: a lane adds k / 16 terms or fewer), 2-3x
# faster than the float64-combined chunks of rows.dot at K = 128, where those chunks' reductions cost more than the row


@njit(**JIT)
def _forward(x, w, b, eps, y, mu, rstd):
    """y[i] = (x[i] - mu[i]) rstd[i] w + b for rows x (n, K); the variance is the mean of (x - mu)^2 (two passes,
    no cancellation)."""
    if x.shape[1] <= SHORT:
        _forward_short(x, w, b, eps, y, mu, rstd)
        return
    n, k = x.shape
    for i in range(n):
        xr, yr = x[i], y[i]
        m = cast(xr, dot(xr, None) / k)
        for c in range(k):
            yr[c] = xr[c] - m
        r = cast(xr, 1.0 / math.sqrt(dot(yr, yr) / k + eps))
        mu[i], rstd[i] = m, r
        for c in range(k):
            yr[c] = yr[c] * r * w[c] + b[c]


@njit(**JIT)
def _forward_short(x, w, b, eps, y, mu, rstd):
    n, k = x.shape
    for i in range(n):
        xr, yr = x[i], y[i]
        s = cast(xr, 0.0)
        for c in range(k):
            s += xr[c]
        m = cast(xr, s / k)
        q = cast(xr, 0.0)
        for c in range(k):
            d = xr[c] - m
            q += d * d
        r = cast(xr, 1.0 / math.sqrt(q / k + eps))
        mu[i], rstd[i] = m, r
        for c in range(k):
            yr[c] = (xr[c] - m) * r * w[c] + b[c]


@njit(**JIT)
def _backward(x, w, gy, mu, rstd, gx, gw, gb):
    """gx[i] = rstd (g - mean(g) - xhat mean(g xhat)) with g = gy w, xhat = (x - mu) rstd; gw += sum_i gy xhat and
    gb += sum_i gy (float64 partials of this block). gx of zero rows: not wanted."""
    if x.shape[1] <= SHORT:
        _backward_short(x, w, gy, mu, rstd, gx, gw, gb)
        return
    n, k = x.shape
    xhat, g = np.empty(k, x.dtype), np.empty(k, x.dtype)
    for i in range(n):
        xr, gr, m, r = x[i], gy[i], mu[i], rstd[i]
        for c in range(k):
            h = (xr[c] - m) * r
            xhat[c] = h
            g[c] = gr[c] * w[c]
            gw[c] += gr[c] * h
            gb[c] += gr[c]
        if gx.shape[0]:
            a, bb = cast(xr, dot(g, None) / k), cast(xr, dot(g, xhat) / k)
            gxr = gx[i]
            for c in range(k):
                gxr[c] = (g[c] - a - xhat[c] * bb) * r


@njit(**JIT)
def _backward_short(x, w, gy, mu, rstd, gx, gw, gb):
    """_backward for rows up to SHORT: the row's sums in float32, gw and gb as float32 partials over 64 rows."""
    n, k = x.shape
    xhat, g = np.empty(k, x.dtype), np.empty(k, x.dtype)
    pw, pb = np.zeros(k, x.dtype), np.zeros(k, x.dtype)
    for i in range(n):
        xr, gr, m, r = x[i], gy[i], mu[i], rstd[i]
        sg, sgh = cast(xr, 0.0), cast(xr, 0.0)
        for c in range(k):
            h = (xr[c] - m) * r
            gc = gr[c] * w[c]
            xhat[c], g[c] = h, gc
            sg += gc
            sgh += gc * h
        for c in range(k):
            pw[c] += gr[c] * xhat[c]
            pb[c] += gr[c]
        if gx.shape[0]:
            a, bb = cast(xr, sg / k), cast(xr, sgh / k)
            gxr = gx[i]
            for c in range(k):
                gxr[c] = (g[c] - a - xhat[c] * bb) * r
        if i % 64 == 63 or i == n - 1:
            for c in range(k):
                gw[c] += pw[c]
                gb[c] += pb[c]
                pw[c] = pb[c] = 0


def forward(x, w, b, eps):
    """Rows x (M, K) (any layout), w and b (K,) or None: y (M, K), mu and rstd (M, 1), on the CPU threads."""
    x = np.ascontiguousarray(x)
    k = x.shape[1]
    w = np.ones(k, x.dtype) if w is None else np.ascontiguousarray(w, x.dtype)
    b = np.zeros(k, x.dtype) if b is None else np.ascontiguousarray(b, x.dtype)
    y, mu, rstd = np.empty_like(x), np.empty((len(x), 1), x.dtype), np.empty((len(x), 1), x.dtype)
    for_blocks(lambda lo, hi: _forward(x[lo:hi], w, b, eps, y[lo:hi], mu[lo:hi, 0], rstd[lo:hi, 0]), len(x), k, np,
               BLOCK)
    return y, mu, rstd


def backward(x, w, gy, mu, rstd, needs):
    """gx (M, K), gw and gb (K,) for rows x, weight w (K,) or None, gy (M, K), as ops.layer_norm's _grads: gx None
    unless needs[0], gw None unless w is given and needs[1]."""
    want_gx = needs[0]
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy, x.dtype)
    k, w_given = x.shape[1], w is not None
    w = np.ones(k, x.dtype) if w is None else np.ascontiguousarray(w, x.dtype)
    gx = np.empty_like(x) if want_gx else None

    def run(lo, hi):
        gw, gb = np.zeros(k), np.zeros(k)
        _backward(x[lo:hi], w, gy[lo:hi], mu[lo:hi, 0], rstd[lo:hi, 0], gx[lo:hi] if want_gx else x[:0], gw, gb)
        return gw, gb

    parts = for_blocks(run, len(x), k, np, BLOCK)
    gw, gb = (sum(p[j] for p in parts).astype(x.dtype) for j in (0, 1))
    return gx, gw if w_given and needs[1] else None, gb
