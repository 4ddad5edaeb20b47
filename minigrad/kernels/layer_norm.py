"""Layer normalization's rows on the CPU: the forward with each row's mean and 1 / std, and the backward in one pass."""
import math

import numpy as np
from numba import cfunc, njit

from minigrad.kernels import JIT, native
from minigrad.kernels.fmath import cast
from minigrad.kernels.native import contiguous
from minigrad.kernels.rows import dot

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
        for c in range(k):
            xhat[c], g[c] = (xr[c] - m) * r, gr[c] * w[c]
        sg, sgh = cast(xr, 0.0), cast(xr, 0.0)
        for c in range(k):  # sums in a loop with no store: bits that do not depend on addresses (docs/kernels.md)
            sg += g[c]
            sgh += g[c] * xhat[c]
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


@njit(**JIT)
def _forward_part(f, z):
    i, lo, hi, j = native.span(f)
    x, j = native.matrix(f, j, z)
    w, j = native.vector(f, j, z)
    b, j = native.vector(f, j, z)
    eps, j = native.real(f, j)
    y, j = native.matrix(f, j, z)
    mu, j = native.vector(f, j, z)
    rstd, j = native.vector(f, j, z)
    _forward(x[lo:hi], w, b, eps, y[lo:hi], mu[lo:hi], rstd[lo:hi])


@cfunc(native.ENTRY, **JIT)
def _forward_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _forward_part(f, 0.0)
    else:
        _forward_part(f, np.float32(0.0))


@njit(**JIT)
def _backward_part(f, z):
    i, lo, hi, j = native.span(f)
    x, j = native.matrix(f, j, z)
    w, j = native.vector(f, j, z)
    gy, j = native.matrix(f, j, z)
    mu, j = native.vector(f, j, z)
    rstd, j = native.vector(f, j, z)
    gx, j = native.matrix(f, j, z)
    sums, j = native.cube(f, j, 0.0)
    _backward(x[lo:hi], w, gy[lo:hi], mu[lo:hi], rstd[lo:hi], gx[lo:hi] if gx.shape[0] else gx, sums[i, 0],
              sums[i, 1])


@cfunc(native.ENTRY, **JIT)
def _backward_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _backward_part(f, 0.0)
    else:
        _backward_part(f, np.float32(0.0))


def forward(x, w, b, eps):
    """Rows x (M, K) (any layout), w and b (K,) or None: y (M, K), mu and rstd (M, 1), on the CPU threads."""
    x = np.ascontiguousarray(x)
    n, k = x.shape
    w = np.ones(k, x.dtype) if w is None else np.ascontiguousarray(w, x.dtype)
    b = np.zeros(k, x.dtype) if b is None else np.ascontiguousarray(b, x.dtype)
    y, mu, rstd = np.empty_like(x), np.empty(n, x.dtype), np.empty(n, x.dtype)
    parts = native.parts(n, k)
    if parts == 1:  # one call from here: no frame to build
        _forward(x, w, b, eps, y, mu, rstd)
        return y, mu.reshape(n, 1), rstd.reshape(n, 1)
    native.run(_forward_entry, n, parts, [
        *contiguous(x), *contiguous(w), *contiguous(b), native.bits(eps), *contiguous(y), *contiguous(mu),
        *contiguous(rstd), x.dtype == np.float64])
    return y, mu.reshape(n, 1), rstd.reshape(n, 1)


def backward(x, w, gy, mu, rstd, needs):
    """gx (M, K), gw and gb (K,) for rows x, weight w (K,) or None, gy (M, K), as ops.layer_norm's _grads: gx None
    unless needs[0], gw None unless w is given and needs[1]."""
    want_gx = needs[0]
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy, x.dtype)
    mu, rstd = (np.ascontiguousarray(a, x.dtype).reshape(-1) for a in (mu, rstd))
    (n, k), w_given = x.shape, w is not None
    w = np.ones(k, x.dtype) if w is None else np.ascontiguousarray(w, x.dtype)
    gx = np.empty_like(x) if want_gx else np.empty((0, k), x.dtype)
    parts = native.parts(n, k)
    sums = np.zeros((parts, 2, k))  # each part's float64 sums for gw and gb
    if parts == 1:
        _backward(x, w, gy, mu, rstd, gx, sums[0, 0], sums[0, 1])
    else:
        native.run(_backward_entry, n, parts, [
            *contiguous(x), *contiguous(w), *contiguous(gy), *contiguous(mu), *contiguous(rstd), *contiguous(gx),
            *contiguous(sums), x.dtype == np.float64])
    gw, gb = sums.sum(axis=0).astype(x.dtype)
    return gx if want_gx else None, gw if w_given and needs[1] else None, gb
