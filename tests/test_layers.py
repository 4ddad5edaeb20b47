"""Layers, models, graph drawing: registration, lazy sizes, weights files, dropout (docs/design.md#layers)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.layers import Dropout, Layer, Linear
from minigrad.models import MLP, Sequential
from minigrad.utils import plot_graph, to_dot


def test_parameters_and_sublayers_register_by_attribute():
    class Net(Layer):
        def __init__(self):
            super().__init__()
            self.scale = mg.Parameter(np.ones(1, dtype=np.float32))
            self.fc = Linear(3, in_size=2)
            self.note = "not a parameter"

    net = Net()
    assert [name for name, _ in net.named_params()] == ["scale", "fc/W", "fc/b"]
    assert len(list(net.params())) == 3


def test_linear_is_lazy_float32_and_skips_the_input_gradient():
    layer = Linear(4)
    assert layer.W.data is None and [n for n, _ in layer.named_params()] == ["W", "b"]
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    y = layer(x)
    assert layer.W.shape == (3, 4) and layer.W.dtype == np.float32 and y.dtype == np.float32
    F.sum(y).backward()
    np.testing.assert_allclose(layer.W.grad.data, x.T @ np.ones((5, 4), np.float32), rtol=1e-6)
    np.testing.assert_allclose(layer.b.grad.data, np.full(4, 5.0))
    assert Linear(2, in_size=3, nobias=True).b is None


def test_save_and_load_weights_round_trip_exactly(tmp_path):
    a, b = MLP([5, 3]), MLP([5, 3])
    x = np.ones((2, 4), np.float32)
    a(x), b(x)
    a.save_weights(tmp_path / "w.npz")
    b.load_weights(tmp_path / "w.npz")
    for (na, pa), (nb, pb) in zip(a.named_params(), b.named_params()):
        assert na == nb and pa.dtype == pb.dtype
        np.testing.assert_array_equal(pa.data, pb.data)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_weights_names_what_does_not_match(tmp_path):
    a = MLP([5, 3])
    a(np.ones((2, 4), np.float32))
    a.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"missing \['l2/b', 'l2/W'\]|missing \['l2/W', 'l2/b'\]"):
        _sized(MLP([5, 3, 2])).load_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"l0/W has shape \(4, 5\) in .* expected \(4, 6\)"):
        _sized(MLP([6, 3])).load_weights(tmp_path / "w.npz")


def _sized(model):
    model(np.ones((1, 4), np.float32))
    return model


def test_cleargrads():
    model = _sized(MLP([3, 2]))
    F.sum(model(np.ones((2, 4), np.float32))).backward()
    assert all(p.grad is not None for p in model.params())
    model.cleargrads()
    assert all(p.grad is None for p in model.params())


def test_dropout_scales_in_training_and_is_the_identity_in_test_mode():
    x = np.ones((200, 500))
    y = Dropout(0.3)(x).data
    assert set(np.unique(y)) == {0.0, 1 / 0.7}
    assert abs((y == 0).mean() - 0.3) < 0.01
    with mg.test_mode():
        np.testing.assert_array_equal(Dropout(0.3)(x).data, x)
    with pytest.raises(ValueError, match="ratio must be in"):
        F.dropout(x, 1.0)


def test_sequential_mixes_layers_and_functions():
    model = Sequential(Linear(4, in_size=3), F.relu, Linear(2))
    y = model(np.ones((5, 3), np.float32))
    assert y.shape == (5, 2) and [n for n, _ in model.named_params()][:2] == ["l0/W", "l0/b"]
    with pytest.raises(TypeError, match="layer 1 is a int"):
        Sequential(Linear(2), 3)


def test_mlp_applies_the_activation_between_layers():
    model = MLP([3, 2], activation=F.tanh)
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    y = model(x)
    expected = np.tanh(x @ model.l0.W.data + model.l0.b.data) @ model.l1.W.data + model.l1.b.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-5)


@pytest.mark.skipif(mg.gpu_available(), reason="checks the message without a GPU")
def test_to_gpu_without_a_gpu_says_why():
    with pytest.raises(RuntimeError, match="no GPU available"):
        _sized(MLP([2])).to_gpu()
    model = _sized(MLP([2])).to_cpu()
    assert all(isinstance(p.data, np.ndarray) for p in model.params())


def test_to_dot_draws_every_function_and_variable():
    x = mg.Variable(np.ones((2, 3)), name="x")
    y = F.sum(F.exp(x) * 2)
    y.name = "y"
    dot = to_dot(y, verbose=True)
    assert dot.startswith("digraph g {") and dot.rstrip().endswith("}")
    for label in ("Exp", "Mul", "Sum", 'label="x: (2, 3) float64"', 'label="y: () float64"'):
        assert label in dot
    exp = y.creator.inputs[0].creator.inputs[0].creator
    assert f"{id(x)} -> {id(exp)}\n" in dot
    assert dot.count("->") == 7  # x->Exp, Exp->e, e->Mul, 2->Mul, Mul->m, m->Sum, Sum->y


def test_plot_graph_writes_dot_and_explains_a_missing_graphviz(tmp_path, monkeypatch):
    y = F.sum(mg.Variable(np.ones(3)) * 2)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt install graphviz"):
        plot_graph(y, to_file=str(tmp_path / "g.png"))
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_plain_array_inputs_get_no_gradient_computed():
    layer = Linear(3, in_size=4)
    y = layer(np.ones((2, 4), np.float32))
    assert y.creator.needs_input_grad == (False, True, True)


def test_model_plot_renders_or_explains(tmp_path):
    import shutil
    model = MLP([3, 2])
    target = tmp_path / "model.png"
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="Graphviz"):
            model.plot(np.ones((1, 4), np.float32), to_file=str(target))
    else:
        assert model.plot(np.ones((1, 4), np.float32), to_file=str(target)) == str(target)
        assert target.read_bytes()[:4] == b"\x89PNG"
    assert "Linear" in (tmp_path / "model.dot").read_text()


def test_confusion_matrix_counts_each_true_and_predicted_pair(tmp_path):
    from minigrad.utils import confusion_matrix, plot_confusion
    counts = confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0], 3)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [1, 0, 2]])
    pytest.importorskip("matplotlib")
    plot_confusion(counts, tmp_path / "c.png", "test")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("activation", [F.sigmoid, F.relu, F.leaky_relu, F.abs], ids=lambda f: f.__name__)
def test_plain_backward_equals_the_recorded_one_bit_for_bit(activation):
    """Linear, Sigmoid and the masked functions compute a plain backward on the arrays (no Functions); it must give
    exactly what the recorded backward (create_graph) gives."""
    rng = np.random.default_rng(0)
    x = mg.Variable(rng.standard_normal((5, 4)).astype(np.float32))
    np.random.seed(0)
    model = MLP([6, 3], activation=activation)
    model(x)
    params = [x] + list(model.params())
    gy = rng.standard_normal((5, 3)).astype(np.float32)
    plain = mg.grad(model(x), params, gy)
    recorded = mg.grad(model(x), params, gy, create_graph=True)
    for a, b in zip(plain, recorded):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("rows", [0, 1, 32, 128, 129, 300])
def test_linear_plain_backward_at_blas_sizes_equals_the_recorded_one_and_float64(rows):
    """Few rows take g @ W.T as (W @ g.T).T (ops/linear.product); the recorded backward's matmul takes the same
    route, so both agree bit for bit, and both match the float64 product."""
    rng = np.random.default_rng(rows)
    x = mg.Variable(rng.standard_normal((rows, 64)).astype(np.float32))
    W = mg.Parameter(rng.standard_normal((64, 1024)).astype(np.float32))
    gy = rng.standard_normal((rows, 1024)).astype(np.float32)
    plain = mg.grad(F.linear(x, W), [x, W], gy)
    recorded = mg.grad(F.linear(x, W), [x, W], gy, create_graph=True)
    for a, b in zip(plain, recorded):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_allclose(plain[0].data, gy.astype(np.float64) @ W.data.T.astype(np.float64), rtol=1e-4,
                               atol=1e-4)
    read_only = W.data.T.copy().T
    read_only.flags.writeable = False
    for W_view in (W.data.T.copy().T, np.asfortranarray(W.data), W.data[:, ::2], W.data.T.copy()[::2].T, read_only):
        np.testing.assert_allclose(F.matmul(x, W_view).data, x.data.astype(np.float64) @ W_view, rtol=1e-4,
                                   atol=1e-4)
    bad = x.data.copy()
    bad[::3, 0], bad[1::3, 1] = np.inf, np.nan  # non-finite rows: the same inf and NaN as NumPy's own product
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(F.matmul(bad, read_only).data, bad @ np.ascontiguousarray(read_only), rtol=1e-4,
                                   atol=1e-4)


def test_layer_norm_layer_matches_torch_and_saves_its_parameters(tmp_path):
    torch = pytest.importorskip("torch")
    from minigrad.layers import LayerNorm
    layer = LayerNorm((3, 4), eps=1e-3, dtype=np.float64)
    layer.gamma.data = np.random.default_rng(0).standard_normal((3, 4))
    ref = torch.nn.LayerNorm((3, 4), eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.gamma.data))
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    np.testing.assert_allclose(layer(x).data, ref(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert [n for n, _ in layer.named_params()] == ["gamma", "beta"]
    assert [n for n, _ in LayerNorm(4, bias=False).named_params()] == ["gamma"]
    assert not list(LayerNorm(4, elementwise_affine=False).params())
    layer.save_weights(tmp_path / "ln")
    other = LayerNorm((3, 4), eps=1e-3, dtype=np.float64)
    other.load_weights(tmp_path / "ln")
    np.testing.assert_array_equal(other.gamma.data, layer.gamma.data)
