"""Gradient checks: analytic backward against central finite differences in float64."""
import numpy as np

from minigrad.backend import as_numpy, get_array_module
from minigrad.config import no_grad, using_config
from minigrad.core import Variable, as_array, as_variable, grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences (or fn modified its inputs)."""


def _is_float(x):
    return getattr(x, "dtype", None) is not None and x.dtype.kind == "f"


def _prepare(inputs):
    """Unwrap Variables; float arrays become float64 copies, everything else passes through."""
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    out = []
    for x in inputs:
        x = as_array(x)
        if _is_float(x):
            x = get_array_module(x).array(x, dtype=np.float64)
        out.append(x)
    return out


def _evaluate(f, args):
    with no_grad():
        y = as_variable(f(*args)).data
    return get_array_module(y).array(y, dtype=np.float64)  # a copy: y may be a view of an input


def numerical_grad(f, inputs, gy=None, eps=1e-6):
    """Central differences of sum(f(*inputs) * gy) for each float input (None for the others).

    `inputs` is an array or a tuple of arrays/Variables; they are copied to float64 first.
    """
    args = _prepare(inputs)
    if gy is None:
        gy = get_array_module(*args).ones_like(_evaluate(f, args))
    gy = as_array(gy)
    grads = []
    for i, x in enumerate(args):
        if not _is_float(x):
            grads.append(None)
            continue
        g = get_array_module(x).zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for j in range(x.size):
            old = float(flat[j])
            flat[j] = old + eps
            y1 = _evaluate(f, args)
            flat[j] = old - eps
            y0 = _evaluate(f, args)
            flat[j] = old
            gflat[j] = ((y1 - y0) * gy).sum() / (2 * eps)
        grads.append(g)
    return grads


def _copy(x):
    return x.copy() if hasattr(x, "copy") and hasattr(x, "dtype") else x


def _same(a, b):
    if not hasattr(a, "dtype"):
        return True
    return bool(as_numpy(a).shape == as_numpy(b).shape and
                np.array_equal(as_numpy(a), as_numpy(b), equal_nan=a.dtype.kind in "fc"))


def check_gradients(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare fn's analytic gradients with finite differences.

    Returns a dict: checked (number of float inputs), max_abs, max_rel, and error (None or a message).
    """
    originals = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    before = [_copy(as_array(x)) for x in originals]
    args = _prepare(inputs)
    snapshot = [_copy(a) for a in args]
    report = {"checked": 0, "max_abs": 0.0, "max_rel": 0.0, "error": None}
    floats = [i for i, a in enumerate(args) if _is_float(a)]
    if not floats:
        report["error"] = "no floating point input to check"
        return report
    variables = [Variable(a) if i in floats else a for i, a in enumerate(args)]
    y = as_variable(fn(*variables))
    if y.dtype.kind != "f":
        report["error"] = f"fn returned dtype {y.dtype}, expected a floating point output"
        return report
    xp = get_array_module(y)
    rng = np.random.default_rng(seed)
    # A random upstream gradient, never all ones: a backward that ignores gy must fail.
    gy = xp.asarray(rng.uniform(0.5, 1.5, y.shape) * rng.choice([-1.0, 1.0], y.shape))
    analytic = grad(y, [variables[i] for i in floats], gy)
    for k, a in enumerate(args):
        if not _same(a, snapshot[k]):
            report["error"] = f"fn modified its input {k} in place"
            return report
    numeric = numerical_grad(fn, args, gy, eps)
    for i, a in zip(floats, analytic):
        n = numeric[i]
        a = xp.zeros_like(n) if a is None else a.data
        report["checked"] += 1
        if a.shape != n.shape or a.dtype != n.dtype:
            report["error"] = (f"input {i}: gradient has shape {a.shape} and dtype {a.dtype}, "
                               f"expected {n.shape} and {n.dtype}")
            return report
        a, n = as_numpy(a), as_numpy(n)
        diff = np.abs(a - n)
        if diff.size:
            report["max_abs"] = max(report["max_abs"], float(np.nanmax(diff)))
            report["max_rel"] = max(report["max_rel"], float(np.nanmax(diff / (np.abs(n) + atol))))
        bad = ~(diff <= atol + rtol * np.abs(n))
        if bad.any() and report["error"] is None:
            j = np.unravel_index(np.argmax(np.where(bad, diff, -1.0)), a.shape) if a.ndim else ()
            report["error"] = (f"gradient mismatch for input {i} at index {tuple(int(t) for t in j)}: "
                               f"numerical {float(n[j])!r}, analytical {float(a[j])!r} "
                               f"(|a - n| <= {atol} + {rtol} * |n| fails)")
    for k, x in enumerate(originals):
        if not _same(as_array(x), before[k]):
            report["error"] = f"fn modified the caller's input {k}"
    return report


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check fn's backward against central differences at `inputs` (a tuple of arrays/Variables).

    Float inputs are copied to float64 and all of them are checked with a random upstream gradient;
    integer inputs pass through untouched. Raises GradcheckError on mismatch (or returns False).
    """
    report = check_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol)
    return _verdict(report, raise_exception)


def _verdict(report, raise_exception):
    if report["error"] is None:
        return True
    if raise_exception:
        raise GradcheckError(report["error"])
    return False


def gradient_function(fn, inputs, index):
    """The function (*inputs, gy) -> d(sum(fn(*inputs) * gy))/d(inputs[index]), built with create_graph."""
    def grad_fn(*args):
        *xs, gy = args
        xs = [Variable(x) if _is_float(x) and not isinstance(x, Variable) else x for x in xs]
        with using_config("enable_backprop", True):
            y = as_variable(fn(*xs))
            g = grad(y, [xs[index]], gy, create_graph=True)[0]
        if g is None:
            return Variable(get_array_module(y).zeros_like(xs[index].data))
        return g
    return grad_fn


def check_second_gradients(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, seed=1):
    """check_gradients on the gradient of fn with respect to each float input (and gy)."""
    args = _prepare(inputs)
    with no_grad():
        y = as_variable(fn(*[Variable(a) if _is_float(a) else a for a in args]))
    rng = np.random.default_rng(seed)
    gy = get_array_module(y).asarray(rng.uniform(-1.0, 1.0, y.shape))
    total = {"checked": 0, "max_abs": 0.0, "max_rel": 0.0, "error": None}
    for i, a in enumerate(args):
        if not _is_float(a):
            continue
        report = check_gradients(gradient_function(fn, args, i), (*args, gy), eps=eps, atol=atol,
                                 rtol=rtol, seed=seed + i)
        total["checked"] += 1
        total["max_abs"] = max(total["max_abs"], report["max_abs"])
        total["max_rel"] = max(total["max_rel"], report["max_rel"])
        if report["error"] is not None and total["error"] is None:
            total["error"] = f"second derivative through input {i}: {report['error']}"
    return total


def gradgradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of fn's gradients (built with create_graph=True) with respect to inputs and gy."""
    report = check_second_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol)
    return _verdict(report, raise_exception)
