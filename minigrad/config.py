"""Configuration switches, per thread and per async context: graph recording (no_grad), train/test mode, checks."""
import contextlib
import contextvars
import os

import numpy as np

_DEFAULTS = {
    "enable_backprop": True,  # record graphs for backward
    "train": True,  # training mode (Dropout active)
    "default_dtype": np.float64,  # dtype of Python floats and float lists turned into arrays
    "check_values": True,  # the losses check targets' values (one host synchronisation per check on a GPU)
    # the fused losses and transcendental ops on NumPy arrays run compiled kernels where numba is installed
    "cpu_kernels": os.environ.get("MINIGRAD_CPU_KERNELS", "1") != "0",
    "cuda_kernels": True,  # fused losses on CuPy arrays run numba-cuda kernels where minigrad.cuda.usable()
    "detect_anomaly": False,  # check every Function's outputs and gradients for NaN/inf (slow)
}
# Each option lives in a ContextVar holding a list: by default the process-wide list (which assignments to
# Config.<name> change in place), inside using_config a copy with the block's value. The two switches that
# every Function call reads share one list, read as MODE.get() -> [enable_backprop, detect_anomaly].
MODE = contextvars.ContextVar("minigrad.mode", default=[_DEFAULTS["enable_backprop"], _DEFAULTS["detect_anomaly"]])
_SLOTS = {"enable_backprop": (MODE, 0), "detect_anomaly": (MODE, 1)}
_SLOTS.update({name: (contextvars.ContextVar(f"minigrad.{name}", default=[value]), 0)
               for name, value in _DEFAULTS.items() if name not in _SLOTS})


def _option(name):
    var, i = _SLOTS[name]
    process_wide = var.get()

    def get(self):
        return var.get()[i]

    def set(self, value):
        process_wide[i] = value

    return property(get, set, doc=f"Config.{name}: the value in this thread/context")


class _Config:
    """Reading Config.<name> gives the value in the current thread (or asyncio task): the one set by an
    enclosing `using_config` in this thread, else the process-wide value. Assigning Config.<name> = value sets
    the process-wide value, seen by every thread outside its own using_config blocks."""

    __slots__ = ()

    def __setattr__(self, name, value):
        if name not in _DEFAULTS:
            raise AttributeError(_unknown(name))
        object.__setattr__(self, name, value)

    def __repr__(self):
        return "Config(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in _DEFAULTS) + ")"


def _unknown(name):
    return f"unknown config option {name!r}; expected one of {', '.join(_DEFAULTS)}"


for _name in _DEFAULTS:
    setattr(_Config, _name, _option(_name))
Config = _Config()


@contextlib.contextmanager
def using_config(name, value):
    """Set Config.<name> to value inside a with-block, in this thread (or asyncio task) only."""
    if name not in _DEFAULTS:
        raise AttributeError(_unknown(name))
    var, i = _SLOTS[name]
    values = list(var.get())
    values[i] = value
    token = var.set(values)
    try:
        yield
    finally:
        var.reset(token)


def no_grad():
    """Run a block without recording graphs (no gradients, less memory)."""
    return using_config("enable_backprop", False)


def test_mode():
    """Run a block in inference mode (Config.train = False), e.g. Dropout off."""
    return using_config("train", False)
