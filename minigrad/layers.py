"""Layers: Parameters and sub-layers collected by attribute, saved and loaded; DeZero's layers, GRU, LayerNorm."""
import numpy as np

import minigrad.functions as F
from minigrad import checkpoint
from minigrad.backend import get_array_module
from minigrad.core import Parameter, as_variable
from minigrad.ops.normalization import check_input as check_batch_norm_input
from minigrad.ops.windows import check_image, pair
from minigrad.shapes import check_size


WATCHERS = []  # functions called with (layer, output) after every Layer call, last one only (summary)


class Layer:
    """A callable holding Parameters and sub-layers; assigning one to an attribute registers it."""

    def __init__(self):
        object.__setattr__(self, "_names", [])

    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Layer)) and name not in self._names:
            self._names.append(name)
        super().__setattr__(name, value)

    def __call__(self, *inputs, **options):
        y = self.forward(*inputs, **options)
        if WATCHERS:  # model.summary() is watching the calls
            WATCHERS[-1](self, y)
        return y

    def named_layers(self, prefix=""):
        """(name, Layer) pairs of the sub-layers, depth first, names joined by '/' (this layer is not included)."""
        for name in self._names:
            value = getattr(self, name)
            if isinstance(value, Layer):
                yield prefix + name, value
                yield from value.named_layers(f"{prefix}{name}/")

    def count_params(self):
        """The number of parameter elements (every Parameter, running statistics included); ValueError while a
        lazily sized Parameter has no array yet (after a first forward, or summary(x), it has)."""
        lazy = sorted(self.named_lazy_shapes())
        if lazy:
            raise ValueError(f"count_params: {lazy[0]} has no size yet (lazily sized); call the model once, e.g. "
                             f"model.summary(x)")
        return int(sum(p.size for p in self.params()))

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def lazy_shape(self, name):
        """The shape that the configuration fixes for this layer's own Parameter `name` while it has no array:
        a tuple with None for a size taken from the first input (load_weights checks a file against it), and
        the dtype the layer creates it in (None: the input's)."""
        return None, None

    def _lazily(self, x, size, forward):
        """forward() after size(x) gave the layer's unsized Parameters their arrays; when forward raises, the
        layer is put back as it was (a failed first call sizes nothing)."""
        lazy = [p for p in self._own_params() if p.data is None]
        if not lazy:
            return forward()
        saved = {k: v for k, v in vars(self).items() if not isinstance(v, (Parameter, Layer))}
        try:
            size(x)
            return forward()
        except BaseException:
            for p in lazy:
                p._data = None
            vars(self).update(saved)
            raise

    def _own_params(self):
        return [p for p in (getattr(self, n) for n in self._names) if isinstance(p, Parameter)]

    def named_lazy_shapes(self, prefix=""):
        """{name: (shape pattern, dtype)} for every Parameter without an array yet, sub-layers' names joined by
        '/' (see lazy_shape)."""
        found = {}
        for name in self._names:
            value = getattr(self, name)
            if isinstance(value, Layer):
                found.update(value.named_lazy_shapes(f"{prefix}{name}/"))
            elif value is not None and value.data is None:
                found[prefix + name] = self.lazy_shape(name)
        return found

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
        anything is assigned: an error leaves every Parameter as it was. A lazily sized Parameter takes the
        file's array when its configured sizes (e.g. Linear's out_size) match it, in the layer's dtype."""
        checkpoint.load(dict(self.named_params()), path, type(self).__name__, self.named_lazy_shapes())


class Linear(Layer):
    """y = x @ W + b with W of shape (in_size, out_size); in_size is taken from the first input if not given."""

    def __init__(self, out_size, *, in_size=None, nobias=False, dtype=np.float32):
        super().__init__()
        op = type(self).__name__
        out_size = check_size(out_size, op, "out_size")
        in_size = None if in_size is None else check_size(in_size, op, "in_size")
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

    def lazy_shape(self, name):
        return (None, self.out_size), self.dtype

    def _size(self, x):
        if x.ndim == 0:
            raise ValueError(f"{type(self).__name__}: expected an input (..., in_size), got a 0-d input")
        self.in_size = x.shape[-1]
        self._init_W(get_array_module(x.data))
        if self.b is not None and get_array_module(self.b.data) is not get_array_module(self.W.data):
            self.b.to_gpu()

    def forward(self, x):
        x = as_variable(x, f"{type(self).__name__}: x")
        return self._lazily(x, self._size, lambda: F.linear(x, self.W, self.b))


