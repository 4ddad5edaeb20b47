"""A strict stand-in for CuPy in the tests: NumPy underneath, CuPy's rules on top (docs/design.md#adding-a-backend).

Never installed for users: the tests put it in place of `cupy` only where no real CuPy with a GPU is found.
The rules it enforces, from CuPy's documentation and source:
- `cupy.ndarray` is not a `numpy.ndarray`, and the two never convert implicitly: `__array__` raises, NumPy
  functions reject it (`__array_function__`, `__array_ufunc__`), and NumPy arrays of any rank, 0-d included,
  are rejected as operands of CuPy's ufuncs and operators. Python and NumPy scalars are accepted.
- Reductions and integer indexing return 0-d arrays, never scalars; `a.data` is a memory pointer, not the array.
- Integer array indices wrap around (CuPy does not check bounds on the device).
- Host synchronisations (`float`, `int`, `bool`, `item`, `tolist`, `get`, `asnumpy`) are counted in `SYNCS`,
  and operations that would launch a kernel (arithmetic, ufuncs, reductions, copies, indexing) in `LAUNCHES`.
"""
import builtins
import collections
import contextlib
import operator

import numpy

SYNCS = collections.Counter()  # kind -> number of host synchronisations since the last reset
LAUNCHES = collections.Counter()  # operation -> number of device operations (kernel launches) since the last reset


class MemoryPointer:
    """What `ndarray.data` is in CuPy: a device pointer, not an array."""

    def __init__(self, ptr):
        self.ptr = ptr


class Device:
    def __init__(self, id=0):
        self.id = id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _unwrap(x):
    """The NumPy array under an ndarray (also inside a list or tuple); scalars and shapes pass; NumPy arrays
    are refused, as CuPy does."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(v, (ndarray, numpy.ndarray)) for v in x):
        return [_unwrap(v) for v in x]
    return x


def _wrap(y):
    if isinstance(y, (tuple, list)):
        return type(y)(_wrap(v) for v in y)
    if isinstance(y, (numpy.ndarray, numpy.generic)):
        return ndarray._of(numpy.asarray(y))
    return y


def _index(key, shape):
    """An index for the NumPy array: device index arrays unwrapped, host ones taken as CuPy copies them,
    integer arrays wrapped around the axis they index (CuPy does not raise on the device)."""
    items = key if isinstance(key, tuple) else (key,)
    out, axis = [], 0
    for k in items:
        if isinstance(k, ndarray):
            k = k._a
        elif isinstance(k, list):
            k = numpy.asarray(k)
        if isinstance(k, numpy.ndarray) and k.dtype.kind in "iu" and axis is not None and axis < len(shape) \
                and shape[axis]:
            k = k % shape[axis]
        out.append(k)
        if k is Ellipsis or (isinstance(k, numpy.ndarray) and k.dtype == bool):
            axis = None  # where later indices land is no longer counted: they are not wrapped
        elif k is not None and axis is not None:
            axis += 1
    return tuple(out) if isinstance(key, tuple) else out[0]


class ndarray:
    """An array on the (pretend) device."""

    __array_priority__ = 100

    def __init__(self, shape, dtype=float):
        self._a = numpy.empty(shape, dtype)

    @classmethod
    def _of(cls, a):
        v = cls.__new__(cls)
        v._a = a
        return v

    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))
    data = property(lambda self: MemoryPointer(self._a.ctypes.data))
    device = property(lambda self: Device(0))

    @property
    def base(self):
        return None if self._a.base is None else _wrap(self._a.base)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
                        "NumPy array explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} does not take cupy.ndarray (use cupy.{func.__name__})")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(f"numpy.{ufunc.__name__} does not take cupy.ndarray (use cupy.{ufunc.__name__})")

    @property
    def __cuda_array_interface__(self):
        """The CUDA array interface (version 3): where the data lives, as numba reads it. Here the pointer is
        to host memory, which numba's CUDA simulator runs kernels on."""
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "data": (a.ctypes.data, False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides}

    # -- host synchronisation
    def get(self, stream=None):
        SYNCS["get"] += 1
        return self._a.copy()

    def item(self):
        SYNCS["item"] += 1
        return self._a.item()

    def tolist(self):
        SYNCS["tolist"] += 1
        return self._a.tolist()

    def __float__(self):
        SYNCS["float"] += 1
        return float(self._a)

    def __int__(self):
        SYNCS["int"] += 1
        return int(self._a)

    def __index__(self):
        SYNCS["int"] += 1
        return operator.index(self._a)

    def __bool__(self):
        SYNCS["bool"] += 1
        return bool(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(self._a[i]) for i in range(len(self._a)))

    def __repr__(self):
        return repr(self._a).replace("array", "cupy_standin_array", 1)

    __str__ = lambda self: str(self._a)  # noqa: E731 - printing is a sync CuPy also does; not counted

    # -- indexing
    def __getitem__(self, key):
        y = self._a[_index(key, self._a.shape)]
        if not isinstance(y, numpy.ndarray) or y.base is None:  # a view launches nothing
            LAUNCHES["getitem"] += 1
        return _wrap(y)

    def __setitem__(self, key, value):
        LAUNCHES["setitem"] += 1
        self._a[_index(key, self._a.shape)] = _unwrap(value)

    # -- methods
    def reshape(self, *shape, order="C"):
        return _wrap(self._a.reshape(*shape, order=order))

    def transpose(self, *axes):
        return _wrap(self._a.transpose(*axes))

    def astype(self, dtype, copy=True, **kwargs):
        y = self._a.astype(dtype, copy=copy)
        LAUNCHES["astype"] += y is not self._a
        return _wrap(y)

    def copy(self, order="C"):
        LAUNCHES["copy"] += 1
        return _wrap(self._a.copy(order=order))

    def ravel(self):
        return _wrap(self._a.ravel())

    def fill(self, value):
        self._a.fill(_unwrap(value))

    def view(self, dtype=None):
        return _wrap(self._a.view() if dtype is None else self._a.view(dtype))

    def __getattr__(self, name):
        if name in _METHODS:
            method = getattr(self._a, name)
            return lambda *args, **kwargs: _call(method, args, kwargs)
        raise AttributeError(f"cupy.ndarray stand-in has no attribute {name!r}")


