"""A call that fails leaves no trace: no Parameter, running statistic, recurrent state or lazily created
Parameter changes (docs/design.md#memory-layouts-empty-batches-half-precision-failed-calls)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
import minigrad.layers as L
import minigrad.optimizers as O


def _snapshot(layer):
    """Every Parameter's array (or None), every plain attribute, and the recurrent state."""
    params = {name: None if p.data is None else p.data.copy() for name, p in layer.named_params()}
    plain = {k: v for k, v in vars(layer).items() if not isinstance(v, (mg.Parameter, L.Layer, mg.Variable))}
    state = {k: getattr(layer, k).data.copy() for k in ("h", "c") if getattr(layer, k, None) is not None}
    return params, plain, state


def _same(a, b):
    (pa, la, sa), (pb, lb, sb) = a, b
    assert pa.keys() == pb.keys() and sa.keys() == sb.keys() and la.keys() == lb.keys()
    for x, y in list(zip(pa.values(), pb.values())) + list(zip(sa.values(), sb.values())):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert {k: repr(v) for k, v in la.items()} == {k: repr(v) for k, v in lb.items()}


X2 = np.ones((4, 3), np.float32)
IMG = np.ones((2, 3, 8, 8), np.float32)
# (layer factory, a call that works or None, a call that fails, the error)
CASES = {
    "Linear lazy": (lambda: L.Linear(5), None, lambda l: l(np.ones((), np.float32)), ValueError),
    "Linear": (lambda: L.Linear(5), lambda l: l(X2), lambda l: l(np.ones((4, 2), np.float32)), ValueError),
    "LinearCrossEntropy lazy": (lambda: L.LinearCrossEntropy(5), None, lambda l: l(X2, np.array([0, 1, 9, 2])),
                                IndexError),
    "Conv2d lazy, (C, H, W) image": (lambda: L.Conv2d(4, 3), None, lambda l: l(IMG[0]), ValueError),
    "Conv2d lazy, kernel too large": (lambda: L.Conv2d(4, 9), None, lambda l: l(IMG), ValueError),
    "Conv2d lazy, channels-last": (lambda: L.Conv2d(4, 3), None, lambda l: l(np.ones((2, 8, 8, 1), np.float32)),
                                   ValueError),
    "Deconv2d lazy, bad outsize": (lambda: L.Deconv2d(2, 3), None, lambda l: l(IMG, (1, 1)), ValueError),
    "BatchNorm lazy, 1-D": (lambda: L.BatchNorm(), None, lambda l: l(np.zeros(3, np.float32)), ValueError),
    "BatchNorm lazy, one value per channel": (lambda: L.BatchNorm(), None, lambda l: l(np.ones((1, 3), np.float32)),
                                              ValueError),
    "BatchNorm, wrong channels": (lambda: L.BatchNorm(), lambda l: l(X2 * np.arange(4)[:, None]),
                                  lambda l: l(np.ones((4, 2), np.float32)), ValueError),
    "BatchNorm, bad decay": (lambda: L.BatchNorm(decay="0.9"), None, lambda l: l(X2), TypeError),
    "RNN, batch size changes": (lambda: L.RNN(3), lambda l: l(np.ones((1, 2), np.float32)),
                                lambda l: l(np.ones((4, 2), np.float32)), ValueError),
    "RNN, a sequence": (lambda: L.RNN(3), None, lambda l: l(np.ones((5, 4, 2), np.float32)), ValueError),
    "LSTM, batch size changes": (lambda: L.LSTM(3), lambda l: l(np.ones((2, 2), np.float32)),
                                 lambda l: l(np.ones((4, 2), np.float32)), ValueError),
    "LSTM, wrong in_size": (lambda: L.LSTM(3), lambda l: l(np.ones((2, 2), np.float32)),
                            lambda l: l(np.ones((2, 5), np.float32)), ValueError),
    "EmbedID, id out of range": (lambda: L.EmbedID(4, 2), None, lambda l: l(np.array([0, 4])), IndexError),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_call_leaves_the_layer_as_it_was(case):
    make, works, fails, error = CASES[case]
    layer = make()
    if works is not None:
        with mg.no_grad():
            works(layer)
    before = _snapshot(layer)
    with pytest.raises(error):
        fails(layer)
    _same(_snapshot(layer), before)
    if works is not None:  # and it still works afterwards
        works(layer)


@pytest.mark.parametrize("mean, var, error", [
    (np.zeros(3), np.ones(3, np.int64), TypeError),
    (np.zeros(3), np.ones(3)[::-1], None),
    (np.zeros(3), np.broadcast_to(np.ones(1), (3,)), ValueError),
    (np.zeros(3), np.ones(4), ValueError),
    (np.zeros(3), [1.0, 1.0, 1.0], TypeError),
], ids=["integer var", "writable var", "read-only var", "var of 4", "a list"])
def test_batch_norm_checks_every_statistic_before_writing_any(mean, var, error):
    x = np.random.default_rng(0).standard_normal((5, 3))
    m0, v0 = mean.copy(), np.array(var, copy=True)
    if error is None:
        F.batch_norm(x, np.ones(3), np.zeros(3), mean, var)
        assert not np.array_equal(mean, m0)
        return
    with pytest.raises(error, match="var"):
        F.batch_norm(x, np.ones(3), np.zeros(3), mean, var)
    np.testing.assert_array_equal(mean, m0)
    np.testing.assert_array_equal(var, v0)


@pytest.mark.parametrize("decay, eps, error", [("0.9", 2e-5, TypeError), (None, 2e-5, TypeError),
                                               (1.5, 2e-5, ValueError), (0.9, 0.0, ValueError),
                                               (0.9, float("nan"), ValueError)])
def test_batch_norm_names_decay_and_eps(decay, eps, error):
    mean, var = np.zeros(3), np.ones(3)
    with pytest.raises(error, match="decay" if decay != 0.9 else "eps"):
        F.batch_norm(np.ones((4, 3)), np.ones(3), np.zeros(3), mean, var, decay=decay, eps=eps)
    assert (mean == 0).all() and (var == 1).all()


def test_an_optimizer_update_that_fails_changes_no_parameter():
    model = L.Linear(2, in_size=3)
    opt = O.Adam().setup(model).add_hook(lambda params: 1 / 0)
    F.sum(model(np.ones((1, 3), np.float32))).backward()
    before = [p.data.copy() for p in model.params()]
    with pytest.raises(ZeroDivisionError):
        opt.update()
    for p, b in zip(model.params(), before):
        np.testing.assert_array_equal(p.data, b)
    assert opt.t == 0 and not opt.state
