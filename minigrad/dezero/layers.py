"""DeZero's dezero.layers: Linear with DeZero's positional arguments, DeZero's LSTM layout, the rest minigrad's."""
import numpy as np

import minigrad.functions as F
from minigrad import layers
from minigrad.layers import RNN, BatchNorm, Conv2d, Deconv2d, EmbedID, Layer  # noqa: F401 (DeZero's signatures)


class Linear(layers.Linear):
    """DeZero's Linear(out_size, nobias=False, dtype=np.float32, in_size=None): the same layer as minigrad's, whose
    options after out_size are keyword-only."""

    def __init__(self, out_size, nobias=False, dtype=np.float32, in_size=None):
        super().__init__(out_size, in_size=in_size, nobias=nobias, dtype=dtype)


class LSTM(Layer):
    """DeZero's LSTM: one Linear per gate for x (x2f, x2i, x2o, x2u) and for h (h2f, ..., no bias), so that weights
    saved by DeZero load by name; minigrad's LSTM computes the same with the gates in one matmul."""

    def __init__(self, hidden_size, in_size=None):
        super().__init__()
        for g in "fiou":
            setattr(self, f"x2{g}", Linear(hidden_size, in_size=in_size))
            setattr(self, f"h2{g}", Linear(hidden_size, in_size=hidden_size, nobias=True))
        self.reset_state()

    def reset_state(self):
        self.h = self.c = None

    def forward(self, x):
        z = {}
        for g in "fiou":
            z[g] = getattr(self, f"x2{g}")(x)
            if self.h is not None:
                z[g] = z[g] + getattr(self, f"h2{g}")(self.h)
        f, i, o, u = F.sigmoid(z["f"]), F.sigmoid(z["i"]), F.sigmoid(z["o"]), F.tanh(z["u"])
        c = i * u if self.c is None else f * self.c + i * u
        self.h, self.c = o * F.tanh(c), c
        return self.h
