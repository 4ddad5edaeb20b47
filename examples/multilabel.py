"""Multi-label classification with sigmoid_bce on the digits: attributes of each digit, with and without pos_weight.

    python examples/multilabel.py [--epochs 30]

Labels per image (several may hold at once): even, prime, greater than 4, has a closed loop (0, 6, 8, 9),
and the rare "is zero" (about 10% positive). pos_weight = negatives / positives per label, computed from
the training labels, makes each label's positives weigh as much as its negatives.
"""
import argparse

import numpy as np

import minigrad as mg
import minigrad.functions as F
from minigrad.data import DataLoader, Digits
from minigrad.models import MLP
from minigrad.optimizers import Adam

ATTRIBUTES = {"even": lambda d: d % 2 == 0, "prime": lambda d: np.isin(d, [2, 3, 5, 7]),
              "greater than 4": lambda d: d > 4, "closed loop": lambda d: np.isin(d, [0, 6, 8, 9]),
              "is zero": lambda d: d == 0}


def attributes(digits):
    return np.stack([f(digits) for f in ATTRIBUTES.values()], axis=1).astype(np.int64)


class Attributes:
    """A dataset of (image, 0/1 attribute vector) pairs built from Digits."""

    def __init__(self, train):
        digits = Digits(train=train)
        self.data, self.label = digits.data, attributes(digits.label)

    def __len__(self):
        return len(self.data)


def fit(train, epochs, pos_weight, seed):
    mg.seed(seed)
    model = MLP([64, len(ATTRIBUTES)])
    optimizer = Adam(lr=0.003).setup(model)
    for epoch in range(epochs):
        for x, t in DataLoader(train, 64, seed=seed + epoch):
            loss = F.sigmoid_bce(model(x), t, pos_weight=pos_weight)  # integer 0/1 targets are cast
            model.cleargrads()
            loss.backward()
            optimizer.update()
    return model


def report(title, model, test):
    with mg.no_grad():
        predicted = model(test.data).data > 0  # sigmoid(z) > 0.5
    print(f"\n{title}\n{'label':<16}{'positives':>10}{'precision':>11}{'recall':>8}{'F1':>7}")
    f1s = []
    for j, name in enumerate(ATTRIBUTES):
        truth, guess = test.label[:, j] == 1, predicted[:, j]
        tp = np.sum(truth & guess)
        precision = tp / max(guess.sum(), 1)
        recall = tp / max(truth.sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        f1s.append(f1)
        print(f"{name:<16}{truth.mean():>10.1%}{precision:>11.3f}{recall:>8.3f}{f1:>7.3f}")
    print(f"{'mean F1':<16}{'':>29}{np.mean(f1s):>7.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train, test = Attributes(train=True), Attributes(train=False)
    positives = train.label.mean(axis=0)
    pos_weight = ((1 - positives) / positives).astype(np.float32)
    print("pos_weight per label: " + ", ".join(f"{n} {w:.2f}" for n, w in zip(ATTRIBUTES, pos_weight)))
    report("without pos_weight", fit(train, args.epochs, None, args.seed), test)
    report("with pos_weight = negatives / positives", fit(train, args.epochs, pos_weight, args.seed), test)


if __name__ == "__main__":
    main()
