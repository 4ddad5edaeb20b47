"""Train an MLP on the spiral with the fused softmax_cross_entropy; plot the curves and the decision boundary.

    python examples/spiral.py [--epochs 300] [--hidden 30] [--lr 1.0] [--out plots] [--gpu]
"""
import argparse
import os

import numpy as np

import minigrad as mg
import minigrad.functions as F
from minigrad.data import DataLoader, Spiral
from minigrad.models import MLP
from minigrad.optimizers import SGD


def accuracy(y, t):
    return float((mg.as_numpy(y.data).argmax(axis=1) == mg.as_numpy(t)).mean())


def train(args):
    mg.seed(args.seed)
    dataset = Spiral()
    loader = DataLoader(dataset, args.batch_size, gpu=args.gpu, seed=args.seed)
    model = MLP([args.hidden, 3])
    optimizer = SGD(lr=args.lr).setup(model)
    history = {"loss": [], "accuracy": []}
    from tqdm import tqdm
    bar = tqdm(range(args.epochs), desc="spiral", unit="epoch", disable=args.quiet)
    for _ in bar:
        total_loss, total_acc = 0.0, 0.0
        for x, t in loader:
            y = model(x)
            loss = F.softmax_cross_entropy(y, t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total_loss += float(loss.data) * len(t)
            total_acc += accuracy(y, t) * len(t)
        history["loss"].append(total_loss / len(dataset))
        history["accuracy"].append(total_acc / len(dataset))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", acc=f"{history['accuracy'][-1]:.3f}")
    return model, dataset, history


def plot(model, dataset, history, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    curves, boundary = os.path.join(out, "spiral_curves.png"), os.path.join(out, "spiral_boundary.png")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(history[key])
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    fig.suptitle("MLP on the spiral, softmax_cross_entropy + SGD")
    fig.tight_layout()
    fig.savefig(curves, dpi=100)
    plt.close(fig)

    h = 0.01
    xx, yy = np.meshgrid(np.arange(-1.1, 1.1, h), np.arange(-1.1, 1.1, h))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    with mg.no_grad():
        if mg.get_array_module(model.l0.W.data) is not np:
            grid = mg.as_cupy(grid)
        z = mg.as_numpy(model(grid).data).argmax(axis=1).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    colors = ["tab:blue", "tab:orange", "tab:green"]
    ax.contourf(xx, yy, z, levels=[-0.5, 0.5, 1.5, 2.5], colors=colors, alpha=0.25)
    for c, marker in zip(range(3), "o^s"):
        points = dataset.data[dataset.label == c]
        ax.scatter(points[:, 0], points[:, 1], s=18, marker=marker, color=colors[c], label=f"class {c}")
    ax.set_title("decision boundary")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(boundary, dpi=100)
    plt.close(fig)
    return curves, boundary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=30, help="hidden units")
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="plots", help="folder for the PNG plots")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (CuPy)")
    args = parser.parse_args(argv)
    if args.gpu:
        mg.backend.require_gpu()  # one line, before any training
    model, dataset, history = train(args)
    with mg.no_grad():
        x = mg.as_cupy(dataset.data) if args.gpu else dataset.data
        final = accuracy(model(x), dataset.label)
    print(f"final training accuracy: {final:.1%} (loss {history['loss'][-1]:.4f})")
    if not args.no_plots:
        for path in plot(model, dataset, history, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
