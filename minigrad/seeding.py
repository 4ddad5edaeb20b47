"""Repeatable runs: mg.seed, and the global generators' state as plain data for training checkpoints."""
import sys

import numpy as np

from minigrad.shapes import check_size


def seed(n):
    """Seed everything minigrad draws from: NumPy's global generator (initial weights, dropout on the CPU, and
    DataLoader shuffling without seed=) and, when CuPy is imported, CuPy's (dropout on a GPU)."""
    n = check_size(n, "seed", "n", least=0)
    np.random.seed(n)
    cupy = sys.modules.get("cupy")
    if cupy is not None and hasattr(cupy, "random") and hasattr(cupy.random, "seed"):
        cupy.random.seed(n)


def rng_state():
    """NumPy's global generator state as (JSON-able settings, the 624 key words)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}, keys


def check_rng_state(meta, keys):
    """A function that restores NumPy's global generator to (meta, keys) from rng_state(), checked first."""
    if meta.get("kind") != "MT19937" or keys is None or keys.shape != (624,) or keys.dtype != np.uint32:
        raise ValueError("load_checkpoint: the random generator's state is damaged (expected MT19937 with 624 "
                         "uint32 keys)")
    state = ("MT19937", keys, int(meta["pos"]), int(meta["has_gauss"]), float(meta["gauss"]))
    return lambda: np.random.set_state(state)
