"""The one reduction of the losses: 'none', 'sum' or 'mean' of per-position losses, and its gradient side."""
import warnings
from dataclasses import dataclass

import numpy as np

from minigrad.backend import get_array_module

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction):
    """The reduction name; 'elementwise_mean' is 'mean' with a warning, an unknown name a ValueError."""
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      UserWarning, stacklevel=3)
        return "mean"
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction; expected one of {REDUCTIONS}")
    return reduction


def is_host_one(gy):
    """True when gy is a 0-d host array holding 1: the default seed of loss.backward(), by which a gradient made
    for gy = 1 needs no scaling. False on a device, where asking would cost a host synchronisation."""
    return type(gy) is np.ndarray and gy.ndim == 0 and float(gy) == 1.0


def scalar_mode(reduction):
    """True for 'mean', False for 'sum', None for anything else ('none', or a bad value that the general path
    reports)."""
    return {"mean": True, "sum": False}.get(reduction) if isinstance(reduction, str) else None


@dataclass(frozen=True)
class Reduction:
    """How a loss of per-position terms l_n is reduced, and how its gradient is scaled.

    mode: 'none' (l itself, in out_shape), 'sum' (sum_n l_n) or 'mean' (sum_n l_n / denom).
    kept: the shape the loss computes l in (out_shape, or out_shape with the class axis kept as 1).
    The loss is sum_n coef_n l_n with coef_n = valid_n / denom for 'mean' and valid_n otherwise, so
    position n's gradient is gy_n coef_n (gy a scalar unless 'none'). Ignored positions get coef 0:
    'mean' over no counted position is NaN (0 / 0) while its gradient is 0, as in torch.
    Build one with Reduction.of_count or Reduction.of_targets; docs/losses.md#reduction has the rules.
    """

    mode: str
    out_shape: tuple
    kept: tuple
    denom: object  # the 'mean' divisor: a count or a sum of class weights, in the loss's dtype
    coef: object  # an array broadcasting to kept
    unit_coef: bool  # coef is 1: scaling is the identity

    @property
    def keeps_positions(self):
        """True for 'none': the loss keeps one term per position."""
        return self.mode == "none"

    @classmethod
    def of_count(cls, mode, out_shape, kept, count, dtype, xp):
        """Every position counts: 'mean' divides by count (NaN for count 0)."""
        mean = mode == "mean" and count > 0
        coef = xp.asarray(1 / count if mean else 1, dtype=dtype)
        return cls(mode, tuple(out_shape), tuple(kept), np.dtype(dtype).type(count), coef, not mean)

    @classmethod
    def of_targets(cls, mode, out_shape, valid, total):
        """Class-index targets: positions count where valid (shape kept); 'mean' divides by total,
        the sum of the counted targets' class weights (a 0-d array of the loss's dtype)."""
        on = valid.astype(total.dtype)
        if mode == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                on = get_array_module(valid).where(valid, on / total, 0).astype(total.dtype, copy=False)
        return cls(mode, tuple(out_shape), valid.shape, total, on, False)

    def reduce(self, loss):
        """The loss from its per-position terms (an array or a Variable of shape kept)."""
        if self.keeps_positions:
            return loss.reshape(self.out_shape)
        return self.finish(loss.sum())

    def finish(self, total):
        """The 'sum' or 'mean' loss from the sum of its terms."""
        if self.mode == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN when nothing counts, as torch
            return total / self.denom

    def expand(self, gy):
        """The upstream gradient with one entry per position (shape kept) for 'none', else gy itself."""
        return gy.reshape(self.kept) if self.keeps_positions else gy

    def scale(self, gy):
        """k_n = gy_n coef_n, the factor of position n's gradient (arrays or Variables)."""
        gy = self.expand(gy)
        return gy if self.unit_coef else gy * self.coef

    def gy_grad(self, h):
        """The gradient with respect to gy of sum_n scale(gy)_n h_n (Variables): the adjoint of scale."""
        h = h if self.unit_coef else h * self.coef
        return h.reshape(self.out_shape) if self.keeps_positions else h.sum()

    def is_unit(self, gy):
        """True when gy is the scalar 1 of a reduced loss (the default seed of loss.backward()), on the host;
        on a device the answer would cost a host synchronisation, so it is False there."""
        return not self.keeps_positions and is_host_one(gy)
