"""Classify the 8x8 handwritten digits bundled with scikit-learn with an MLP; save a confusion matrix.

    python examples/digits.py [--epochs 40] [--hidden 100] [--out plots]
"""
import argparse
import os

import numpy as np

import minigrad as mg
import minigrad.functions as F
from minigrad.data import DataLoader, Digits
from minigrad.models import MLP
from minigrad.optimizers import Adam
from minigrad.utils import confusion_matrix, plot_confusion


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="plots", help="folder for the confusion matrix PNG")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (CuPy)")
    args = parser.parse_args(argv)
    if args.gpu:
        mg.backend.require_gpu()  # one line, before any training

    mg.seed(args.seed)
    train, test = Digits(train=True), Digits(train=False)
    model = MLP([args.hidden, 10])
    optimizer = Adam(lr=args.lr).setup(model)
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for x, t in DataLoader(train, args.batch_size, gpu=args.gpu, seed=args.seed + epoch):
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total += float(loss.data) * len(t)
        if epoch % 10 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  training loss {total / len(train):.4f}")

    with mg.no_grad(), mg.test_mode():
        x = mg.as_cupy(test.data) if args.gpu else test.data
        predicted = mg.as_numpy(model(x).data).argmax(axis=1)
    confusion = confusion_matrix(test.label, predicted, 10)
    print(f"test accuracy: {np.trace(confusion) / len(test):.1%} on {len(test)} held-out images")
    if not args.no_plots:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "digits_confusion.png")
        plot_confusion(confusion, path, "digits: confusion matrix (test set)")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
