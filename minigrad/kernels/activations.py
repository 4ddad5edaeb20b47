"""float32 ops on the CPU: exp, log, tanh, sigmoid, log_sigmoid, gelu, softmax, log_softmax; forward and backward."""
import math

import numpy as np
from numba import cfunc, njit

from minigrad.blocks import for_blocks
from minigrad.kernels import JIT_EXACT, native
from minigrad.kernels.fmath import exp32, log32, log_sigmoid32, max32, sigmoid32, tanh32
from minigrad.kernels.native import contiguous
from minigrad.kernels.rows import dot, exp_rows

BLOCK = 1 << 19  # elements per block of rows (softmax, LSTM): handing one to another thread from Python costs ~100 us
# here (the GIL's wake-up), so up to 2^19 elements are one call. The elementwise ops go over the threads natively.


@njit(**JIT_EXACT)
def _forward(op, x, y):
    """y = op(x) elementwise over 1-d float32 arrays: 0 exp, 1 log, 2 tanh, 3 sigmoid, 4 log_sigmoid, 5 gelu's tanh
    form, x sigmoid(2 K (x + A x^3))."""
    if op == 0:
        for i in range(x.size):
            y[i] = exp32(x[i])
    elif op == 1:
        for i in range(x.size):
            y[i] = log32(x[i])
    elif op == 2:
        for i in range(x.size):
            y[i] = tanh32(x[i])
    elif op == 3:
        for i in range(x.size):
            y[i] = sigmoid32(x[i])
    elif op == 4:
        for i in range(x.size):
            y[i] = log_sigmoid32(x[i])
    else:
        k2, ka2 = np.float32(GELU_K2), np.float32(GELU_KA2)
        for i in range(x.size):
            y[i] = x[i] * sigmoid32(x[i] * (k2 + ka2 * x[i] * x[i]))


@njit(**JIT_EXACT)
def _backward(op, x, y, gy, gx):
    """gx from gy elementwise (1-d float32): 2 tanh gy (1 - y^2); 3 sigmoid gy y sigmoid(-x); 4 log_sigmoid
    gy sigmoid(-x); 5 gelu's tanh form gy (s + x s sigmoid(-u) du/dx), s = sigmoid(u), u = 2 K (x + A x^3)."""
    one = np.float32(1.0)
    if op == 2:
        for i in range(x.size):
            gx[i] = gy[i] * (one - y[i] * y[i])
    elif op == 3:
        for i in range(x.size):
            gx[i] = gy[i] * y[i] * sigmoid32(-x[i])
    elif op == 4:
        for i in range(x.size):
            gx[i] = gy[i] * sigmoid32(-x[i])
    else:
        k2, ka2 = np.float32(GELU_K2), np.float32(GELU_KA2)
        for i in range(x.size):
            xi = x[i]
            u = xi * (k2 + ka2 * xi * xi)
            s = sigmoid32(u)
            gx[i] = gy[i] * (s + xi * s * sigmoid32(-u) * (k2 + np.float32(3.0) * ka2 * xi * xi))


OPS = {"exp": 0, "log": 1, "tanh": 2, "sigmoid": 3, "log_sigmoid": 4, "gelu_tanh": 5}
GELU_K2 = 2 * math.sqrt(2 / math.pi)  # gelu's tanh form as x sigmoid(u), u = GELU_K2 x + GELU_KA2 x^3
GELU_KA2 = GELU_K2 * 0.044715


