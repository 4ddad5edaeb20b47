"""Softmax cross entropy kernels: one block per position reads its logits once, and writes the gradient once."""
import math

from numba import float64

from minigrad.backend import get_array_module as cuda_xp
from minigrad.cuda.launch import MAX_THREADS, cuda, launch, threads


@cuda.jit
def forward(x, q, t, valid, wt, mass, w, has_w, probs, eps, n_classes, inner, loss, lse):
    """Per position p = (n, s) of logits viewed as (N, C, S): loss[p], and lse[p] = max_c x[n, c, s] and
    lse[P + p] = log sum_c exp(x[n, c, s] - max) for the gradient (P positions).

    Each thread keeps an online (max m, sum of exp(x - m), A = sum_c P_c (x_c - m), B = sum_c P_c) over
    its classes, rescaled whenever m grows; the block merges them in shared memory. Differences x - m are
    never taken between infinities, so the loss is exact for logits of any size and NaN exactly where
    the NumPy path gives NaN (a row holding +inf or NaN, or only -inf).
    """
    p = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    n = p // inner
    base = n * n_classes * inner + (p - n * inner)
    smooth = probs or eps != 0
    m, s, a, b = -math.inf, 0.0, 0.0, 0.0
    for c in range(tid, n_classes, nt):
        i = base + c * inner
        xc = float64(x[i])
        # P_c carried by the online sum (inlined: compile_ptx types no device-function calls without a GPU):
        # all of it for probabilities, the smoothing part for class indices, whose (1 - eps) w[t] part is
        # gathered at the end.
        wc = float64(w[c]) if has_w else 1.0
        pc = wc * ((1 - eps) * float64(q[i]) + eps / n_classes) if probs else (eps / n_classes) * wc if eps else 0.0
        if xc > m:
            if m != -math.inf:
                s *= math.exp(m - xc)
                a -= (xc - m) * b
            m = xc
        d = xc if xc == -math.inf else xc - m
        s += math.exp(d)
        if smooth:
            a += pc * d
            b += pc
    sm = cuda.shared.array(MAX_THREADS, float64)
    ss = cuda.shared.array(MAX_THREADS, float64)
    sa = cuda.shared.array(MAX_THREADS, float64)
    sb = cuda.shared.array(MAX_THREADS, float64)
    sm[tid], ss[tid], sa[tid], sb[tid] = m, s, a, b
    cuda.syncthreads()
    step = nt // 2
    while step > 0:
        if tid < step:
            m1, m2 = sm[tid], sm[tid + step]
            top = m2 if m2 > m1 else m1
            s1, s2 = ss[tid], ss[tid + step]
            a1, a2 = sa[tid], sa[tid + step]
            if top != -math.inf and top != math.inf:  # an infinite top makes the row NaN anyway
                s1 = s1 * math.exp(m1 - top) if m1 != -math.inf else s1
                s2 = s2 * math.exp(m2 - top) if m2 != -math.inf else s2
                a1 = a1 - (top - m1) * sb[tid] if m1 != -math.inf else a1
                a2 = a2 - (top - m2) * sb[tid + step] if m2 != -math.inf else a2
            sm[tid], ss[tid], sa[tid], sb[tid] = top, s1 + s2, a1 + a2, sb[tid] + sb[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        top, total, zq = sm[0], ss[0], sa[0]
        # The max and log(sum) apart, not their sum: m + log(s) would round away low digits of large logits.
        if top == math.inf or top == -math.inf or top != top:
            lse[p], lse[cuda.gridDim.x + p] = math.nan, math.nan
            value = math.nan
        else:
            lse[p], lse[cuda.gridDim.x + p] = top, math.log(total)
            if not probs:
                tp = t[p]
                zt = float64(x[base + tp * inner]) - top if 0 <= tp < n_classes else math.nan
                zq += (1 - eps) * wt[p] * zt
            value = (sb[0] if probs else mass[p]) * math.log(total) - zq  # a_n = sum_c P_c
        loss[p] = value if probs or valid[p] else 0.0


@cuda.jit
def gradient(x, q, t, valid, wt, mass, w, has_w, probs, eps, n_classes, inner, lse, k, g):
    """g[n, :, s] = k[p] (mass[p] softmax(x[n, :, s]) - P[p, :]) for each position p, P the weighted target."""
    p = cuda.blockIdx.x
    n = p // inner
    base = n * n_classes * inner + (p - n * inner)
    kp, mp, top, logs = float64(k[p]), float64(mass[p]) if not probs else 0.0, lse[p], lse[cuda.gridDim.x + p]
    if probs:  # the mass of a probability row: sum_c P_c, summed by the block first
        part = 0.0
        for c in range(cuda.threadIdx.x, n_classes, cuda.blockDim.x):
            wc = float64(w[c]) if has_w else 1.0
            part += wc * ((1 - eps) * float64(q[base + c * inner]) + eps / n_classes)
        shared = cuda.shared.array(MAX_THREADS, float64)
        shared[cuda.threadIdx.x] = part
        cuda.syncthreads()
        step = cuda.blockDim.x // 2
        while step > 0:
            if cuda.threadIdx.x < step:
                shared[cuda.threadIdx.x] += shared[cuda.threadIdx.x + step]
            cuda.syncthreads()
            step //= 2
        mp = shared[0]
    tp = t[p] if not probs else -1
    for c in range(cuda.threadIdx.x, n_classes, cuda.blockDim.x):
        i = base + c * inner
        wc = float64(w[c]) if has_w else 1.0
        # Without smoothing a class weight enters only through wt[p]: an inf weight of an unused class is not 0 * inf.
        target = wc * ((1 - eps) * float64(q[i]) + eps / n_classes) if probs else (eps / n_classes) * wc if eps else 0.0
        if c == tp:
            target += (1 - eps) * wt[p]
        g[i] = kp * (mp * math.exp((float64(x[i]) - top) - logs) - target)


def _args(x, q, targets, w, eps, n_classes, inner, mass):
    """The kernels' common arguments; absent arrays become 1-element placeholders of the right kind."""
    xp = cuda_xp(x)
    one = xp.empty(1, x.dtype)
    if targets is None:
        t, valid, wt, mass = xp.empty(1, xp.int64), xp.empty(1, bool), one, one
    else:
        t, valid, wt, mass = (xp.ascontiguousarray(a).reshape(-1) for a in (targets.t, targets.valid, targets.wt,
                                                                           mass))
    return (xp.ascontiguousarray(x).reshape(-1), one if q is None else xp.ascontiguousarray(q).reshape(-1), t, valid,
            wt, mass, one if w is None else w, w is not None, targets is None, float(eps), n_classes, inner)


def cross_entropy(x, q, targets, w, eps, mass):
    """Per-position losses (shape (N, 1) or (N, 1, S)) of logits x viewed as (N, C[, S]), and each position's
    max and log-sum-exp below it (2 N S values) for the gradient."""
    n, c, inner = x.shape[0], x.shape[1], x.size // max(x.shape[0] * x.shape[1], 1)
    xp = cuda_xp(x)
    loss, lse = xp.empty(x.shape[:1] + (1,) + x.shape[2:], x.dtype), xp.empty(2 * n * inner, xp.float64)
    launch(forward, n * inner, threads(c), *_args(x, q, targets, w, eps, c, inner, mass), loss.reshape(-1), lse)
    return loss, lse


def cross_entropy_gradient(x, q, targets, w, eps, mass, lse, k):
    """The gradient k[p] (mass[p] softmax - P[p]) for logits x viewed as (N, C, S), k one factor per position."""
    n, c, inner = x.shape[0], x.shape[1], x.size // max(x.shape[0] * x.shape[1], 1)
    xp = cuda_xp(x)
    k = xp.ascontiguousarray(xp.broadcast_to(k, x.shape[:1] + (1,) + x.shape[2:])).reshape(-1)
    g = xp.empty(x.shape, x.dtype)
    launch(gradient, n * inner, threads(c), *_args(x, q, targets, w, eps, c, inner, mass), lse, k, g.reshape(-1))
    return g
