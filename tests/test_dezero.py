"""The book's topics in its style, against minigrad.dezero: only the imports changed (docs/dezero.md)."""
import gzip
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minigrad.dezero as dezero
from minigrad.dezero import Model, Variable
from minigrad.dezero import functions as F
from minigrad.dezero import layers as L
from minigrad.dezero import optimizers, utils
from minigrad.dezero.models import MLP


def f(x):
    return x ** 4 - 2 * x ** 2


def test_newtons_method_with_second_derivatives_and_no_warning():
    x = Variable(np.array(2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the book's idiom gives no reference-cycle warning here
        for _ in range(10):
            y = f(x)
            x.cleargrad()
            y.backward(create_graph=True)
            gx = x.grad
            x.cleargrad()
            gx.backward()
            gx2 = x.grad
            x.data -= gx.data / gx2.data
    assert x.data == pytest.approx(1.0, abs=1e-12)


def test_higher_derivatives_of_sin_and_tanh():
    x = Variable(np.linspace(-2, 2, 5))
    y = F.sin(x)
    y.backward(create_graph=True)
    for order in range(3):  # the derivatives of sin: cos, -sin, -cos
        gx = x.grad
        x.cleargrad()
        gx.backward(create_graph=True)
    np.testing.assert_allclose(x.grad.data, np.sin(x.data), rtol=1e-12)  # the 4th derivative
    x = Variable(np.array(1.0))
    y = F.tanh(x)
    y.backward(create_graph=True)
    gx = x.grad
    x.cleargrad()
    gx.backward()
    t = np.tanh(1.0)
    assert x.grad.data == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)


def test_a_function_of_the_first_steps_may_return_arrays():
    class Square(dezero.Function):
        def forward(self, x):
            return x ** 2

        def backward(self, gy):
            x = self.inputs[0].data
            return 2 * x * gy.data  # an array, as in step 7

    x = Variable(np.array(3.0))
    y = Square()(x)
    y.backward()
    assert x.grad.data == 6.0
    assert dezero.utils.gradient_check(lambda v: Square()(v), np.random.default_rng(0).standard_normal(3))


def _spiral_run(steps):
    np.random.seed(0)
    x, t = dezero.datasets.get_spiral(train=True)
    model = MLP((10, 3))
    optimizer = optimizers.SGD(1.0).setup(model)
    losses = []
    for _ in range(steps):
        for i in range(10):
            batch = slice(i * 30, (i + 1) * 30)
            loss = F.softmax_cross_entropy(model(x[batch]), t[batch])
            model.cleargrads()
            loss.backward()
            optimizer.update()
        losses.append(float(loss.data))
    return model, losses


def test_the_spiral_mlp_is_dezeros_sigmoid_mlp_and_learns():
    model, losses = _spiral_run(40)
    assert model.activation is F.sigmoid
    assert losses[-1] < 0.8 * losses[0]


def _idx(path, array, code):
    with gzip.open(path, "wb") as fh:
        fh.write(bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape))
        fh.write(array.astype(">u1").tobytes())


def test_mnist_reads_the_local_files_and_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz is missing"):
        dezero.datasets.MNIST(train=True)
    (tmp_path / ".dezero").mkdir()
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 64)
    images = rng.integers(0, 30, (64, 28, 28)).astype(np.uint8)
    images[np.arange(64), 2 * labels] = 255  # each digit lights a row of its own
    _idx(tmp_path / ".dezero" / "train-images-idx3-ubyte.gz", images, 0x08)
    _idx(tmp_path / ".dezero" / "train-labels-idx1-ubyte.gz", labels, 0x08)
    train_set = dezero.datasets.MNIST(train=True)
    x0, t0 = train_set[0]
    assert x0.shape == (784,) and x0.dtype == np.float32 and x0.max() <= 1.0 and t0 == labels[0]
    loader = dezero.DataLoader(train_set, 16)
    model = MLP((32, 10), activation=F.relu)
    optimizer = optimizers.Adam(alpha=0.01).setup(model)
    first = None
    for epoch in range(10):
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            first = float(loss.data) if first is None else first
    assert float(loss.data) < first / 2


def test_adam_is_dezeros_alpha_and_eps_placement():
    w = np.array([0.5, -1.0, 2.0])
    p = dezero.Parameter(w.copy())
    opt = optimizers.Adam(alpha=0.1, eps=1e-3).setup([p])
    m = v = np.zeros(3)
    for t in range(1, 4):
        g = 2 * p.data
        p.grad = Variable(g)
        opt.update()
        m = m + 0.1 * (g - m)
        v = v + 0.001 * (g * g - v)
        w = w - 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-3)
        np.testing.assert_allclose(p.data, w, rtol=1e-14)
    assert opt.lr == pytest.approx(0.1 * np.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3))


def test_losses_follow_dezeros_formulas():
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((4, 1)), rng.integers(0, 2, 4)
    p = 1 / (1 + np.exp(-x[:, 0]))
    expected = -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p)) / 4
    assert F.sigmoid_cross_entropy(x, t).data == pytest.approx(expected, rel=1e-12)
    assert F.binary_cross_entropy(Variable(p.reshape(4, 1)), t).data == pytest.approx(expected, rel=1e-12)
    x0, x1 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    assert F.mean_squared_error(x0, x1).data == pytest.approx(np.sum((x0 - x1) ** 2) / 3, rel=1e-14)
    np.testing.assert_array_equal(F.flatten(np.ones((2, 3, 4))).shape, (2, 12))
    assert F.dropout(np.ones(4), dropout_ratio=0.0).shape == (4,)