def _flat(a):
    """a as a 1-d C-ordered array (a copy unless a is C-contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


@njit(**JIT_EXACT)
def _forward_part(f, z):
    i, lo, hi, j = native.span(f)
    op, j = native.integer(f, j)
    x, j = native.vector(f, j, z)
    y, j = native.vector(f, j, z)
    _forward(op, x[lo:hi], y[lo:hi])


@cfunc(native.ENTRY, **JIT_EXACT)
def _forward_entry(p):
    _forward_part(native.frame(p), np.float32(0.0))


@njit(**JIT_EXACT)
def _backward_part(f, z):
    i, lo, hi, j = native.span(f)
    op, j = native.integer(f, j)
    x, j = native.vector(f, j, z)
    y, j = native.vector(f, j, z)
    gy, j = native.vector(f, j, z)
    gx, j = native.vector(f, j, z)
    _backward(op, x[lo:hi], y[lo:hi], gy[lo:hi], gx[lo:hi])


@cfunc(native.ENTRY, **JIT_EXACT)
def _backward_entry(p):
    _backward_part(native.frame(p), np.float32(0.0))


def elementwise(name, x):
    """op(x) for the float32 array x, in C order."""
    y = np.empty(x.shape, x.dtype)
    xf, yf, parts = _flat(x), y.reshape(-1), native.parts(x.size, 1)
    if parts == 1:  # one call from here: no frame to build
        _forward(OPS[name], xf, yf)
    else:
        native.run(_forward_entry, xf.size, parts, [OPS[name], *contiguous(xf), *contiguous(yf)])
    return y


def elementwise_grad(name, x, y, gy):
    """The gradient of op at x (y = op(x)) times gy, for float32 arrays of one shape (gy may broadcast)."""
    gx = np.empty(x.shape, x.dtype)
    xf, yf, gyf, gxf = _flat(x), _flat(y), _flat(np.broadcast_to(gy, x.shape)), gx.reshape(-1)
    parts = native.parts(x.size, 1)
    if parts == 1:
        _backward(OPS[name], xf, yf, gyf, gxf)
    else:
        native.run(_backward_entry, xf.size, parts,
                   [OPS[name], *contiguous(xf), *contiguous(yf), *contiguous(gyf), *contiguous(gxf)])
    return gx


@njit(**JIT_EXACT)
def _softmax_rows(x, y, log):
    """Softmax (log=False) or log_softmax (log=True) of each row x[i, j] (x, y: (n, S, C)) into y."""
    n, s_len, c_len = x.shape
    for i in range(n):
        for j in range(s_len):
            xr, yr = x[i, j], y[i, j]
            m = max32(xr)
            s = exp_rows(xr, m, yr)
            if log:  # x - max - log(sum): no cancellation, exact for logits of any size
                b = np.float32(np.log(s))
                for c in range(c_len):
                    yr[c] = (xr[c] - m) - b
            else:
                a = np.float32(1.0 / s)
                for c in range(c_len):
                    yr[c] *= a


@njit(**JIT_EXACT)
def _softmax_grad_rows(y, gy, gx, log):
    """The plain backward of softmax (gx = y (gy - sum(gy y))) or log_softmax (gx = gy - exp(y) sum(gy)) per row."""
    n, s_len, c_len = y.shape
    for i in range(n):
        for j in range(s_len):
            yr, gr, gxr = y[i, j], gy[i, j], gx[i, j]
            t = np.float32(dot(gr, None) if log else dot(gr, yr))
            if log:
                for c in range(c_len):
                    gxr[c] = gr[c] - exp32(yr[c]) * t
            else:
                for c in range(c_len):
                    gxr[c] = yr[c] * (gr[c] - t)


@njit(**JIT_EXACT)
def _logsumexp_rows(x, y):
    """y[i, j] = log(sum_c exp(x[i, j, c])) for x (n, S, C): max + log(sum exp(x - max)); -inf for a row of -inf,
    inf with a +inf, NaN with a NaN."""
    n, s_len, c_len = x.shape
    er = np.empty(c_len, x.dtype)
    for i in range(n):
        for j in range(s_len):
            xr = x[i, j]
            m = max32(xr)
            if m == -np.inf or m == np.inf:  # x - m would be inf - inf: log(sum(exp(x))) as it is, -inf or inf
                y[i, j] = np.float32(np.log(exp_rows(xr, np.float32(0.0), er)))
                continue
            y[i, j] = m + np.float32(np.log(exp_rows(xr, m, er)))


def _rows(a, axis):
    """a viewed as rows (n, S, C) along axis: C the axis, n the axes before it, S those after."""
    n = int(np.prod(a.shape[:axis], dtype=np.int64))
    return a.reshape(n, a.shape[axis], -1).transpose(0, 2, 1)


def _by_rows(fn, rows):
    """fn(lo, hi) over blocks of the rows (n, S, C) on the CPU threads."""
    for_blocks(fn, rows.shape[0], rows.shape[1] * rows.shape[2], np, BLOCK)


def softmax(x, axis, log):
    """softmax (or log_softmax) of the float32 array x along axis, in C order."""
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    xr, yr = _rows(x, axis), _rows(y, axis)
    _by_rows(lambda lo, hi: _softmax_rows(xr[lo:hi], yr[lo:hi], log), xr)
    return y


def softmax_grad(y, gy, axis, log):
    """The plain backward of softmax (or log_softmax) of output y along axis, for gy of y's shape."""
    y, gy = np.ascontiguousarray(y), np.ascontiguousarray(np.broadcast_to(gy, y.shape))
    gx = np.empty_like(y)
    yr, gr, gxr = _rows(y, axis), _rows(gy, axis), _rows(gx, axis)
    _by_rows(lambda lo, hi: _softmax_grad_rows(yr[lo:hi], gr[lo:hi], gxr[lo:hi], log), yr)
    return gx


