"""Learning-rate schedules (torch.optim.lr_scheduler's closed forms): step, exponential, cosine, linear, sequential."""
import math
import numbers

from minigrad.shapes import check_real, check_size


class LRScheduler:
    """Sets optimizer.lr = lr_at(t) for the step count t: t = 0 at construction, one more per step(). Call step()
    once per iteration or once per epoch; t counts whichever you chose. base_lr is the optimizer's lr when its
    first scheduler was made (kept as optimizer.initial_lr, as torch does), so schedulers built for one
    optimizer agree on it. state_dict() / load_state_dict() carry t (and base_lr)."""

    def __init__(self, optimizer, apply=True):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if getattr(optimizer, "initial_lr", None) is None:
            optimizer.initial_lr = optimizer.lr
        self.base_lr = optimizer.initial_lr
        self.t = 0
        if apply:
            optimizer.lr = self.lr_at(0)

    def lr_at(self, t):
        raise NotImplementedError

    def step(self):
        self.t += 1
        self.optimizer.lr = self.lr_at(self.t)

    def get_last_lr(self):
        return self.optimizer.lr

    def state_dict(self):
        return {"type": type(self).__name__, "t": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, sd):
        self.prepare_load(sd)()

    def prepare_load(self, sd):
        """Check sd; a function that applies it (sets t, base_lr and the optimizer's lr)."""
        me = type(self).__name__
        if sd.get("type") != me:
            raise ValueError(f"{me}.load_state_dict: the state is of a {sd.get('type')}, not a {me}")
        t = sd.get("t")
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"{me}.load_state_dict: t must be a non-negative int, got {t!r}")
        base = check_real(sd.get("base_lr"), me, "base_lr", lambda v: v >= 0, "non-negative")

        def apply():
            self.t, self.base_lr = int(t), base
            self.optimizer.initial_lr = base
            self.optimizer.lr = self.lr_at(self.t)
        return apply


class StepLR(LRScheduler):
    """base_lr * gamma ** (t // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = check_size(step_size, "StepLR", "step_size")
        self.gamma = check_real(gamma, "StepLR", "gamma", lambda v: v >= 0, "non-negative")
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """base_lr * gamma ** t."""

    def __init__(self, optimizer, gamma):
        self.gamma = check_real(gamma, "ExponentialLR", "gamma", lambda v: v >= 0, "non-negative")
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2: from base_lr down to eta_min at t = T_max (and
    back up after it, as torch's closed form)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = check_size(T_max, "CosineAnnealingLR", "T_max")
        self.eta_min = check_real(eta_min, "CosineAnnealingLR", "eta_min", lambda v: v >= 0, "non-negative")
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearLR(LRScheduler):
    """base_lr times a factor going linearly from start_factor to end_factor over total_iters steps, then
    end_factor: a linear warm-up with the defaults of LinearLR(optimizer, start_factor=1/3)."""

    def __init__(self, optimizer, start_factor=1 / 3, end_factor=1.0, total_iters=5):
        self.start_factor = check_real(start_factor, "LinearLR", "start_factor", lambda v: 0 < v <= 1, "in (0, 1]")
        self.end_factor = check_real(end_factor, "LinearLR", "end_factor", lambda v: 0 <= v <= 1, "in [0, 1]")
        self.total_iters = check_size(total_iters, "LinearLR", "total_iters")
        super().__init__(optimizer)

    def lr_at(self, t):
        frac = min(t, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class SequentialLR(LRScheduler):
    """schedulers[i] in force from milestones[i - 1] on, each counting its steps from its own start: e.g.
    SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=100), CosineAnnealingLR(opt, 900)], milestones=[100])
    warms up for 100 steps, then decays over 900."""

    def __init__(self, optimizer, schedulers, milestones):
        if not schedulers or any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: expected a non-empty list of schedulers of this optimizer")
        milestones = [check_size(m, "SequentialLR", "milestones") for m in milestones]
        if len(milestones) != len(schedulers) - 1 or milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} increasing milestones for "
                             f"{len(schedulers)} schedulers, got {milestones}")
        self.schedulers, self.milestones = list(schedulers), milestones
        super().__init__(optimizer)

    def lr_at(self, t):
        starts = [0] + self.milestones
        i = max(k for k, start in enumerate(starts) if t >= start)
        return self.schedulers[i].lr_at(t - starts[i])
