"""DeZero's step 60: an LSTM learns a noisy sine wave by truncated BPTT, then predicts a cosine one step ahead.

    python examples/lstm_sin.py [--epochs 100] [--hidden 100] [--bptt 30] [--out plots]
"""
import argparse
import os

import numpy as np

import minigrad as mg
import minigrad.functions as F
import minigrad.layers as L
from minigrad.data import SeqDataLoader, SinCurve
from minigrad.models import Model
from minigrad.optimizers import Adam


class BetterRNN(Model):
    """An LSTM and a linear read-out: one value in, the next value out, state kept between calls."""

    def __init__(self, hidden_size, out_size):
        super().__init__()
        self.rnn = L.LSTM(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.fc(self.rnn(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=30)
    parser.add_argument("--bptt", type=int, default=30, help="steps between backward passes (truncation length)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="plots", help="folder for the prediction PNG")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)

    mg.seed(args.seed)
    train = SinCurve(train=True)
    loader = SeqDataLoader(train, args.batch_size)
    model = BetterRNN(args.hidden, 1)
    optimizer = Adam().setup(model)
    for epoch in range(1, args.epochs + 1):
        model.reset_state()
        loss, total, count = 0, 0.0, 0
        for x, t in loader:
            loss += F.mean_squared_error(model(x), t)
            count += 1
            if count % args.bptt == 0 or count == len(loader):
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()  # truncate: the next window's graph starts here
                optimizer.update()
                total += float(loss.data)
                loss = 0
        if epoch % 10 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  training loss {total / count:.5f}")

    # Predict the cosine of the test set one step ahead, feeding the true value at each step.
    test = SinCurve(train=False)
    model.reset_state()
    with mg.no_grad():
        predicted = np.array([float(model(x.reshape(1, 1))) for x in test.data])
    mse = float(np.mean((predicted - test.label[:, 0]) ** 2))
    print(f"test: one-step-ahead MSE on the cosine {mse:.6f} (predicting its mean, 0, gives "
          f"{float(np.mean(test.label ** 2)):.3f})")
    if not args.no_plots:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        os.makedirs(args.out, exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(test.label[:, 0], label="cos(x)")
        ax.plot(predicted, "--", label="LSTM prediction")
        ax.set_xlabel("step")
        ax.legend()
        ax.set_title("LSTM trained on a noisy sine, predicting a cosine")
        fig.tight_layout()
        path = os.path.join(args.out, "lstm_sin.png")
        fig.savefig(path, dpi=100)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
