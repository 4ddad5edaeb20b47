"""The loss identities people learn the hard way, each side computed with minigrad, with their difference.

    python examples/loss_identities.py [--n 8] [--c 5] [--seed 0]
"""
import argparse

import numpy as np

import minigrad as mg
import minigrad.functions as F


def show(title, left, right, note=""):
    """Print both sides of an identity (first values) and their largest difference."""
    a, b = np.asarray(mg.as_variable(left).data), np.asarray(mg.as_variable(right).data)
    diff = np.max(np.abs(a - b)) if a.size else 0.0
    print(f"{title}\n    left  {np.array2string(a.ravel()[:4], precision=6)}\n"
          f"    right {np.array2string(b.ravel()[:4], precision=6)}\n    max |left - right| = {diff:.2e}"
          + (f"   ({note})" if note else "") + "\n")
    return diff


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="batch size")
    parser.add_argument("--c", type=int, default=5, help="number of classes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n, c = args.n, args.c
    x = rng.standard_normal((n, c)) * 2  # logits
    t = rng.integers(0, c, n)  # class indices
    y = (rng.random((n, c)) < 0.4).astype(np.float64)  # multi-label 0/1 targets
    w = rng.uniform(0.5, 2.0, c)

    print("== Binary: BCEWithLogits is BCE of sigmoid, but stable ==\n")
    show("sigmoid_bce(x, y) = binary_cross_entropy(sigmoid(x), y)",
         F.sigmoid_bce(x, y, reduction="none"), F.binary_cross_entropy(F.sigmoid(x), y, reduction="none"))
    big = np.array([40.0, -40.0, 800.0])
    show("... and where the composite breaks: logits 40, -40, 800 with targets 0, 1, 1",
         F.sigmoid_bce(big, np.array([0.0, 1.0, 1.0]), reduction="none"),
         F.binary_cross_entropy(F.sigmoid(big), np.array([0.0, 1.0, 1.0]), reduction="none"),
         "sigmoid(40) rounds to 1, so log(1 - sigmoid(40)) is clamped at -100: 100 instead of 40")
    s = F.sigmoid(x).data.sum(axis=1)
    show("sigmoid outputs are independent: rows do not sum to 1 (left), softmax rows do (right)",
         s, F.softmax(x).data.sum(axis=1), "multi-label vs one class per sample")
    ones = np.ones((n, c))
    show("pos_weight p scales only the positive term: sigmoid_bce(x, 1, pos_weight=3) = 3 * sigmoid_bce(x, 1)",
         F.sigmoid_bce(x, ones, pos_weight=np.full(c, 3.0), reduction="none"),
         3 * F.sigmoid_bce(x, ones, reduction="none"))
    show("... and leaves the negative term alone: sigmoid_bce(x, 0, pos_weight=3) = sigmoid_bce(x, 0)",
         F.sigmoid_bce(x, 0 * ones, pos_weight=np.full(c, 3.0), reduction="none"),
         F.sigmoid_bce(x, 0 * ones, reduction="none"))

    print("== Categorical: CrossEntropy is NLL of LogSoftmax ==\n")
    ce = F.softmax_cross_entropy(x, t, reduction="none")
    show("softmax_cross_entropy(x, t) = nll_loss(log_softmax(x), t)",
         ce, F.nll_loss(F.log_softmax(x), t, reduction="none"))
    show("... = nll_loss(log(softmax(x)), t) at moderate logits",
         ce, F.nll_loss(F.log(F.softmax(x)), t, reduction="none"))
    far = np.array([[0.0, 1000.0, -1000.0]])
    with np.errstate(divide="ignore"):
        naive = F.nll_loss(F.log(F.softmax(far)), np.array([2]), reduction="none")
    show("... but log(softmax) underflows: logits [0, 1000, -1000], target 2",
         F.softmax_cross_entropy(far, np.array([2]), reduction="none"), naive,
         "exp(-2000) = 0 in float64, so log(softmax) = -inf: the fused loss gives the exact 2000")
    onehot = np.eye(c)[t]
    show("class-index targets = one-hot probability targets", F.softmax_cross_entropy(x, t),
         F.softmax_cross_entropy(x, onehot))
    eps = 0.1
    show(f"label_smoothing={eps} = cross entropy with targets (1 - {eps}) one_hot + {eps} / C",
         F.softmax_cross_entropy(x, t, label_smoothing=eps), F.softmax_cross_entropy(x, (1 - eps) * onehot + eps / c))
    nll = F.nll_loss(F.log_softmax(x), t, reduction="none").data
    show("weighted 'mean' divides by the sum of the targets' weights: sum(w[t] l) / sum(w[t])",
         F.nll_loss(F.log_softmax(x), t, weight=w), np.sum(w[t] * nll) / np.sum(w[t]),
         f"not by N = {n}: that would give {np.sum(w[t] * nll) / n:.6f}")

    print("== Gradients: softmax(x) - y and sigmoid(z) - y, against finite differences ==\n")
    xv = mg.Variable(x)
    F.softmax_cross_entropy(xv, t, reduction="sum").backward()
    show("d/dx softmax_cross_entropy(x, t, 'sum') = softmax(x) - one_hot(t)", xv.grad, F.softmax(x).data - onehot)
    numeric = mg.numerical_grad(lambda a: F.softmax_cross_entropy(a, t, reduction="sum"), x)[0]
    show("... = central differences", xv.grad, numeric, "float64, eps 1e-6")
    zv = mg.Variable(x)
    F.sigmoid_bce(zv, y, reduction="sum").backward()
    show("d/dz sigmoid_bce(z, y, 'sum') = sigmoid(z) - y", zv.grad, F.sigmoid(x).data - y)
    numeric = mg.numerical_grad(lambda a: F.sigmoid_bce(a, y, reduction="sum"), x)[0]
    show("... = central differences", zv.grad, numeric, "float64, eps 1e-6")


if __name__ == "__main__":
    main()