def _call(fn, args, kwargs):
    """fn on the unwrapped arguments (NumPy arrays refused), with `out=` written in place; results wrapped."""
    args = [_unwrap(a) for a in args]
    out = kwargs.get("out")
    kwargs = {k: (_unwrap(v) if k != "out" else v) for k, v in kwargs.items()}
    if isinstance(out, ndarray):
        kwargs["out"] = out._a
    elif isinstance(out, tuple):
        kwargs["out"] = tuple(o._a for o in out)
    elif out is not None:
        raise TypeError(f"out must be a cupy.ndarray, got {type(out)}")
    y = fn(*args, **kwargs)
    if not (fn is numpy.ascontiguousarray and y is args[0]):  # returning its input launches nothing
        LAUNCHES[getattr(fn, "__name__", "call")] += 1
    if out is not None:
        return out
    return _wrap(y)


_METHODS = {"sum", "max", "min", "mean", "prod", "argmax", "argmin", "all", "any", "clip", "nonzero", "squeeze",
            "swapaxes", "flatten", "cumsum", "var", "std", "dot", "take", "repeat", "round"}


def _binary(op, reflected=False):
    def method(self, other):
        if isinstance(other, numpy.ndarray) or not isinstance(other, (ndarray, int, float, bool, complex,
                                                                      numpy.generic)):
            if isinstance(other, numpy.ndarray):
                raise TypeError(f"Unsupported type {type(other)}")
            return NotImplemented
        a, b = self._a, _unwrap(other)
        LAUNCHES[op.__name__] += 1
        return _wrap(op(b, a) if reflected else op(a, b))
    return method


def _inplace(op):
    def method(self, other):
        LAUNCHES[op.__name__] += 1
        op(self._a, _unwrap(other))
        return self
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name, _op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                   ("gt", operator.gt), ("ge", operator.ge)]:
    setattr(ndarray, f"__{_name}__", _binary(_op))
ndarray.__neg__ = lambda self: _wrap(-self._a)
ndarray.__abs__ = lambda self: _wrap(numpy.abs(self._a))
ndarray.__invert__ = lambda self: _wrap(~self._a)
ndarray.__hash__ = None


