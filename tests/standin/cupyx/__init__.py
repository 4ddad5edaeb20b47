"""cupyx for the CuPy stand-in: scatter_add, which accumulates repeated indices (docs/design.md#adding-a-backend)."""
import cupy
import numpy


def scatter_add(a, slices, value):
    """a[slices] += value with repeated indices accumulated, in place."""
    numpy.add.at(a._a, cupy._index(slices, a.shape), cupy._unwrap(value))
