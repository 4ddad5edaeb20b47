"""Optimizers and hooks against torch.optim's formulas in numpy, and against torch (docs/design.md#layers)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad import optimizers as O
from minigrad.models import MLP

RNG = np.random.default_rng(0)
A, B, P0 = RNG.standard_normal((4, 3)), RNG.standard_normal(4), RNG.standard_normal(3)


def grad_of(p):
    """The gradient of |A p - b|^2, written out."""
    return 2 * A.T @ (A @ p - B)


def minigrad_run(opt, steps=6):
    p = mg.Parameter(P0.copy())
    opt.setup([p])
    path = []
    for _ in range(steps):
        p.cleargrad()
        r = F.matmul(A, p) - B
        F.sum(r * r).backward()
        opt.update()
        path.append(p.data.copy())
    return np.array(path)


def numpy_run(step, steps=6):
    p, state, path = P0.copy(), {}, []
    for t in range(1, steps + 1):
        p = step(p, grad_of(p), state, t)
        path.append(p.copy())
    return np.array(path)


def sgd(p, g, s, t):
    return p - 0.05 * g


def momentum(p, g, s, t):
    s["v"] = 0.9 * s.get("v", 0) + g
    return p - 0.05 * s["v"]


def adagrad(p, g, s, t):
    s["h"] = s.get("h", 0) + g * g
    return p - 0.1 * g / (np.sqrt(s["h"]) + 1e-10)


def adam(p, g, s, t, lr=0.1, wd=0.0):
    p = p * (1 - lr * wd)
    s["m"] = 0.9 * s.get("m", 0) + 0.1 * g
    s["v"] = 0.999 * s.get("v", 0) + 0.001 * g * g
    m_hat, v_hat = s["m"] / (1 - 0.9 ** t), s["v"] / (1 - 0.999 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def adadelta(p, g, s, t, rho=0.95, eps=1e-6):
    s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
    d = np.sqrt((s.get("u", 0) + eps) / (s["v"] + eps)) * g  # DeZero's form
    s["u"] = rho * s.get("u", 0) + (1 - rho) * d * d
    return p - d


CASES = [("SGD", lambda: O.SGD(lr=0.05), sgd),
         ("AdaDelta", lambda: O.AdaDelta(), adadelta),
         ("MomentumSGD", lambda: O.MomentumSGD(lr=0.05, momentum=0.9), momentum),
         ("AdaGrad", lambda: O.AdaGrad(lr=0.1), adagrad),
         ("Adam", lambda: O.Adam(lr=0.1), adam),
         ("AdamW", lambda: O.AdamW(lr=0.1, weight_decay=0.05), lambda p, g, s, t: adam(p, g, s, t, wd=0.05))]


@pytest.mark.parametrize("name, make, step", CASES, ids=[c[0] for c in CASES])
def test_matches_the_formula(name, make, step):
    np.testing.assert_allclose(minigrad_run(make()), numpy_run(step), rtol=1e-12, atol=1e-14)


def test_hooks_weight_decay_and_clip_grad():
    decayed = minigrad_run(O.SGD(lr=0.05).add_hook(O.WeightDecay(0.1)))
    np.testing.assert_allclose(decayed, numpy_run(lambda p, g, s, t: p - 0.05 * (g + 0.1 * p)), rtol=1e-12)

    def clipped(p, g, s, t):
        norm = np.linalg.norm(g)
        return p - 0.05 * (g * min(1.0, 0.5 / (norm + 1e-6)))
    np.testing.assert_allclose(minigrad_run(O.SGD(lr=0.05).add_hook(O.ClipGrad(0.5))), numpy_run(clipped),
                               rtol=1e-12)


def test_freeze_param_keeps_layers_and_parameters_unchanged():
    model = MLP([3, 2])
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    model(x)
    before = {name: p.data.copy() for name, p in model.named_params()}
    extra = mg.Parameter(np.ones(2, np.float32))
    opt = O.SGD(lr=0.1).setup(list(model.params()) + [extra]).add_hook(O.FreezeParam(model.l0, extra))
    F.sum(model(x) ** 2 + extra).backward()
    opt.update()
    after = dict(model.named_params())
    for name in ("l0/W", "l0/b"):
        np.testing.assert_array_equal(after[name].data, before[name])
    assert not np.array_equal(after["l1/W"].data, before["l1/W"]) and extra.data.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="FreezeParam: argument 0 is a str"):
        O.FreezeParam("l0")


def test_update_skips_parameters_without_gradients_and_needs_setup():
    p, q = mg.Parameter(np.ones(2)), mg.Parameter(np.ones(2))
    F.sum(p * 3).backward()
    O.SGD(lr=0.5).setup([p, q]).update()
    np.testing.assert_array_equal(p.data, [-0.5, -0.5])
    np.testing.assert_array_equal(q.data, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="setup"):
        O.SGD().update()


@pytest.mark.parametrize("name", ["SGD", "MomentumSGD", "AdaGrad", "AdaDelta", "Adam", "AdamW", "hooks"])
def test_trajectories_match_torch(name):
    torch = pytest.importorskip("torch")
    make = {"SGD": (lambda: O.SGD(lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
            "MomentumSGD": (lambda: O.MomentumSGD(lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
            "AdaGrad": (lambda: O.AdaGrad(lr=0.1), lambda ps: torch.optim.Adagrad(ps, lr=0.1)),
            "AdaDelta": (lambda: O.AdaDelta(rho=0.9, lr=0.5), lambda ps: torch.optim.Adadelta(ps, lr=0.5, rho=0.9)),
            "Adam": (lambda: O.Adam(lr=0.1), lambda ps: torch.optim.Adam(ps, lr=0.1)),
            "AdamW": (lambda: O.AdamW(lr=0.1), lambda ps: torch.optim.AdamW(ps, lr=0.1)),
            "hooks": (lambda: O.SGD(lr=0.05).add_hook(O.WeightDecay(0.1)),
                      lambda ps: torch.optim.SGD(ps, lr=0.05, weight_decay=0.1))}[name]
    ours = minigrad_run(make[0]())
    p = torch.tensor(P0.copy(), requires_grad=True)
    opt, path = make[1]([p]), []
    a, b = torch.tensor(A), torch.tensor(B)
    for _ in range(6):
        opt.zero_grad()
        ((a @ p - b) ** 2).sum().backward()
        opt.step()
        path.append(p.detach().numpy().copy())
    np.testing.assert_allclose(ours, np.array(path), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, match", [
    (lambda: O.Adam(0.001, MLP([2])), r"Adam: beta1 must be a real number, got MLP"),
    (lambda: O.SGD(lr="0.1"), r"SGD: lr must be a real number, got str '0.1'"),
    (lambda: O.SGD(lr=-1.0), r"SGD: lr must be >= 0, got -1.0"),
    (lambda: O.MomentumSGD(0.1, momentum=1.0), r"momentum must be >= 0 and < 1"),
    (lambda: O.AdamW(weight_decay=float("nan")), r"weight_decay must be >= 0"),
    (lambda: O.ClipGrad(True), r"max_norm must be a real number, got bool"),
    (lambda: O.SGD().setup("model"), r"setup: expected a Layer or a list of Parameters, got str"),
])
def test_bad_hyperparameters_fail_at_construction(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_sequential_refuses_a_class():
    with pytest.raises(TypeError, match=r"layer 0 is the class Linear.*Linear\(\.\.\.\)"):
        mg.models.Sequential(mg.layers.Linear, F.relu)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("make", [lambda: O.Adam(0.01), lambda: O.AdamW(0.01, weight_decay=0.3),
                                  lambda: O.AdamW(0.01, weight_decay=0.0)], ids=["Adam", "AdamW", "AdamW-no-decay"])
def test_adam_on_the_kernel_gives_the_numpy_paths_bits(make, dtype):
    """docs/kernels.md: Adam's step in one pass rounds each operation as the NumPy path does: equal bits, in every
    layout of the gradient (others than C order go the NumPy way), with inf and NaN gradients, over 5 steps."""
    pytest.importorskip("numba")
    from layouts import LAYOUTS
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal((6, 5)).astype(dtype)
    grads = [rng.standard_normal((6, 5)).astype(dtype) for _ in range(5)]
    grads[2][0, 0], grads[3][1, 1], grads[4][2, 2] = np.inf, np.nan, -np.inf
    for layout, laid in LAYOUTS.items():
        runs = []
        for kernels_on in (True, False):
            p, opt = mg.Parameter(p0.copy()), make()
            opt.setup([p])
            with mg.using_config("cpu_kernels", kernels_on), np.errstate(invalid="ignore", over="ignore"):
                for g in grads:
                    p.grad = mg.Variable(laid(g))
                    opt.update()
            runs.append((p.data, *opt.state[p]))
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b, err_msg=layout)
        assert np.isnan(runs[0][0]).any() and np.isfinite(runs[0][0]).sum() > 20


def test_adam_on_the_kernel_is_seen_by_a_graph_that_saved_the_parameter():
    """The step changes p in place and assigns p.data: a backward through a graph made before it refuses to run
    (docs/design.md#what-the-engine-guarantees)."""
    p = mg.Parameter(np.ones(3, np.float32))
    y = F.sum(p * p)
    p.grad = mg.Variable(np.ones(3, np.float32))
    O.Adam(0.1).setup([p]).update()
    with pytest.raises(RuntimeError, match="was assigned after the Mul was recorded"):
        y.backward()
