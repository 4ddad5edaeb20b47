"""The loss family: negative log-likelihood, fused softmax cross entropy and sigmoid BCE, BCE."""
from minigrad.losses.bce import binary_cross_entropy, binary_cross_entropy_with_logits, sigmoid_bce
from minigrad.losses.ce import cross_entropy, softmax_cross_entropy
from minigrad.losses.composites import sigmoid_bce_simple, softmax_cross_entropy_simple
from minigrad.losses.nll import nll_loss

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
           "sigmoid_bce", "sigmoid_bce_simple", "softmax_cross_entropy", "softmax_cross_entropy_simple"]
