"""EmbedID, RNN, LSTM and GRU layers: formulas, state, torch's LSTMCell and GRUCell, gradients (docs/design.md#layers)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.layers import GRU, LSTM, RNN, EmbedID

RNG = np.random.default_rng(0)


def sig(a):
    return 1 / (1 + np.exp(-a))


def test_embed_id_layer():
    np.random.seed(0)
    layer = EmbedID(6, 4)
    ids = np.array([[1, 5], [1, 0]])
    y = layer(ids)
    assert y.shape == (2, 2, 4) and y.dtype == np.float32
    np.testing.assert_array_equal(y.data, layer.W.data[ids])


def test_rnn_follows_its_formula_and_keeps_state():
    rnn = RNN(3, dtype=np.float64)
    xs = RNG.standard_normal((4, 2, 5))
    h = None
    for x in xs:
        y = rnn(x)
        z = x @ rnn.x2h.W.data + rnn.x2h.b.data
        h = np.tanh(z if h is None else z + h @ rnn.h2h.W.data)
        np.testing.assert_allclose(y.data, h, rtol=1e-13)
    rnn.reset_state()
    np.testing.assert_allclose(rnn(xs[0]).data, np.tanh(xs[0] @ rnn.x2h.W.data + rnn.x2h.b.data), rtol=1e-13)


def _lstm_numpy(lstm, xs):
    n, h, c, out = lstm.hidden_size, None, None, []
    for x in xs:
        z = x @ lstm.x2g.W.data + lstm.x2g.b.data + (0 if h is None else h @ lstm.h2g.W.data)
        f, i, o, u = sig(z[:, :n]), sig(z[:, n:2 * n]), sig(z[:, 2 * n:3 * n]), np.tanh(z[:, 3 * n:])
        c = i * u if c is None else f * c + i * u
        h = o * np.tanh(c)
        out.append(h)
    return out


def test_lstm_follows_dezeros_formula():
    lstm = LSTM(4, dtype=np.float64)
    xs = RNG.standard_normal((5, 3, 2))
    ys = [lstm(x).data for x in xs]
    for a, b in zip(ys, _lstm_numpy(lstm, xs)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert LSTM(4)(xs[0].astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("layer", [LSTM, GRU], ids=["LSTM", "GRU"])
def test_gradients_through_time(layer):
    xs = RNG.standard_normal((3, 2, 2))

    def unrolled(x0):
        np.random.seed(1)
        rnn = layer(3, in_size=2, dtype=np.float64)
        h = rnn(x0)
        for x in xs[1:]:
            h = rnn(x)
        return F.sum(h * h)

    assert mg.gradcheck(unrolled, [xs[0]])


def test_lstm_matches_torch_lstm_cell():
    torch = pytest.importorskip("torch")
    lstm = LSTM(4, in_size=3, dtype=np.float64)
    xs = RNG.standard_normal((4, 2, 3))
    cell = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
    n = 4
    ours_for_torch = np.r_[n:2 * n, 0:n, 3 * n:4 * n, 2 * n:3 * n]  # torch's gates are (i, f, g, o); ours (f, i, o, u)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(lstm.x2g.W.data[:, ours_for_torch].T))
        cell.weight_hh.copy_(torch.tensor(lstm.h2g.W.data[:, ours_for_torch].T))
        cell.bias_ih.copy_(torch.tensor(lstm.x2g.b.data[ours_for_torch]))
        cell.bias_hh.zero_()
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    for x in xs:
        y = lstm(x)
        h, c = cell(torch.tensor(x), (h, c))
        np.testing.assert_allclose(y.data, h.detach().numpy(), rtol=1e-12)


def _gru_pair(torch, hidden=4, in_size=3):
    """A GRU layer and torch's GRUCell holding the same weights (ours drawn, copied over; random biases)."""
    gru = GRU(hidden, in_size=in_size, dtype=np.float64)
    gru.x2h.b.data = RNG.standard_normal(3 * hidden)
    gru.h2h.b.data = RNG.standard_normal(3 * hidden)
    cell = torch.nn.GRUCell(in_size, hidden, dtype=torch.float64)
    with torch.no_grad():  # both order the gates r, z, n; torch's weights are (3H, in)
        cell.weight_ih.copy_(torch.tensor(gru.x2h.W.data.T))
        cell.weight_hh.copy_(torch.tensor(gru.h2h.W.data.T))
        cell.bias_ih.copy_(torch.tensor(gru.x2h.b.data))
        cell.bias_hh.copy_(torch.tensor(gru.h2h.b.data))
    return gru, cell


def test_gru_matches_torch_gru_cell_in_values_and_gradients():
    torch = pytest.importorskip("torch")
    gru, cell = _gru_pair(torch)
    xs = RNG.standard_normal((4, 2, 3))
    h = torch.zeros(2, 4, dtype=torch.float64)
    loss = loss_t = 0
    for x in xs:
        y = gru(x)
        h = cell(torch.tensor(x), h)
        np.testing.assert_allclose(y.data, h.detach().numpy(), rtol=1e-12)
        loss, loss_t = loss + F.sum(y * y), loss_t + (h * h).sum()
    loss.backward()
    loss_t.backward()
    for ours, theirs in ((gru.x2h.W, cell.weight_ih.grad.T), (gru.h2h.W, cell.weight_hh.grad.T),
                         (gru.x2h.b, cell.bias_ih.grad), (gru.h2h.b, cell.bias_hh.grad)):
        np.testing.assert_allclose(ours.grad.data, theirs.numpy(), rtol=1e-10)


def test_gru_keeps_its_state_until_reset():
    gru = GRU(3)
    gru(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="a batch of 3 after a state of batch size 2"):
        gru(np.ones((3, 5), np.float32))
    gru.reset_state()
    assert gru(np.ones((3, 5), np.float32)).shape == (3, 3)
