"""DeZero's dezero.optimizers: its defaults (AdaGrad) and its Adam (step size alpha, eps outside the correction)."""
import math

from minigrad import optimizers
from minigrad.backend import get_array_module
from minigrad.optimizers import (  # noqa: F401 (the same formulas and defaults as DeZero's)
    SGD,
    AdaDelta,
    ClipGrad,
    FreezeParam,
    MomentumSGD,
    Optimizer,
    WeightDecay,
)


class AdaGrad(optimizers.AdaGrad):
    """minigrad's AdaGrad with DeZero's defaults, lr=0.001 and eps=1e-8."""

    def __init__(self, lr=0.001, eps=1e-8):
        super().__init__(lr, eps)


class Adam(Optimizer):
    """DeZero's Adam: m and v as torch's, then p -= lr * m / (sqrt(v) + eps) with the property
    lr = alpha * sqrt(1 - beta2^t) / (1 - beta1^t); torch (and minigrad's Adam) add eps to sqrt(v) after the
    bias correction, which differs while sqrt(v) is near eps."""

    HYPER, SLOTS = ("alpha", "beta1", "beta2", "eps"), ("m", "v")

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        optimizers.check_hyper("Adam", alpha=(alpha, 0, None), beta1=(beta1, 0, 1), beta2=(beta2, 0, 1),
                               eps=(eps, 0, None))
        self.alpha, self.beta1, self.beta2, self.eps = alpha, beta1, beta2, eps

    @property
    def lr(self):
        return self.alpha * math.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)

    def update_one(self, p):
        m, v = self._state(p)
        g = p.grad.data
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        p.data -= self.lr * m / (get_array_module(v).sqrt(v) + self.eps)