class LinearCrossEntropy(Linear):
    """An output layer with its loss fused: layer(x) is Linear's x @ W + b (the logits, e.g. for sampling),
    layer(x, t) the cross entropy of those logits against class indices t, by F.linear_cross_entropy, which
    never builds the logits. The loss options (weight, ignore_index, reduction, label_smoothing, chunk_size)
    are given at construction."""

    OPTIONS = ("weight", "ignore_index", "reduction", "label_smoothing", "chunk_size")

    def __init__(self, out_size, *, in_size=None, nobias=False, dtype=np.float32, **loss_options):
        unknown = sorted(set(loss_options) - set(self.OPTIONS))
        if unknown:
            raise TypeError(f"LinearCrossEntropy: unknown loss option {unknown[0]!r}; expected one of "
                            f"{', '.join(self.OPTIONS)}")
        super().__init__(out_size, in_size=in_size, nobias=nobias, dtype=dtype)
        self.loss_options = loss_options

    def forward(self, x, t=None):
        if t is None:
            return super().forward(x)
        x = as_variable(x, "LinearCrossEntropy: x")
        return self._lazily(x, self._size, lambda: F.linear_cross_entropy(x, self.W, t, self.b,
                                                                          **self.loss_options))


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
        in_size, out_size = check_size(in_size, "EmbedID", "in_size"), check_size(out_size, "EmbedID", "out_size")
        self.W = Parameter(np.random.standard_normal((in_size, out_size)).astype(dtype), name="W")

    def forward(self, x):
        return F.embed_id(x, self.W)


