"""The engine's guards: anomaly mode (where a NaN or inf was made) and saved Variables changed in place."""
import os
import sys
import warnings

import numpy as np

from minigrad.backend import get_array_module
from minigrad.config import using_config

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(FloatingPointError):
    """A Function produced NaN or inf under detect_anomaly()."""


def detect_anomaly():
    """with mg.detect_anomaly(): every Function checks its outputs (forward) and the gradients it returns
    (backward) for NaN/inf and raises AnomalyError naming itself and the line of code that called it.
    Slow: for finding a NaN, not for training. Same as Config.detect_anomaly = True."""
    return using_config("detect_anomaly", True)


def call_site():
    """'file:line in function' of the innermost caller outside the minigrad package (or '?')."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _bad(array):
    """'NaN', 'inf' or None for a floating array (other dtypes cannot hold either)."""
    if array is None or array.dtype.kind != "f":
        return None
    xp = get_array_module(array)
    if bool(xp.isfinite(array).all()):
        return None
    return "NaN" if bool(xp.isnan(array).any()) else "inf"


def checked_backward(function, gys):
    """function.backward(*gys), its gradients checked for NaN/inf; the Functions it calls are not checked one by
    one, so that a NaN is reported as made by `function`'s backward."""
    with using_config("detect_anomaly", False), np.errstate(all="ignore"):  # reported below, not as a warning
        gxs = function.backward(*gys)
    site = getattr(function, "call_site", "a line that ran outside detect_anomaly()")
    check_finite(function, "backward", [None if g is None else g.data for g in _as_tuple(gxs)], site)
    return gxs


def _as_tuple(gxs):
    return gxs if isinstance(gxs, tuple) else (gxs,)


def check_finite(function, phase, arrays, site):
    """Raise AnomalyError if any of the arrays (a Function's outputs or gradients) holds NaN or inf."""
    for i, a in enumerate(arrays):
        kind = _bad(a)
        if kind is not None:
            what = "output" if phase == "forward" else "gradient for input"
            raise AnomalyError(f"{type(function).__name__}.{phase} produced {kind} in its {what} {i} "
                               f"(shape {tuple(a.shape)}); the {type(function).__name__} was called at {site}")


NO_GRAPH = ("this Variable does not require a gradient: it was computed under no_grad(), or only from inputs that "
            "take none (integer data, constants), so it has no graph to differentiate")
WARNED = set()  # the keys of the warnings given once per process (minigrad.dezero adds "cycle": its idiom)


def warn_once(key, message, stacklevel=2):
    """warnings.warn(message) the first time key is seen in this process, else nothing."""
    if key not in WARNED:
        WARNED.add(key)
        warnings.warn(message, stacklevel=stacklevel + 1)


CYCLE_WARNING = ("backward(create_graph=True) stores gradients that carry their graph in .grad, a reference cycle "
                 "(x -> x.grad -> graph -> x) that only the garbage collector frees; "
                 "mg.grad(y, xs, create_graph=True) returns them instead")


def check_saved(f):
    """Raise if a Variable that f's backward reads had its .data assigned after f was recorded."""
    saved = [("input", i, x) for i, x in enumerate(f.inputs)] if f.saves_inputs else []
    saved += [("output", i, ref()) for i, ref in enumerate(f.outputs)] if f.keeps_output else []
    for kind, i, x in saved:
        if x is not None and x._version > f._stamp:
            raise modified_error(f, kind, i, x)


def modified_error(function, kind, i, x):
    """The error for a Variable that `function` saved (its input or output i) whose .data was assigned since."""
    name = type(function).__name__
    label = f"{kind} {i} (shape {x.shape}" + ("" if x.name is None else f", name {x.name!r}") + ")"
    return RuntimeError(f"{name}.backward needs its {label} as it was in the forward pass, but that Variable's "
                        f".data was assigned after the {name} was recorded (an in-place change such as "
                        f"x.data -= ...); the gradient would be wrong. Run the forward pass again after changing it")
