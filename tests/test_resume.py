"""Training resumes exactly: a checkpoint loaded in a fresh process continues bit for bit (docs/training.md#resuming)."""
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad import optimizers as O
from minigrad import schedules as S

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
import resume_run  # noqa: E402


def test_a_resumed_run_equals_the_uninterrupted_one_bit_for_bit(tmp_path):
    for mode in ("first", "rest"):  # each in a fresh process
        subprocess.run([sys.executable, resume_run.__file__, mode, str(tmp_path)], check=True)
    for case in resume_run.CASES:
        model, opt, sched, loader = resume_run.build(case, 0)
        resume_run.train(model, opt, sched, loader, resume_run.N + resume_run.M)
        with np.load(tmp_path / f"{case}-final.npz") as f:
            for name, p in model.named_params():
                np.testing.assert_array_equal(f[name], p.data, err_msg=f"{case}: {name}")
        assert np.load(tmp_path / f"{case}-lr.npy") == opt.lr, case


def _trained(steps=3):
    model, opt, sched, loader = resume_run.build("adam-clip-weightdecay-sequential", 0)
    resume_run.train(model, opt, sched, loader, steps)
    return model, opt, sched, loader


def test_a_checkpoint_that_does_not_match_changes_nothing(tmp_path):
    model, opt, sched, loader = _trained()
    mg.save_checkpoint(tmp_path / "ck", model, opt, sched, loader)
    other, other_opt, other_sched, other_loader = resume_run.build("adamw-cosine", 1)
    resume_run.train(other, other_opt, other_sched, other_loader, 1)
    before = [p.data.copy() for p in other.params()], other_opt.t, other_opt.lr, np.random.get_state()[1].copy()
    with pytest.raises(ValueError, match="the state is of a Adam, not a AdamW"):
        mg.load_checkpoint(tmp_path / "ck", other, other_opt, other_sched, other_loader)
    after = [p.data for p in other.params()], other_opt.t, other_opt.lr, np.random.get_state()[1]
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1:3] == after[1:3]
    np.testing.assert_array_equal(before[3], after[3])


def test_missing_parts_hooks_and_shapes_are_named(tmp_path):
    model, opt, sched, loader = _trained()
    mg.save_checkpoint(tmp_path / "weights_only", model)
    with pytest.raises(ValueError, match="holds no optimizer"):
        mg.load_checkpoint(tmp_path / "weights_only", model, opt)
    mg.save_checkpoint(tmp_path / "ck", model, opt)
    opt.hooks.pop()
    with pytest.raises(ValueError, match=r"hooks \['ClipGrad', 'WeightDecay'\], this optimizer \['ClipGrad'\]"):
        mg.load_checkpoint(tmp_path / "ck", model, opt)
    model.save_weights(tmp_path / "plain")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        mg.load_checkpoint(tmp_path / "plain", model)
    with pytest.raises(TypeError, match="extra value 'fn' is a builtin_function"):
        mg.save_checkpoint(tmp_path / "bad", model, fn=len)


def test_optimizer_state_is_keyed_by_name_and_round_trips():
    model, opt, _, _ = _trained()
    sd = opt.state_dict()
    assert set(sd["state"]) == {"l0/W", "l0/b", "l3/W", "l3/b"}
    assert sd["hyper"]["beta1"] == 0.9 and sd["t"] == 3
    assert [h["type"] for h in sd["hooks"]] == ["ClipGrad", "WeightDecay"] and sd["hooks"][0]["max_norm"] == 1.0
    fresh = O.Adam(0.01).setup(model).add_hook(O.ClipGrad(1.0)).add_hook(O.WeightDecay(1e-4))
    fresh.load_state_dict(sd)
    for p in model.params():
        for a, b in zip(fresh.state[p], opt.state[p]):
            np.testing.assert_array_equal(a, b)
    assert fresh.t == 3 and fresh.lr == opt.lr


@pytest.mark.parametrize("make, torch_make", [
    (lambda o: S.StepLR(o, 3, 0.5), lambda t, o: t.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    (lambda o: S.ExponentialLR(o, 0.8), lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, 0.8)),
    (lambda o: S.CosineAnnealingLR(o, 7, 0.01), lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01)),
    (lambda o: S.LinearLR(o, 0.25, 0.9, 4), lambda t, o: t.optim.lr_scheduler.LinearLR(o, 0.25, 0.9, 4)),
    (lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=3), S.CosineAnnealingLR(o, 6)], [3]),
     lambda t, o: t.optim.lr_scheduler.SequentialLR(o, [t.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=3),
                                                        t.optim.lr_scheduler.CosineAnnealingLR(o, 6)], [3])),
], ids=["step", "exponential", "cosine", "linear", "sequential"])
def test_schedules_match_torch(make, torch_make):
    torch = pytest.importorskip("torch")
    opt = O.SGD(0.3)
    sched = make(opt)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    tsched = torch_make(torch, topt)
    for step in range(12):
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15), step
        topt.step()
        tsched.step()
        sched.step()


def test_seed_repeats_weights_dropout_and_shuffling():
    def run():
        mg.seed(3)
        layer = mg.layers.Linear(4)
        y = F.dropout(layer(np.ones((2, 3), np.float32)), 0.5)
        loader = mg.data.DataLoader(mg.data.Spiral(), 10)
        return y.data, loader.order
    (y1, o1), (y2, o2) = run(), run()
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(o1, o2)
    np.random.seed(5)
    a = mg.data.DataLoader(mg.data.Spiral(), 10).order
    np.random.seed(5)
    np.testing.assert_array_equal(a, mg.data.DataLoader(mg.data.Spiral(), 10).order)  # as DeZero's loader
