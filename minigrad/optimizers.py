"""Optimizers (SGD, MomentumSGD, AdaGrad, AdaDelta, Adam, AdamW) as torch.optim computes them, and hooks."""
import math

import numpy as np

from minigrad.backend import get_array_module
from minigrad.core import Variable
from minigrad.shapes import check_real


def check_hyper(owner, **values):
    """Each value a real number in its range (name=(value, low, high), high exclusive; None for none)."""
    for name, (value, low, high) in values.items():
        where = f">= {low}" + ("" if high is None else f" and < {high}")
        check_real(value, owner, name, lambda v: low <= v and (high is None or v < high), where)


class Optimizer:
    """opt = SGD(lr=0.1).setup(model); after loss.backward(), opt.update()."""

    def __init__(self):
        self.target = None
        self.hooks = []
        self.t = 0  # number of updates so far
        self.state = {}  # Parameter -> its state: holding the Parameter, no other can take its place

    def setup(self, target):
        """target: a Layer (its params()) or a list of Parameters."""
        if not hasattr(target, "params"):
            target = list(target) if isinstance(target, (list, tuple)) else target
            if not isinstance(target, list) or not all(isinstance(p, Variable) for p in target):
                raise TypeError(f"{type(self).__name__}.setup: expected a Layer or a list of Parameters, "
                                f"got {type(target).__name__}")
        self.target = target
        return self

    def add_hook(self, hook):
        self.hooks.append(hook)
        return self

    def params(self):
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}: call setup(model) before update()")
        params = self.target.params() if hasattr(self.target, "params") else self.target
        return [p for p in params if p.grad is not None]

    def update(self):
        params = self.params()
        for hook in self.hooks:
            hook(params)
            params = [p for p in params if p.grad is not None]  # a hook (FreezeParam) may have taken some away
        self.t += 1
        for p in params:
            self.update_one(p)

    def update_one(self, p):
        raise NotImplementedError

    def _state(self, p, *names):
        """Zero-initialised state arrays of p's shape, created on first use (keyed by p itself: dict lookups compare
        Parameters by identity, as they hash)."""
        state = self.state.get(p)
        if state is None:
            xp = get_array_module(p.data)
            state = self.state[p] = [xp.zeros_like(p.data) for _ in names]
        return state


class SGD(Optimizer):
    def __init__(self, lr=0.01):
        super().__init__()
        check_hyper("SGD", lr=(lr, 0, None))
        self.lr = lr

    def update_one(self, p):
        p.data -= self.lr * p.grad.data


class MomentumSGD(Optimizer):
    """v = momentum * v + g; p -= lr * v (torch.optim.SGD with momentum)."""

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        check_hyper("MomentumSGD", lr=(lr, 0, None), momentum=(momentum, 0, 1))
        self.lr, self.momentum = lr, momentum

    def update_one(self, p):
        v, = self._state(p, "v")
        v *= self.momentum
        v += p.grad.data
        p.data -= self.lr * v


class AdaGrad(Optimizer):
    """h += g^2; p -= lr * g / (sqrt(h) + eps) (torch.optim.Adagrad)."""

    def __init__(self, lr=0.01, eps=1e-10):
        super().__init__()
        check_hyper("AdaGrad", lr=(lr, 0, None), eps=(eps, 0, None))
        self.lr, self.eps = lr, eps

    def update_one(self, p):
        h, = self._state(p, "h")
        g = p.grad.data
        h += g * g
        p.data -= self.lr * g / (get_array_module(h).sqrt(h) + self.eps)


class AdaDelta(Optimizer):
    """v = rho v + (1 - rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) g; u = rho u + (1 - rho) d^2; p -= lr d
    (DeZero's AdaDelta, which has lr = 1, and torch.optim.Adadelta)."""

    def __init__(self, rho=0.95, eps=1e-6, lr=1.0):
        super().__init__()
        check_hyper("AdaDelta", rho=(rho, 0, 1), eps=(eps, 0, None), lr=(lr, 0, None))
        self.rho, self.eps, self.lr = rho, eps, lr

    def update_one(self, p):
        v, u = self._state(p, "v", "u")
        xp, g = get_array_module(v), p.grad.data
        v *= self.rho
        v += (1 - self.rho) * g * g
        d = xp.sqrt(u + self.eps) / xp.sqrt(v + self.eps) * g
        u *= self.rho
        u += (1 - self.rho) * d * d
        p.data -= self.lr * d


class Adam(Optimizer):
    """Adam with bias correction, exactly as torch.optim.Adam (no weight decay)."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        check_hyper(type(self).__name__, lr=(lr, 0, None), beta1=(beta1, 0, 1), beta2=(beta2, 0, 1),
                    eps=(eps, 0, None))
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps

    def update_one(self, p):
        m, v = self._state(p, "m", "v")
        g = p.grad.data
        m += (1 - self.beta1) * (g - m)
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        step = self.lr / (1 - self.beta1 ** self.t)
        denom = get_array_module(v).sqrt(v) / math.sqrt(1 - self.beta2 ** self.t) + self.eps
        p.data -= step * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step (torch.optim.AdamW)."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        check_hyper("AdamW", weight_decay=(weight_decay, 0, None))
        self.weight_decay = weight_decay

    def update_one(self, p):
        p.data *= 1 - self.lr * self.weight_decay
        super().update_one(p)


class WeightDecay:
    """Hook: g += rate * p (L2 regularisation, torch's weight_decay for SGD)."""

    def __init__(self, rate):
        check_hyper("WeightDecay", rate=(rate, 0, None))
        self.rate = rate

    def __call__(self, params):
        for p in params:
            p.grad.data = p.grad.data + self.rate * p.data


class FreezeParam:
    """Hook: the given Parameters, or all Parameters of the given layers, are not updated (their gradients are
    dropped before the step), as DeZero's FreezeParam."""

    def __init__(self, *layers):
        self.frozen = []
        for i, item in enumerate(layers):
            if isinstance(item, Variable):
                self.frozen.append(item)
            elif isinstance(item, type):
                raise TypeError(f"FreezeParam: argument {i} is the class {item.__name__}; expected a Layer instance "
                                f"(e.g. model.l1) or a Parameter")
            elif hasattr(item, "params"):
                self.frozen.extend(item.params())
            else:
                raise TypeError(f"FreezeParam: argument {i} is a {type(item).__name__}, expected a Layer or a "
                                f"Parameter")

    def __call__(self, params):
        for p in self.frozen:
            p.grad = None


class ClipGrad:
    """Hook: scale all gradients by max_norm / (total L2 norm + 1e-6) when the norm exceeds max_norm
    (torch.nn.utils.clip_grad_norm_)."""

    def __init__(self, max_norm):
        check_hyper("ClipGrad", max_norm=(max_norm, 0, None))
        self.max_norm = max_norm

    def __call__(self, params):
        if not params:
            return
        xp = get_array_module(params[0].grad.data)
        # The norm in float64 and the factor min(rate, 1) stay on the device: no host synchronisation.
        total = xp.sqrt(sum((p.grad.data.astype(np.float64) ** 2).sum() for p in params))
        rate = xp.minimum(self.max_norm / (total + 1e-6), 1.0)
        for p in params:
            p.grad.data = p.grad.data * rate.astype(p.grad.data.dtype)
