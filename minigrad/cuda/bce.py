"""Sigmoid binary cross entropy kernels: one pass over the elements for the loss, one for the gradient."""
import math

from numba import float64

from minigrad.backend import get_array_module
from minigrad.cuda.launch import MAX_THREADS, cuda, launch, threads

MAX_BLOCKS = 1024  # blocks of the reducing forward: each leaves one partial sum


@cuda.jit
def forward(x, y, w, w_strides, pw, pw_strides, shape, has_w, has_pw, keep, out, partial):
    """l_i = w [max(x, 0) - y (x + (pw - 1) min(x, 0)) + (1 + (pw - 1) y) log1p(exp(-|x|))], in out (keep)
    or summed per block into partial."""
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * cuda.blockDim.x + tid
    acc = 0.0
    while i < x.size:
        xi, yi = float64(x[i]), float64(y[i])
        pwv, wv, off_w, off_pw, j = 1.0, 1.0, 0, 0, i
        # the weights' offsets for element i (strides 0 along broadcast axes), inlined: compile_ptx types
        # no device-function calls without a GPU
        for d in range(len(shape) - 1, -1, -1):
            if has_w:
                off_w += (j % shape[d]) * w_strides[d]
            if has_pw:
                off_pw += (j % shape[d]) * pw_strides[d]
            j //= shape[d]
        if has_w:
            wv = float64(w[off_w])
        if has_pw:
            pwv = float64(pw[off_pw])
        pm1y = (pwv - 1) * yi
        # max(x, 0) - y (x + (pw - 1) min(x, 0)) first: exactly 0 for y = 1, x >> 0
        loss = max(xi, 0.0) - (xi * yi + pm1y * min(xi, 0.0)) + (pm1y + 1) * math.log1p(math.exp(-abs(xi)))
        loss *= wv
        if keep:
            out[i] = loss
        else:
            acc += loss
        i += cuda.gridDim.x * cuda.blockDim.x
    if not keep:
        shared = cuda.shared.array(MAX_THREADS, float64)
        shared[tid] = acc
        cuda.syncthreads()
        step = cuda.blockDim.x // 2
        while step > 0:
            if tid < step:
                shared[tid] += shared[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            partial[cuda.blockIdx.x] = shared[0]


@cuda.jit
def gradient(x, y, w, w_strides, pw, pw_strides, shape, has_w, has_pw, k, k_full, g):
    """g_i = k w [(pw y + 1 - y) sigmoid(x) - pw y], k one factor (k_full False) or one per element."""
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    while i < x.size:
        xi, yi = float64(x[i]), float64(y[i])
        e = math.exp(-abs(xi))  # never overflows: sigmoid from the side where it is exact
        s = 1.0 / (1.0 + e) if xi >= 0 else e / (1.0 + e)
        pwv, wv, off_w, off_pw, j = 1.0, 1.0, 0, 0, i
        for d in range(len(shape) - 1, -1, -1):
            if has_w:
                off_w += (j % shape[d]) * w_strides[d]
            if has_pw:
                off_pw += (j % shape[d]) * pw_strides[d]
            j //= shape[d]
        if has_w:
            wv = float64(w[off_w])
        if has_pw:
            pwv = float64(pw[off_pw])
        kv = float64(k[i] if k_full else k[0])
        g[i] = kv * wv * (((pwv - 1) * yi + 1) * s - pwv * yi)
        i += cuda.gridDim.x * cuda.blockDim.x


def _broadcast(a, shape, xp):
    """(a flat, its element strides along shape's axes with 0 where it broadcasts, present?)."""
    if a is None:
        return xp.empty(1, xp.float64), xp.empty(max(len(shape), 1), xp.int64), False  # never read
    strides, step = [0] * len(shape), 1
    for d in range(1, a.ndim + 1):
        if a.shape[-d] != 1:
            strides[-d] = step
        step *= a.shape[-d]
    return xp.ascontiguousarray(a).reshape(-1), xp.asarray(strides or [0], dtype=xp.int64), True


def _args(x, y, w, pw):
    xp = get_array_module(x)
    shape = x.shape or (1,)
    return (xp.ascontiguousarray(x).reshape(-1), xp.ascontiguousarray(y).reshape(-1), *_broadcast(w, x.shape, xp)[:2],
            *_broadcast(pw, x.shape, xp)[:2], xp.asarray(shape, dtype=xp.int64), w is not None, pw is not None)


def sigmoid_bce(x, y, w, pw, keep):
    """The elementwise losses (keep) or their sum (a 0-d float64 array) of logits x and targets y."""
    xp = get_array_module(x)
    t = threads(x.size)
    blocks = min(MAX_BLOCKS, -(-x.size // t))
    out = xp.empty(x.shape, x.dtype) if keep else xp.empty(1, x.dtype)
    partial = xp.empty(blocks, xp.float64) if blocks else xp.zeros(1, xp.float64)  # each block writes one sum
    launch(forward, blocks, t, *_args(x, y, w, pw), keep, out.reshape(-1), partial)
    return out if keep else partial.sum()


def sigmoid_bce_gradient(x, y, w, pw, k):
    """k w [(pw y + 1 - y) sigmoid(x) - pw y] with k a scalar or an array of x's shape."""
    xp = get_array_module(x)
    t = threads(x.size)
    g = xp.empty(x.shape, x.dtype)
    k_full = k.size == x.size and k.size > 1
    launch(gradient, min(MAX_BLOCKS, -(-x.size // t)), t, *_args(x, y, w, pw), xp.ascontiguousarray(k).reshape(-1),
           k_full, g.reshape(-1))
    return g
