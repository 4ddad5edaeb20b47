"""Every registered Function has a spec row, and every row passes the checks (docs/design.md#adding-a-function)."""
import io

import numpy as np
import pytest

import minigrad as mg
from minigrad.__main__ import check
from minigrad.specs import SPECS, Spec

IDS = [s.label for s in SPECS]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradcheck(spec):
    assert mg.gradcheck(spec.fn, spec.inputs(), atol=spec.atol, rtol=spec.rtol)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradgradcheck(spec):
    assert mg.gradgradcheck(spec.fn, spec.inputs(), atol=spec.atol, rtol=spec.rtol)


def test_every_registered_function_has_a_row():
    missing = set(mg.Function.registry) - {s.name for s in SPECS}
    assert not missing, f"Functions without a spec row: {sorted(missing)}"


def test_registry_holds_only_minigrad_functions():
    class Mine(mg.Function):
        def forward(self, x):
            return x

    assert "Mine" not in mg.Function.registry
    assert {"Add", "MatMul", "GetItemGrad", "Max"} <= set(mg.Function.registry)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_float32_stays_float32(spec):
    inputs = [x.astype(np.float32) if x.dtype.kind == "f" else x for x in spec.inputs()]
    xs = [mg.Variable(x) for x in inputs]
    y = spec.fn(*xs)
    assert y.dtype == np.float32
    gxs = mg.grad(y, xs, np.ones(y.shape, dtype=np.float32), create_graph=True)
    for x, gx in zip(xs, gxs):
        assert (gx is not None and gx.dtype == np.float32) or x.dtype.kind != "f", spec.name


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_forward_matches_float64_reference(spec):
    """float32 forward agrees with the float64 forward (no precision lost to a wrong dtype)."""
    inputs = spec.inputs()
    y64 = spec.fn(*inputs).data
    y32 = spec.fn(*[x.astype(np.float32) for x in inputs]).data
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-5)


def test_check_command_reports_a_failure():
    class Twice(mg.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return gy  # wrong: should be 2 * gy

    out = io.StringIO()
    bad = Spec("Twice", lambda x: Twice()(x), lambda rng: (rng.standard_normal(3),))
    assert check([bad], out=out) == 1
    assert "FAIL" in out.getvalue() and "input 0" in out.getvalue()


def test_check_command_prints_a_table_and_exits_0():
    """`python -m minigrad check`: one line per spec row, the count, exit status 0 (one run checks all three)."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "minigrad", "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for spec in SPECS:
        assert f"\n{spec.label} " in r.stdout
    functions = len({s.name for s in SPECS})
    assert f"{len(SPECS)} of {len(SPECS)} rows ({functions} Functions) pass" in r.stdout


def test_registry_names_are_unique_because_the_operators_look_them_up():
    import types
    fake = types.ModuleType("minigrad.fake")
    with pytest.raises(TypeError, match="two minigrad Functions are named Add"):
        exec("import minigrad as mg\nclass Add(mg.Function):\n    pass\n", fake.__dict__)
    assert mg.Function.registry["Add"].__module__ == "minigrad.ops.arithmetic"


# ----------------------------------------------------------------------------- the N = 0 column

@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_an_empty_batch(spec):
    """Every row takes an empty batch (N = 0) as torch does: the forward, its gradients (recorded, so they
    differentiate again) shaped like the inputs, and the gradient checks wherever the result is a number ('mean'
    over nothing is NaN, as torch)."""
    fn, xs = spec.empty_case()
    vs = [mg.Variable(x) for x in xs]
    y = fn(*vs)
    assert any(x.size == 0 for x in xs) or y.size == 0, [x.shape for x in xs]
    floats = [v for v in vs if v.dtype.kind == "f"]
    gxs = mg.grad(y, floats, np.ones(y.shape), create_graph=True)
    for v, g in zip(floats, gxs):
        assert g is not None and g.shape == v.shape and np.isfinite(g.data).all()
    if np.isfinite(y.data).all():
        assert mg.gradcheck(fn, xs) and mg.gradgradcheck(fn, xs)