# -- creation and transfer
def asarray(a, dtype=None, order=None, copy=None):
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return ndarray._of(numpy.array(a, dtype=dtype, copy=True))


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    if isinstance(a, ndarray):
        return _wrap(numpy.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return ndarray._of(numpy.array(a, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asnumpy(a, stream=None):
    if isinstance(a, ndarray):
        return a.get()
    return numpy.asarray(a)


def get_array_module(*args):
    return __import__(__name__) if builtins.any(isinstance(a, ndarray) for a in args) else numpy


def _creation(fn):
    def create(*args, **kwargs):
        LAUNCHES[fn.__name__] += fn is not numpy.empty
        return _wrap(fn(*args, **kwargs))
    return create


def _like(fn):
    def create(a, *args, **kwargs):
        LAUNCHES[fn.__name__] += fn is not numpy.empty_like
        return _wrap(fn(_unwrap(a), *args, **kwargs))
    return create


empty, zeros, ones, full, arange, eye, linspace = map(_creation, (numpy.empty, numpy.zeros, numpy.ones, numpy.full,
                                                                  numpy.arange, numpy.eye, numpy.linspace))
empty_like, zeros_like, ones_like, full_like = map(_like, (numpy.empty_like, numpy.zeros_like, numpy.ones_like,
                                                           numpy.full_like))

# Functions that take and return arrays: NumPy's, on the unwrapped arguments. (They shadow the builtins
# sum, max, min, abs, all and any in this module: code above this line uses builtins.* where it needs those.)
_FUNCTIONS = ["exp", "log", "log1p", "expm1", "sqrt", "tanh", "sin", "cos", "abs", "absolute", "sign", "negative",
              "reciprocal", "square", "maximum", "minimum", "add", "subtract", "multiply", "divide", "true_divide",
              "power", "hypot", "isinf", "isnan", "isfinite", "logical_and", "logical_or", "logical_not", "equal",
              "not_equal", "less", "less_equal", "greater", "greater_equal", "where", "clip", "matmul", "dot",
              "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "prod", "all", "any", "broadcast_to",
              "reshape", "transpose", "moveaxis", "swapaxes", "concatenate", "stack", "split", "nonzero",
              "count_nonzero", "einsum", "tensordot", "outer", "exp2", "log2", "floor", "ceil", "argsort", "sort",
              "cumsum", "squeeze", "expand_dims", "fabs", "ascontiguousarray", "pad", "copyto", "triu", "tril"]


def _function(name):
    fn = getattr(numpy, name)

    def call(*args, **kwargs):
        return _call(fn, args, kwargs)
    call.__name__ = name
    return call


for _name in _FUNCTIONS:
    globals()[_name] = _function(_name)


def put_along_axis(arr, indices, values, axis):
    LAUNCHES["put_along_axis"] += 1
    numpy.put_along_axis(arr._a, _unwrap(indices) % arr.shape[axis], _unwrap(values), axis)


def take_along_axis(arr, indices, axis):  # indices wrap around: CuPy does not check them
    LAUNCHES["take_along_axis"] += 1
    return _wrap(numpy.take_along_axis(arr._a, _unwrap(indices) % arr.shape[axis], axis))


# -- dtypes and submodules
float16, float32, float64, int8, int16, int32, int64 = (numpy.float16, numpy.float32, numpy.float64, numpy.int8,
                                                        numpy.int16, numpy.int32, numpy.int64)
uint8, intp, bool_, dtype, newaxis, inf, nan, pi = (numpy.uint8, numpy.intp, numpy.bool_, numpy.dtype,
                                                    numpy.newaxis, numpy.inf, numpy.nan, numpy.pi)
errstate = numpy.errstate


class _Random:
    """cupy.random: draws on the device (from NumPy's generator here)."""

    def __init__(self):
        self._rng = numpy.random.default_rng(0)

    def seed(self, seed=None):
        self._rng = numpy.random.default_rng(seed)

    def random(self, size=None, dtype=float):
        return _wrap(self._rng.random(size).astype(dtype))

    def standard_normal(self, size=None, dtype=float):
        return _wrap(self._rng.standard_normal(size).astype(dtype))

    def default_rng(self, seed=None):
        r = _Random()
        r.seed(seed)
        return r


random = _Random()


class _StrideTricks:
    """cupy.lib.stride_tricks: a view with the given shape and strides (in bytes), no launch."""

    @staticmethod
    def as_strided(x, shape=None, strides=None):
        if not isinstance(x, ndarray):
            raise TypeError(f"as_strided takes a cupy.ndarray, got {type(x)}")
        return _wrap(numpy.lib.stride_tricks.as_strided(x._a, shape, strides))


class _Lib:
    stride_tricks = _StrideTricks()


lib = _Lib()


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return 1

    @staticmethod
    def deviceSynchronize():
        SYNCS["synchronize"] += 1


class _MemoryPool:
    """CuPy's memory pool, without memory to account for: every figure is 0."""

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


class _Cuda:
    runtime = _Runtime()
    Device = Device

    @staticmethod
    @contextlib.contextmanager
    def Stream(*args, **kwargs):
        yield


cuda = _Cuda()
__version__ = "14.0.0-standin"
