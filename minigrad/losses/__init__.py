"""The loss family: negative log-likelihood (fused cross entropy and BCE to follow)."""
from minigrad.losses.nll import nll_loss

__all__ = ["nll_loss"]
