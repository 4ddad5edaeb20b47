"""Every Function and every fast path gives the same answer for any memory layout of its inputs: C, F, negative
strides, sliced and broadcast views, read-only arrays
(docs/design.md#memory-layouts-empty-batches-half-precision-failed-calls)."""
import numpy as np
import pytest

import minigrad as mg
from layouts import LAYOUTS, laid_out
from minigrad.specs import SPECS

IDS = [s.label for s in SPECS]
OTHER = [name for name in LAYOUTS if name != "C"]


def _run(spec, arrays, create_graph):
    """The output and the gradients for a fixed upstream gradient (plain backward, or recorded)."""
    xs = [mg.Variable(a) for a in arrays]
    y = spec.fn(*xs)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype)
    gxs = mg.grad(y, [x for x in xs if x.dtype.kind == "f"], gy, create_graph=create_graph)
    return y.data, [None if g is None else g.data for g in gxs]


@pytest.mark.parametrize("layout", OTHER)
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_any_layout_gives_the_answer_of_its_c_contiguous_copy(spec, layout):
    arrays = laid_out(spec.inputs(), layout)
    before = [a.copy() for a in arrays]
    copies = tuple(a.copy(order="C") for a in arrays)
    for create_graph in (False, True):
        y, gxs = _run(spec, arrays, create_graph)
        y_ref, gxs_ref = _run(spec, copies, create_graph)
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13, equal_nan=True)
        for g, g_ref in zip(gxs, gxs_ref):
            assert (g is None) == (g_ref is None)
            if g is not None:
                np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-13)
    for a, b in zip(arrays, before):  # the caller's arrays are untouched
        np.testing.assert_array_equal(a, b)
