"""DeZero's dezero.datasets: Dataset, Spiral, SinCurve, and MNIST read from the files in ~/.dezero."""
import os

import numpy as np

from minigrad import data
from minigrad.data import Dataset, SinCurve, Spiral  # noqa: F401
from minigrad.dezero.transforms import Compose, Flatten, Normalize, ToFloat



def get_spiral(train=True):
    """(x, t) of DeZero's spiral dataset: 300 points of 3 arms."""
    s = Spiral(train=train)
    return s.data, s.label


class MNIST(Dataset):
    """DeZero's MNIST(train=True, transform=Compose([Flatten(), ToFloat(), Normalize(0., 255.)])): the images as
    uint8 (N, 1, 28, 28), transformed per item, read from the IDX files in ~/.dezero, where DeZero downloads them
    (minigrad.data.MNIST(root) fetches them when missing and allowed)."""

    def __init__(self, train=True, transform=Compose([Flatten(), ToFloat(), Normalize(0.0, 255.0)]),
                 target_transform=None):
        self.train = train
        self.transforms(transform, target_transform)
        images, labels = (os.path.join(os.path.expanduser("~"), ".dezero", name) for name in data.MNIST.files[train])
        for path in (images, labels):
            if not os.path.exists(path):
                raise FileNotFoundError(f"MNIST: {path} is missing; DeZero downloads it there, minigrad does not: "
                                        f"copy it in, or use minigrad.data.MNIST(root) which can download")
        self.data = data.read_idx(images, ndim=3)[:, None]
        self.label = data.read_idx(labels, ndim=1).astype(np.int64)

    @staticmethod
    def labels():
        return {i: str(i) for i in range(10)}