def logsumexp(x, axis):
    """logsumexp of the float32 array x along one axis, with the axis kept (as 1)."""
    x = np.ascontiguousarray(x)
    shape = list(x.shape)
    shape[axis] = 1
    y = np.empty(shape, x.dtype)
    xr, yr = _rows(x, axis), _rows(y, axis)[:, :, 0]
    _by_rows(lambda lo, hi: _logsumexp_rows(xr[lo:hi], yr[lo:hi]), xr)
    return y


@njit(**JIT_EXACT)
def _sigmoids(x):
    """sigmoid(x) and sigmoid(-x), both from one e = exp(-|x|): each accurate in its tail."""
    e = exp32(-abs(x))
    one = np.float32(1.0)
    return ((one if x >= 0 else e) / (one + e)), ((e if x >= 0 else one) / (one + e))


@njit(**JIT_EXACT)
def lstm_forward(z, cp, h, c):
    """The LSTM cell from its gates' pre-activations z (n, 4H), columns f, i, o, u, and the previous cell cp (n, H)
    or None: c = f cp + i u, h = o tanh(c), with f, i, o sigmoids and u a tanh."""
    n, hidden = c.shape
    for r in range(n):
        for j in range(hidden):
            f, i, o = sigmoid32(z[r, j]), sigmoid32(z[r, hidden + j]), sigmoid32(z[r, 2 * hidden + j])
            cc = i * tanh32(z[r, 3 * hidden + j])
            if cp is not None:
                cc += f * cp[r, j]
            c[r, j] = cc
            h[r, j] = o * tanh32(cc)


@njit(**JIT_EXACT)
def lstm_backward(z, cp, c, gh, gc, gz, gcp):
    """The gradients of lstm_forward: gz (n, 4H) and gcp (n, H), from gh and gc (either may be None: no gradient
    reached that output); gcp is written even when cp is None (the caller drops it). One loop per output block:
    a loop reading and writing more arrays needs more overlap checks than LLVM makes, and stays scalar."""
    n, hidden = c.shape
    one, zero = np.float32(1.0), np.float32(0.0)
    for r in range(n):
        zr, cr, gr, gzr = z[r], c[r], gcp[r], gz[r]
        for j in range(hidden):  # the gradient reaching c, kept in gcp until the last loop
            tc = tanh32(cr[j])
            gr[j] = (gc[r, j] if gc is not None else zero) + \
                (gh[r, j] * sigmoid32(zr[2 * hidden + j]) * (one - tc * tc) if gh is not None else zero)
        if cp is None:
            gzr[:hidden] = zero
        else:
            cpr = cp[r]
            for j in range(hidden):
                f, f_ = _sigmoids(zr[j])
                gzr[j] = gr[j] * cpr[j] * f * f_
        for j in range(hidden):
            i, i_ = _sigmoids(zr[hidden + j])
            gzr[hidden + j] = gr[j] * tanh32(zr[3 * hidden + j]) * i * i_
        if gh is None:
            gzr[2 * hidden:3 * hidden] = zero
        else:
            ghr = gh[r]
            for j in range(hidden):
                o, o_ = _sigmoids(zr[2 * hidden + j])
                gzr[2 * hidden + j] = ghr[j] * tanh32(cr[j]) * o * o_
        for j in range(hidden):
            u = tanh32(zr[3 * hidden + j])
            gzr[3 * hidden + j] = gr[j] * sigmoid32(zr[hidden + j]) * (one - u * u)
        for j in range(hidden):
            gr[j] = gr[j] * sigmoid32(zr[j])


def lstm(z, cp):
    """h, c of the LSTM cell for float32 z (n, 4H) and cp (n, H) or None."""
    z = np.ascontiguousarray(z)
    shape = (len(z), z.shape[1] // 4)
    h, c = np.empty(shape, z.dtype), np.empty(shape, z.dtype)
    for_blocks(lambda lo, hi: lstm_forward(z[lo:hi], None if cp is None else cp[lo:hi], h[lo:hi], c[lo:hi]),
               len(z), z.shape[1], np, BLOCK)
    return h, c


def lstm_grad(z, cp, c, gh, gc):
    """gz and (unless cp is None) gcp of the LSTM cell, for float32 arrays; gh, gc may be None."""
    z, cp, c, gh, gc = (None if a is None else np.ascontiguousarray(a) for a in (z, cp, c, gh, gc))  # vector loads
    gz, gcp = np.empty(z.shape, z.dtype), np.empty(c.shape, z.dtype)
    for_blocks(lambda lo, hi: lstm_backward(z[lo:hi], None if cp is None else cp[lo:hi], c[lo:hi],
                                            None if gh is None else gh[lo:hi], None if gc is None else gc[lo:hi],
                                            gz[lo:hi], gcp[lo:hi]),
               len(z), z.shape[1], np, BLOCK)
    return gz, None if cp is None else gcp
