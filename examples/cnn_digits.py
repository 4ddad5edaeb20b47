"""Classify handwritten digits with a small CNN (Conv2d, BatchNorm, max pooling); save a confusion matrix.

    python examples/cnn_digits.py [--epochs 15] [--out plots]        # the 8x8 digits bundled with scikit-learn
    python examples/cnn_digits.py --mnist DIR                        # MNIST, when DIR holds its four IDX files
    mpiexec -n 2 python examples/cnn_digits.py --distributed         # data-parallel: the batch split over 2 ranks
"""
import argparse
import os
import time

import numpy as np

import minigrad as mg
import minigrad.functions as F
import minigrad.layers as L
from minigrad.data import MNIST, DataLoader, Digits
from minigrad.models import Model
from minigrad.optimizers import Adam
from minigrad.utils import confusion_matrix, plot_confusion


class CNN(Model):
    """Two blocks of 3x3 convolution, batch norm, ReLU and 2x2 max pooling, then two linear layers."""

    def __init__(self, channels=(16, 32), hidden=64, classes=10):
        super().__init__()
        self.conv1, self.bn1 = L.Conv2d(channels[0], 3, pad=1), L.BatchNorm()
        self.conv2, self.bn2 = L.Conv2d(channels[1], 3, pad=1), L.BatchNorm()
        self.fc1, self.fc2 = L.Linear(hidden), L.Linear(classes)

    def forward(self, x):
        x = F.max_pooling(F.relu(self.bn1(self.conv1(x))), 2, 2)
        x = F.max_pooling(F.relu(self.bn2(self.conv2(x))), 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        return self.fc2(F.relu(self.fc1(x)))


def images(dataset, side):
    """The dataset's flat pixel rows as (N, 1, side, side) images."""
    dataset.data = dataset.data.reshape(len(dataset.data), 1, side, side)
    return dataset


def evaluate(model, dataset, gpu, batch_size=500):
    predicted = []
    with mg.no_grad(), mg.test_mode():
        for x, _ in DataLoader(dataset, batch_size, shuffle=False, gpu=gpu):
            predicted.append(mg.as_numpy(model(x).data).argmax(axis=1))
    return np.concatenate(predicted)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist", metavar="DIR", help="train on MNIST from the IDX files in DIR (no download)")
    parser.add_argument("--out", default="plots", help="folder for the confusion matrix PNG")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (CuPy)")
    parser.add_argument("--distributed", action="store_true", help="data-parallel over the ranks of mpiexec "
                        "(minigrad.distributed): each takes batch-size / ranks of every batch")
    args = parser.parse_args(argv)
    if args.gpu:
        mg.backend.require_gpu()  # one line, before any training
    comm = None
    if args.distributed:
        from minigrad.distributed import Communicator
        comm = Communicator()
        if args.batch_size % comm.size:
            parser.error(f"--batch-size {args.batch_size} does not split over {comm.size} ranks")
    say = print if comm is None or comm.rank == 0 else (lambda *a, **k: None)

    mg.seed(args.seed)
    if args.mnist:
        train, test = (images(MNIST(args.mnist, train=t, download=False), 28) for t in (True, False))
        name = "MNIST"
    else:
        train, test = (images(Digits(train=t), 8) for t in (True, False))
        name = "digits"
    model = CNN()
    optimizer = Adam(lr=args.lr).setup(model)
    if comm is not None:
        from minigrad.distributed import DistributedOptimizer, scatter_dataset
        with mg.no_grad(), mg.test_mode():  # size the lazy layers (no statistics kept), then take rank 0's weights
            model(train.data[:1])
        comm.bcast_params(model)
        optimizer = DistributedOptimizer(optimizer, comm)
        shard = scatter_dataset(train, comm, shuffle=True, seed=args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        if comm is None:
            loader = DataLoader(train, args.batch_size, gpu=args.gpu, seed=args.seed + epoch)
        else:
            shard.set_epoch(epoch)
            loader = DataLoader(shard, args.batch_size // comm.size, shuffle=False, gpu=args.gpu)
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total += float(loss.data) * len(t)
        total /= len(loader.dataset)
        total = total if comm is None else comm.average(total)
        say(f"epoch {epoch:3d}  training loss {total:.4f}  ({time.perf_counter() - start:.0f} s)")
    if comm is not None and comm.rank:
        return

    predicted = evaluate(model, test, args.gpu)
    confusion = confusion_matrix(test.label, predicted, 10)
    print(f"test accuracy: {np.trace(confusion) / len(test):.2%} on {len(test)} held-out {name} images")
    if not args.no_plots:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, f"cnn_{name.lower()}_confusion.png")
        plot_confusion(confusion, path, f"CNN on {name}: confusion matrix (test set)")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
