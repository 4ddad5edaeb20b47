"""DeZero's dezero.cuda: gpu_enable, get_array_module, as_numpy, as_cupy over minigrad's backend."""
from minigrad import backend
from minigrad.core import Variable

gpu_enable = backend.gpu_available()


def get_array_module(x):
    """numpy or cupy for x (an array or a Variable), as DeZero's."""
    return backend.get_array_module(x.data if isinstance(x, Variable) else x)


def as_numpy(x):
    return backend.as_numpy(x.data if isinstance(x, Variable) else x)


def as_cupy(x):
    return backend.as_cupy(x.data if isinstance(x, Variable) else x)
