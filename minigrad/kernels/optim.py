"""Adam's and AdamW's update of one Parameter in one pass, each operation as the NumPy path rounds it: the same bits."""
import numpy as np
from numba import njit


@njit(nogil=True, cache=True, error_model="numpy")  # no fastmath: no fused multiply-add, no reordering
def _adam(p, g, m, v, decay, c1, b2, c2, step, s, eps):
    for i in range(p.size):
        gi = g[i]
        mi = m[i] + c1 * (gi - m[i])
        vi = v[i] * b2 + c2 * gi * gi
        m[i], v[i] = mi, vi
        p[i] = p[i] * decay - step * mi / (np.sqrt(vi) / s + eps)


def adam(p, g, m, v, decay, c1, b2, c2, step, s, eps):
    """p = p * decay - step * m / (sqrt(v) / s + eps) after m += c1 (g - m), v = v b2 + c2 g g, in place, on
    C-contiguous arrays of one dtype (scalars rounded to it first, as NumPy does with Python floats)."""
    f = p.dtype.type
    _adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), f(decay), f(c1), f(b2), f(c2), f(step), f(s),
          f(eps))
