"""Transforms for dataset items (DeZero's): Compose, Normalize, Flatten, AsType, ToFloat, ToInt."""
import numpy as np


class Compose:
    """Apply the transforms in order; Compose() is the identity."""

    def __init__(self, transforms=()):
        self.transforms = list(transforms)
        for i, f in enumerate(self.transforms):
            if not callable(f) or isinstance(f, type):
                raise TypeError(f"Compose: transform {i} is {f!r}, expected a callable such as Normalize()")

    def __call__(self, x):
        for f in self.transforms:
            x = f(x)
        return x


class Normalize:
    """(x - mean) / std; a sequence of per-channel values applies along the first axis of (C, H, W) items."""

    def __init__(self, mean=0.0, std=1.0):
        self.mean, self.std = mean, std
        if np.any(np.asarray(std) == 0):
            raise ValueError(f"Normalize: std must not be 0, got {std!r}")

    def __call__(self, x):
        mean, std = np.asarray(self.mean), np.asarray(self.std)
        for name, a in (("mean", mean), ("std", std)):
            if a.ndim > 1 or a.ndim and (not np.ndim(x) or a.size not in (1, x.shape[0])):
                raise ValueError(f"Normalize: {name} has {a.size} values per channel but the item has shape "
                                 f"{np.shape(x)}; expected one value per channel along its first axis (C, H, W)")
        if mean.ndim or std.ndim:  # per channel: (C,) against (C, H, W)
            shape = (-1,) + (1,) * (x.ndim - 1)
            mean, std = mean.reshape(shape) if mean.ndim else mean, std.reshape(shape) if std.ndim else std
        return ((x - mean) / std).astype(x.dtype, copy=False) if x.dtype.kind == "f" else (x - mean) / std


class Flatten:
    """x as a 1-D array."""

    def __call__(self, x):
        return x.reshape(-1)


class AsType:
    """x cast to dtype (float32 by default)."""

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)

    def __call__(self, x):
        return np.asarray(x).astype(self.dtype)


ToFloat = AsType


class ToInt(AsType):
    def __init__(self, dtype=np.int64):
        super().__init__(dtype)