class RNN(Layer):
    """h = tanh(x W_x + b + h_prev W_h), h_prev the state kept between calls (none at first, and after
    reset_state()); in_size taken from the first input when None."""

    def __init__(self, hidden_size, in_size=None, dtype=np.float32):
        super().__init__()
        hidden_size = check_size(hidden_size, "RNN", "hidden_size")
        in_size = None if in_size is None else check_size(in_size, "RNN", "in_size")
        self.x2h = Linear(hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(hidden_size, in_size=hidden_size, nobias=True, dtype=dtype)
        self.h = None

    def reset_state(self):
        self.h = None

    def forward(self, x):
        x = _step_input(x, self.h, "RNN")
        z = self.x2h(x)
        self.h = F.tanh(z if self.h is None else z + self.h2h(self.h))
        return self.h


class LSTM(Layer):
    """DeZero's LSTM with the four gates in one matmul each for x and h (columns f, i, o, u):
    c = f * c_prev + i * u, h = o * tanh(c), f, i, o sigmoids and u a tanh; state (h, c) kept between calls."""

    def __init__(self, hidden_size, in_size=None, dtype=np.float32):
        super().__init__()
        self.hidden_size = hidden_size = check_size(hidden_size, "LSTM", "hidden_size")
        in_size = None if in_size is None else check_size(in_size, "LSTM", "in_size")
        self.x2g = Linear(4 * hidden_size, in_size=in_size, dtype=dtype)
        self.h2g = Linear(4 * hidden_size, in_size=hidden_size, nobias=True, dtype=dtype)
        self.h = self.c = None

    def reset_state(self):
        self.h = self.c = None

    def forward(self, x):
        x = _step_input(x, self.h, "LSTM")
        z = self.x2g(x)
        if self.h is not None:
            z = z + self.h2g(self.h)
        self.h, self.c = F.lstm_cell(z, self.c)  # one Function: the gates, c and h (docs/kernels.md)
        return self.h


class GRU(Layer):
    """torch's GRU cell, one time step per call (columns r, z, n in x2h and h2h, both with a bias):
    r = sigmoid(x W_xr + b_xr + h W_hr + b_hr), z likewise, n = tanh(x W_xn + b_xn + r (h W_hn + b_hn)),
    h = (1 - z) n + z h_prev, with h_prev zeros at the first step; the state is kept until reset_state()."""

    def __init__(self, hidden_size, in_size=None, dtype=np.float32):
        super().__init__()
        self.hidden_size = hidden_size = check_size(hidden_size, "GRU", "hidden_size")
        in_size = None if in_size is None else check_size(in_size, "GRU", "in_size")
        self.x2h = Linear(3 * hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(3 * hidden_size, in_size=hidden_size, dtype=dtype)
        self.h = None

    def reset_state(self):
        self.h = None

    def forward(self, x):
        x = _step_input(x, self.h, "GRU")
        n_h = self.hidden_size
        xr, xz, xn = F.split(self.x2h(x), n_h, axis=1)
        h = self.h if self.h is not None else \
            as_variable(get_array_module(x.data).zeros((len(x), n_h), dtype=xr.dtype))
        hr, hz, hn = F.split(self.h2h(h), n_h, axis=1)
        r, z = F.sigmoid(xr + hr), F.sigmoid(xz + hz)
        n = F.tanh(xn + r * hn)
        self.h = n + z * (h - n)
        return self.h


def _step_input(x, h, op):
    """One time step's input: a (N, in_size) Variable whose batch size N is that of the state h (when there is
    one); ValueError naming the shapes otherwise, before anything changes."""
    x = as_variable(x, f"{op}: x")
    if x.ndim != 2:
        raise ValueError(f"{op}: expected one time step of shape (N, in_size), got shape {x.shape}; feed a "
                         f"sequence (T, N, in_size) one step x[t] at a time")
    if h is not None and len(x) != len(h):
        raise ValueError(f"{op}: a batch of {len(x)} after a state of batch size {len(h)}; call reset_state() "
                         f"before a batch of another size")
    return x


class _Conv(Layer):
    """The shared part of Conv2d and Deconv2d: W drawn from N(0, 1 / (C * KH * KW)) on the first input's backend
    when in_channels is None, b zeros."""

    def __init__(self, out_channels, kernel_size, stride=1, pad=0, nobias=False, dtype=np.float32,
                 in_channels=None):
        super().__init__()
        op = type(self).__name__
        out_channels = check_size(out_channels, op, "out_channels")
        in_channels = None if in_channels is None else check_size(in_channels, op, "in_channels")
        self.out_channels, self.in_channels, self.dtype = out_channels, in_channels, np.dtype(dtype)
        self.kernel_size = pair(kernel_size, "kernel_size", op, 1)
        pair(stride, "stride", op, 1)  # checked at construction; passed to F.conv2d / F.deconv2d as given
        pair(pad, "pad", op, 0)
        self.stride, self.pad = stride, pad
        self.W = Parameter(None, name="W")
        if in_channels is not None:
            self._init_W(np)
        self.b = None if nobias else Parameter(np.zeros(out_channels, dtype=self.dtype), name="b")

    def _init_W(self, xp):
        c, (kh, kw) = self.in_channels, self.kernel_size
        w = np.random.standard_normal(self.weight_shape()) * np.sqrt(1 / (c * kh * kw))
        self.W.data = xp.asarray(w.astype(self.dtype))

    def lazy_shape(self, name):
        return self.weight_shape(), self.dtype

    def _size(self, x):
        check_image(x, type(self).__name__)
        self.in_channels = x.shape[1]
        xp = get_array_module(x.data)
        self._init_W(xp)
        if self.b is not None and get_array_module(self.b.data) is not xp:
            self.b.to_gpu()


class Conv2d(_Conv):
    """F.conv2d with W (out_channels, in_channels, KH, KW); in_channels taken from the first input when None."""

    def weight_shape(self):
        return (self.out_channels, self.in_channels) + self.kernel_size

    def forward(self, x):
        x = as_variable(x, "Conv2d: x")
        return self._lazily(x, self._size, lambda: F.conv2d(x, self.W, self.b, self.stride, self.pad))


class Deconv2d(_Conv):
    """F.deconv2d with W (in_channels, out_channels, KH, KW); outsize as F.deconv2d's, given per call."""

    def weight_shape(self):
        return (self.in_channels, self.out_channels) + self.kernel_size

    def forward(self, x, outsize=None):
        x = as_variable(x, "Deconv2d: x")
        return self._lazily(x, self._size, lambda: F.deconv2d(x, self.W, self.b, self.stride, self.pad, outsize))


class BatchNorm(Layer):
    """F.batch_norm with gamma (ones), beta (zeros) and the running avg_mean (zeros) and avg_var (ones), all of
    the channel count of the first input, on its backend and in its dtype. The running averages are Parameters
    that never get a gradient (optimizers skip them), so they are saved and loaded with the weights."""

    def __init__(self, decay=0.9, eps=2e-5):
        super().__init__()
        self.decay, self.eps = decay, eps
        self.avg_mean = Parameter(None, name="avg_mean")
        self.avg_var = Parameter(None, name="avg_var")
        self.gamma = Parameter(None, name="gamma")
        self.beta = Parameter(None, name="beta")

    def lazy_shape(self, name):
        return (None,), None

    def _size(self, x):
        check_batch_norm_input(x)
        xp, c, dtype = get_array_module(x.data), x.shape[1], x.dtype
        self.avg_mean.data, self.avg_var.data = xp.zeros(c, dtype=dtype), xp.ones(c, dtype=dtype)
        self.gamma.data, self.beta.data = xp.ones(c, dtype=dtype), xp.zeros(c, dtype=dtype)

    def forward(self, x):
        x = as_variable(x, "BatchNorm: x")
        return self._lazily(x, self._size, lambda: F.batch_norm(x, self.gamma, self.beta, self.avg_mean.data,
                                                                 self.avg_var.data, self.decay, self.eps))


class LayerNorm(Layer):
    """F.layer_norm over normalized_shape with gamma (ones) and beta (zeros), torch's weight and bias."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape = tuple(check_size(n, "LayerNorm", "normalized_shape") for n in shape)
        self.eps = eps
        self.gamma = Parameter(np.ones(shape, dtype=dtype), name="gamma") if elementwise_affine else None
        self.beta = Parameter(np.zeros(shape, dtype=dtype), name="beta") if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.gamma, self.beta, self.eps)
