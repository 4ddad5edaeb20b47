"""Optimizers (SGD, MomentumSGD, AdaGrad, AdaDelta, Adam, AdamW) as torch.optim computes them, and hooks."""
import math
import numbers

import numpy as np

from minigrad import kernels
from minigrad.backend import as_numpy, get_array_module
from minigrad.core import Variable
from minigrad.shapes import check_real


def check_hyper(owner, **values):
    """Each value a real number in its range (name=(value, low, high), high exclusive; None for none)."""
    for name, (value, low, high) in values.items():
        where = f">= {low}" + ("" if high is None else f" and < {high}")
        check_real(value, owner, name, lambda v: low <= v and (high is None or v < high), where)


class Optimizer:
    """opt = SGD(lr=0.1).setup(model); after loss.backward(), opt.update().

    HYPER names the hyperparameters (attributes), SLOTS the state arrays kept per Parameter; state_dict() and
    load_state_dict() carry both, the step count and the hooks' settings, keyed by Parameter name."""

    HYPER = ("lr",)
    SLOTS = ()

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

    def _state(self, p):
        """p's SLOTS arrays, zeros of p's shape created on first use (keyed by p itself: dict lookups compare
        Parameters by identity, as they hash)."""
        state = self.state.get(p)
        if state is None:
            xp = get_array_module(p.data)
            state = self.state[p] = [xp.zeros_like(p.data) for _ in self.SLOTS]
        return state

    def named_params(self):
        """{name: Parameter} of the target: the Layer's names ('l0/W'), or the list's positions ('0', '1', ...)."""
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}: call setup(model) before saving or loading its state")
        if hasattr(self.target, "named_params"):
            return dict(self.target.named_params())
        return {str(i): p for i, p in enumerate(self.target)}

    def state_dict(self):
        """The optimizer as plain data: {'type', 'hyper' (name: number), 't', 'hooks' (each hook's type and
        settings), 'state' ({parameter name: {slot: NumPy array}})}; no Parameter or id in it."""
        names = {id(p): n for n, p in self.named_params().items()}
        state = {}
        for p, arrays in self.state.items():
            if id(p) not in names:
                raise ValueError(f"{type(self).__name__}.state_dict: a Parameter with state is not in the target")
            state[names[id(p)]] = {slot: as_numpy(a) for slot, a in zip(self.SLOTS, arrays)}
        return {"type": type(self).__name__, "hyper": {k: getattr(self, k) for k in self.HYPER}, "t": self.t,
                "hooks": [hook_state(h) for h in self.hooks], "state": state}

    def load_state_dict(self, sd):
        """Restore what state_dict() gave, onto the target's Parameters (their device and dtype). Everything is
        checked first (type, hyperparameters, hooks, names, shapes): an error changes nothing."""
        self.prepare_load(sd)()

    def prepare_load(self, sd, incoming=None):
        """Check sd against this optimizer and its target; a function that applies it (load_state_dict's two
        halves, so that a checkpoint can check every part before it changes any). incoming: {name: array} that
        the Parameters are about to get (a checkpoint's model), checked against instead of their arrays now."""
        me = type(self).__name__
        if sd.get("type") != me:
            raise ValueError(f"{me}.load_state_dict: the state is of a {sd.get('type')}, not a {me}")
        hyper = sd.get("hyper", {})
        if set(hyper) != set(self.HYPER):
            raise ValueError(f"{me}.load_state_dict: hyperparameters {sorted(hyper)}, expected {sorted(self.HYPER)}")
        for k, v in hyper.items():
            check_real(v, me, k)
        t = sd.get("t")
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"{me}.load_state_dict: step count t must be a non-negative int, got {t!r}")
        hooks = sd.get("hooks", [])
        kinds = [h["type"] for h in hooks]
        if kinds != [type(h).__name__ for h in self.hooks]:
            raise ValueError(f"{me}.load_state_dict: the state has hooks {kinds}, this optimizer "
                             f"{[type(h).__name__ for h in self.hooks]}; add the same hooks in the same order")
        params = self.named_params()
        new = {}
        for name, slots in sd.get("state", {}).items():
            p = params.get(name)
            if p is None:
                raise ValueError(f"{me}.load_state_dict: state for parameter {name!r}, which the target does not "
                                 f"have (it has {sorted(params)[:8]}...)")
            if set(slots) != set(self.SLOTS):
                raise ValueError(f"{me}.load_state_dict: {name} has state {sorted(slots)}, expected "
                                 f"{sorted(self.SLOTS)}")
            ref = (incoming or {}).get(name, p.data)
            for slot, a in slots.items():
                if ref is None or a.shape != ref.shape:
                    raise ValueError(f"{me}.load_state_dict: {name}/{slot} has shape {a.shape}, the parameter "
                                     f"{'has no array yet' if ref is None else ref.shape}")
            xp = get_array_module(ref)
            new[p] = [xp.asarray(slots[slot], dtype=ref.dtype) for slot in self.SLOTS]
        for hook, h in zip(self.hooks, hooks):
            hook_check(hook, h, me)

        def apply():
            for k, v in hyper.items():
                setattr(self, k, v)
            self.t = int(t)
            self.state = new
            for hook, h in zip(self.hooks, hooks):
                for k in getattr(hook, "HYPER", ()):
                    setattr(hook, k, h[k])
        return apply


