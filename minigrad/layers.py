"""Layers: Parameters and sub-layers collected by attribute, saved and loaded; Linear, Dropout, EmbedID, RNN, LSTM."""
import numpy as np

import minigrad.functions as F
from minigrad import checkpoint
from minigrad.backend import get_array_module
from minigrad.core import Parameter


class Layer:
    """A callable holding Parameters and sub-layers; assigning one to an attribute registers it."""

    def __init__(self):
        object.__setattr__(self, "_names", [])

    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Layer)) and name not in self._names:
            self._names.append(name)
        super().__setattr__(name, value)

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def named_params(self, prefix=""):
        """(name, Parameter) pairs in registration order, sub-layers' names joined by '/'."""
        for name in self._names:
            value = getattr(self, name)
            if isinstance(value, Layer):
                yield from value.named_params(f"{prefix}{name}/")
            elif value is not None:
                yield prefix + name, value

    def params(self):
        for _, p in self.named_params():
            yield p

    def cleargrads(self):
        for p in self.params():
            p.cleargrad()

    def to_cpu(self):
        for p in self.params():
            p.to_cpu()
        return self

    def to_gpu(self, device=None):
        for p in self.params():
            p.to_gpu(device)
        return self

    def save_weights(self, path):
        """Write every Parameter to path ('.npz' added when missing), as NumPy arrays from either device. The
        file is written beside the old one and renamed over it: a failed save leaves the old file whole."""
        return checkpoint.save(dict(self.named_params()), path)

    def load_weights(self, path):
        """Read Parameters saved by save_weights (same path, '.npz' optional), onto each Parameter's current
        device and dtype; lazily sized Parameters are created from the file. Everything is checked before
        anything is assigned: an error leaves every Parameter as it was."""
        checkpoint.load(dict(self.named_params()), path, type(self).__name__)


class Linear(Layer):
    """y = x @ W + b with W of shape (in_size, out_size); in_size is taken from the first input if not given."""

    def __init__(self, out_size, *, in_size=None, nobias=False, dtype=np.float32):
        super().__init__()
        self.out_size, self.in_size, self.dtype = out_size, in_size, np.dtype(dtype)
        self.W = Parameter(None, name="W")
        if in_size is not None:
            self._init_W(np)
        self.b = None if nobias else Parameter(np.zeros(out_size, dtype=self.dtype), name="b")

    def _init_W(self, xp):
        # LeCun-style scale 1/sqrt(in_size), drawn in float64 then cast: the same weights for every dtype.
        scale = np.sqrt(1.0 / self.in_size)
        w = np.random.standard_normal((self.in_size, self.out_size)) * scale
        self.W.data = xp.asarray(w.astype(self.dtype))

    def forward(self, x):
        if self.W.data is None:
            self.in_size = x.shape[-1]
            self._init_W(get_array_module(x))
            if self.b is not None and get_array_module(self.b.data) is not get_array_module(self.W.data):
                self.b.to_gpu()
        return F.linear(x, self.W, self.b)


class Dropout(Layer):
    """Zeros each input element with probability ratio in training; the identity in `mg.test_mode()`."""

    def __init__(self, ratio=0.5):
        super().__init__()
        self.ratio = ratio

    def forward(self, x):
        return F.dropout(x, self.ratio)


class EmbedID(Layer):
    """Rows of W (in_size, out_size), a standard normal draw as in DeZero: EmbedID(V, D)(ids) is W[ids]."""

    def __init__(self, in_size, out_size, dtype=np.float32):
        super().__init__()
        self.W = Parameter(np.random.standard_normal((in_size, out_size)).astype(dtype), name="W")

    def forward(self, x):
        return F.embed_id(x, self.W)


class RNN(Layer):
    """h = tanh(x W_x + b + h_prev W_h), h_prev the state kept between calls (none at first, and after
    reset_state()); in_size taken from the first input when None."""

    def __init__(self, hidden_size, in_size=None, dtype=np.float32):
        super().__init__()
        self.x2h = Linear(hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(hidden_size, in_size=hidden_size, nobias=True, dtype=dtype)
        self.h = None

    def reset_state(self):
        self.h = None

    def forward(self, x):
        z = self.x2h(x)
        self.h = F.tanh(z if self.h is None else z + self.h2h(self.h))
        return self.h


class LSTM(Layer):
    """DeZero's LSTM with the four gates in one matmul each for x and h (columns f, i, o, u):
    c = f * c_prev + i * u, h = o * tanh(c), f, i, o sigmoids and u a tanh; state (h, c) kept between calls."""

    def __init__(self, hidden_size, in_size=None, dtype=np.float32):
        super().__init__()
        self.hidden_size = hidden_size
        self.x2g = Linear(4 * hidden_size, in_size=in_size, dtype=dtype)
        self.h2g = Linear(4 * hidden_size, in_size=hidden_size, nobias=True, dtype=dtype)
        self.h = self.c = None

    def reset_state(self):
        self.h = self.c = None

    def forward(self, x):
        z = self.x2g(x)
        if self.h is not None:
            z = z + self.h2g(self.h)
        n = self.hidden_size
        f, i, o = (F.sigmoid(z[:, k * n:(k + 1) * n]) for k in range(3))
        u = F.tanh(z[:, 3 * n:])
        self.c = i * u if self.c is None else f * self.c + i * u
        self.h = o * F.tanh(self.c)
        return self.h
