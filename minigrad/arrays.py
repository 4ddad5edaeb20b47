"""User data as arrays; what NumPy may do with a Variable (its operators yes, other ufuncs no); moving its arrays."""
import numpy as np

from minigrad import backend
from minigrad.config import Config

NUMERIC = "fbiu"  # the dtype kinds a Variable holds: floats, bools, integers


def to_array(data, what="Variable data"):
    """User data (array, number, nested list of numbers) as an array; TypeError naming `what` otherwise."""
    if type(data) is np.ndarray or backend.is_array(data):  # a plain ndarray first: the common case
        a = data
    elif isinstance(data, np.generic):
        a = np.asarray(data)
    elif isinstance(data, (bool, int, float)):
        a = np.asarray(data, dtype=Config.default_dtype if isinstance(data, float) else None)
    elif isinstance(data, (list, tuple)):
        try:
            a = np.asarray(data)
        except ValueError as e:
            raise TypeError(f"{what} must be a rectangular nested list of numbers: {e}") from None
        if a.dtype.kind == "f":
            a = a.astype(Config.default_dtype, copy=False)
    else:
        raise TypeError(f"{what} must be an ndarray, a number or a nested list of numbers, "
                        f"got {type(data).__name__}")
    if a.dtype.kind not in NUMERIC:
        raise TypeError(f"{what} must hold real numbers (bool, integer or floating dtype), got dtype {a.dtype}")
    return a


# NumPy ufuncs that Python operators call: np.ones(3) * x ends up here, and becomes x.__rmul__(np.ones(3)).
OPERATORS = {np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
             np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
             np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
             np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
             np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
             np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__")}


class NumpyFace:
    """What a Variable shows NumPy and Python: operators, and one-element conversions (float(x), x.item(),
    f"{x:.4f}"); other ufuncs and np.asarray(x) raise TypeError saying what to use instead."""

    __slots__ = ()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        names = OPERATORS.get(ufunc)
        if names is None or method != "__call__" or kwargs or len(inputs) != 2:
            raise TypeError(f"numpy.{ufunc.__name__} does not take Variables: use minigrad.functions "
                            f"(F.{ufunc.__name__}(x), recorded for backward) or x.data for the array")
        a, b = inputs
        return getattr(a, names[0])(b) if isinstance(a, NumpyFace) else getattr(b, names[1])(a)

    # Comparisons give plain arrays (nothing to differentiate); hashing stays by identity.
    def __eq__(self, other): return self.data == _plain(other)
    def __ne__(self, other): return self.data != _plain(other)
    def __lt__(self, other): return self.data < _plain(other)
    def __le__(self, other): return self.data <= _plain(other)
    def __gt__(self, other): return self.data > _plain(other)
    def __ge__(self, other): return self.data >= _plain(other)
    __hash__ = object.__hash__

    def __repr__(self):
        if self.data is None:  # a lazily sized Parameter
            return f"parameter(None, name={self.name!r})"
        body = str(self.data).replace("\n", "\n" + " " * 9)
        extra = "" if self.data.dtype == np.float64 else f", dtype={self.data.dtype}"
        extra += "" if self.name is None else f", name={self.name!r}"
        extra += "" if self.creator is None else f", creator={type(self.creator).__name__}"
        return f"variable({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        raise TypeError("a Variable is not an array: np.asarray(x), np.mean(x) and the like would drop the "
                        "graph; use minigrad.functions (F.mean(x)) or x.data for the array")

    def item(self):
        """The one element as a Python number (float(x) and int(x) work too)."""
        return _item(self.data)

    def __float__(self):
        return float(_item(self.data, "float"))

    def __int__(self):
        return int(_item(self.data, "int"))

    def __format__(self, spec):
        return format(float(self), spec) if spec else str(self)

    def to_cpu(self):
        """Move the data (and the gradient) to a NumPy array; returns self."""
        return self._move(backend.as_numpy)

    def to_gpu(self, device=None):
        """Move the data (and the gradient) to a CuPy array on GPU `device` (default: the current one);
        raises RuntimeError saying why without a GPU."""
        return self._move(lambda a: backend.as_cupy(a, device))

    def _move(self, convert):
        for v in (self, self.grad):
            data = None if v is None or v._data is None else convert(v._data)
            if data is not None and data is not v._data:
                v.data = data
        return self


def _plain(x):
    return x.data if isinstance(x, NumpyFace) else x


def _item(a, what="number"):
    """The one element of array a as a Python number; TypeError for other sizes."""
    if a.size != 1:
        raise TypeError(f"only a one-element Variable converts to a Python {what}, got shape {a.shape}")
    return a.reshape(()).item()