def hook_state(hook):
    """A hook's type and settings (its HYPER attributes)."""
    return {"type": type(hook).__name__, **{k: getattr(hook, k) for k in getattr(hook, "HYPER", ())}}


def hook_check(hook, saved, owner):
    for k in getattr(hook, "HYPER", ()):
        if k not in saved:
            raise ValueError(f"{owner}.load_state_dict: hook {type(hook).__name__} has no {k} in the state")
        check_real(saved[k], type(hook).__name__, k)


class SGD(Optimizer):
    HYPER = ("lr",)

    def __init__(self, lr=0.01):
        super().__init__()
        check_hyper("SGD", lr=(lr, 0, None))
        self.lr = lr

    def update_one(self, p):
        p.data -= self.lr * p.grad.data


class MomentumSGD(Optimizer):
    """v = momentum * v + g; p -= lr * v (torch.optim.SGD with momentum)."""

    HYPER, SLOTS = ("lr", "momentum"), ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        check_hyper("MomentumSGD", lr=(lr, 0, None), momentum=(momentum, 0, 1))
        self.lr, self.momentum = lr, momentum

    def update_one(self, p):
        v, = self._state(p)
        v *= self.momentum
        v += p.grad.data
        p.data -= self.lr * v


class AdaGrad(Optimizer):
    """h += g^2; p -= lr * g / (sqrt(h) + eps) (torch.optim.Adagrad)."""

    HYPER, SLOTS = ("lr", "eps"), ("h",)

    def __init__(self, lr=0.01, eps=1e-10):
        super().__init__()
        check_hyper("AdaGrad", lr=(lr, 0, None), eps=(eps, 0, None))
        self.lr, self.eps = lr, eps

    def update_one(self, p):
        h, = self._state(p)
        g = p.grad.data
        h += g * g
        p.data -= self.lr * g / (get_array_module(h).sqrt(h) + self.eps)


class AdaDelta(Optimizer):
    """v = rho v + (1 - rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) g; u = rho u + (1 - rho) d^2; p -= lr d
    (DeZero's AdaDelta, which has lr = 1, and torch.optim.Adadelta)."""

    HYPER, SLOTS = ("rho", "eps", "lr"), ("v", "u")

    def __init__(self, rho=0.95, eps=1e-6, lr=1.0):
        super().__init__()
        check_hyper("AdaDelta", rho=(rho, 0, 1), eps=(eps, 0, None), lr=(lr, 0, None))
        self.rho, self.eps, self.lr = rho, eps, lr

    def update_one(self, p):
        v, u = self._state(p)
        xp, g = get_array_module(v), p.grad.data
        v *= self.rho
        v += (1 - self.rho) * g * g
        d = xp.sqrt(u + self.eps) / xp.sqrt(v + self.eps) * g
        u *= self.rho
        u += (1 - self.rho) * d * d
        p.data -= self.lr * d


class Adam(Optimizer):
    """Adam with bias correction, exactly as torch.optim.Adam (no weight decay)."""

    HYPER, SLOTS = ("lr", "beta1", "beta2", "eps"), ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        check_hyper(type(self).__name__, lr=(lr, 0, None), beta1=(beta1, 0, 1), beta2=(beta2, 0, 1),
                    eps=(eps, 0, None))
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps

    def update_one(self, p):
        self._step(p, 1.0)

    def _step(self, p, decay):
        """The Adam step of p after p *= decay (AdamW's weight decay; 1.0: none), in one pass on the CPU kernel
        (docs/kernels.md: the same bits as the NumPy operations below), else by those operations."""
        m, v = self._state(p)
        g = p.grad.data
        step, s = self.lr / (1 - self.beta1 ** self.t), math.sqrt(1 - self.beta2 ** self.t)
        if kernels.adam_step(p.data, g, m, v, decay, 1 - self.beta1, self.beta2, 1 - self.beta2, step, s, self.eps):
            p.data = p.data  # changed in place: the graph sees the assignment (Variable.data)
            return
        if decay != 1.0:
            p.data *= decay
        m += (1 - self.beta1) * (g - m)
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        p.data -= step * m / (get_array_module(v).sqrt(v) / s + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step (torch.optim.AdamW)."""

    HYPER = Adam.HYPER + ("weight_decay",)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        check_hyper("AdamW", weight_decay=(weight_decay, 0, None))
        self.weight_decay = weight_decay

    def update_one(self, p):
        self._step(p, 1 - self.lr * self.weight_decay)


class WeightDecay:
    """Hook: g += rate * p (L2 regularisation, torch's weight_decay for SGD)."""

    HYPER = ("rate",)

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

    HYPER = ("max_norm",)

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