def test_cnn_simple_forms_equal_the_fused_ones_and_a_cnn_trains():
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    np.testing.assert_allclose(F.conv2d(x, W, b, 2, 1).data,
                               dezero.functions_conv.conv2d_simple(x, W, b, 2, 1).data, rtol=1e-12)
    np.testing.assert_array_equal(F.pooling(x, 2, 2).data, dezero.functions_conv.pooling_simple(x, 2, 2).data)

    class CNN(Model):
        def __init__(self):
            super().__init__()
            self.conv = L.Conv2d(4, kernel_size=3, pad=1)
            self.fc = L.Linear(2)

        def forward(self, x):
            return self.fc(F.flatten(F.pooling(F.relu(self.conv(x)), 2, 2)))

    np.random.seed(0)
    images = rng.standard_normal((8, 1, 6, 6)).astype(np.float32)
    labels = (images.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    model = CNN()
    optimizer = optimizers.MomentumSGD(0.1).setup(model)
    losses = []
    for _ in range(20):
        loss = F.softmax_cross_entropy(model(images), labels)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        losses.append(float(loss.data))
    assert losses[-1] < losses[0] / 2


@pytest.mark.parametrize("layer", ["RNN", "LSTM"])
def test_recurrent_nets_on_the_sine_curve(layer):
    np.random.seed(0)

    class Net(Model):
        def __init__(self, hidden_size, out_size):
            super().__init__()
            self.rnn = getattr(L, layer)(hidden_size)
            self.fc = L.Linear(out_size)

        def reset_state(self):
            self.rnn.reset_state()

        def forward(self, x):
            return self.fc(self.rnn(x))

    train_set = dezero.datasets.SinCurve(train=True)
    loader = dezero.SeqDataLoader(train_set, batch_size=10)
    model = Net(20, 1)
    optimizer = optimizers.Adam().setup(model)
    epoch_losses = []
    for epoch in range(8):
        model.reset_state()
        loss, count, total = 0, 0, 0.0
        for x, t in loader:
            loss += F.mean_squared_error(model(x), t)
            count += 1
            if count % 30 == 0 or count == len(loader):
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()
                optimizer.update()
                total += float(loss.data)
                loss = 0
        epoch_losses.append(total)
    assert epoch_losses[-1] < epoch_losses[0] / 2, epoch_losses


def test_dezeros_lstm_layout_computes_minigrads_lstm(tmp_path):
    from minigrad.layers import LSTM
    np.random.seed(1)
    ours = L.LSTM(3, in_size=2)
    fused = LSTM(3, in_size=2)
    fused.x2g.W.data = np.concatenate([getattr(ours, f"x2{g}").W.data for g in "fiou"], axis=1)
    fused.x2g.b.data = np.concatenate([getattr(ours, f"x2{g}").b.data for g in "fiou"])
    fused.h2g.W.data = np.concatenate([getattr(ours, f"h2{g}").W.data for g in "fiou"], axis=1)
    xs = np.random.default_rng(3).standard_normal((3, 4, 2)).astype(np.float32)
    for x in xs:
        np.testing.assert_allclose(ours(x).data, fused(x).data, rtol=1e-5, atol=1e-6)
    ours.save_weights(tmp_path / "lstm.npz")
    with np.load(tmp_path / "lstm.npz") as fh:
        assert sorted(fh.files) == sorted(f"{a}2{g}/{p}" for a in "xh" for g in "fiou" for p in "Wb"
                                          if not (a == "h" and p == "b"))
    again = L.LSTM(3, in_size=2)
    again.load_weights(tmp_path / "lstm.npz")
    np.testing.assert_array_equal(again.x2u.W.data, ours.x2u.W.data)


def test_linear_takes_dezeros_positional_arguments_and_utils_draw_graphs():
    layer = L.Linear(3, True, np.float64, 2)
    assert layer.b is None and layer.W.shape == (2, 3) and layer.W.dtype == np.float64
    x = Variable(np.ones(2), name="x")
    y = F.sum(layer(x))
    assert "digraph" in utils.get_dot_graph(y, verbose=False)
    assert utils.get_conv_outsize(4, 3, 1, 1) == 4 and utils.pair(2) == (2, 2)


def test_the_cycle_warning_is_given_once_per_process():
    code = ("import warnings, numpy as np, minigrad as mg\n"
            "warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    for _ in range(3):\n"
            "        x = mg.Variable(np.array(2.0)); (x ** 3).backward(create_graph=True)\n"
            "    import minigrad.dezero\n"
            "print(len([m for m in w if 'reference cycle' in str(m.message)]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"


def test_every_name_docs_dezero_md_lists_as_present_is_there():
    import importlib
    import pathlib
    import re
    text = (pathlib.Path(__file__).parents[1] / "docs" / "dezero.md").read_text().split("## Every public DeZero name")[1]
    rows = re.findall(r"^\| `(\w+)\.(\w+)` \| ([^|]+) \|", text, re.M)
    assert len(rows) == 181
    present = [(m, n) for m, n, where in rows if where.strip() != "-"]
    missing = [f"{m}.{n}" for m, n in present if not hasattr(importlib.import_module(f"minigrad.dezero.{m}"), n)]
    assert not missing and len(present) == 166, missing
