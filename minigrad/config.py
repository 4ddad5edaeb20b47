"""Global switches: whether graphs are recorded (no_grad) and train/test mode."""
import contextlib

import numpy as np


class Config:
    enable_backprop = True
    train = True
    default_dtype = np.float64  # dtype of Python floats and float lists turned into arrays
    check_values = True  # the losses check targets' values (one host synchronisation per check on a GPU)
    cuda_kernels = True  # fused losses on CuPy arrays run numba-cuda kernels where minigrad.cuda.usable()


@contextlib.contextmanager
def using_config(name, value):
    """Set Config.<name> to value inside a with-block, restoring it afterwards."""
    if not hasattr(Config, name) or name.startswith("_"):
        raise AttributeError(f"unknown config option {name!r}; "
                             f"expected one of enable_backprop, train, default_dtype, check_values, cuda_kernels")
    old = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old)


def no_grad():
    """Run a block without recording graphs (no gradients, less memory)."""
    return using_config("enable_backprop", False)


def test_mode():
    """Run a block in inference mode (Config.train = False), e.g. Dropout off."""
    return using_config("train", False)
