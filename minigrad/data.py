"""Datasets (Spiral, Digits, MNIST, FashionMNIST) and the DataLoader that batches them."""
import gzip
import os
import zlib

import numpy as np

from minigrad.backend import as_cupy


class Dataset:
    """Arrays `data` (N, ...) and `label` (N, ...): dataset[i] is (data[i], label[i])."""

    data = label = None

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index], self.label[index]


class Spiral(Dataset):
    """The spiral of DeZero: num_class arms of num_data 2-D points each; labels are the arm (int64)."""

    def __init__(self, train=True, num_data=100, num_class=3):
        rng = np.random.RandomState(1984 if train else 2020)
        x = np.zeros((num_data * num_class, 2), dtype=np.float32)
        t = np.zeros(num_data * num_class, dtype=np.int64)
        for j in range(num_class):
            for i in range(num_data):
                rate = i / num_data
                radius = 1.0 * rate
                theta = j * 4.0 + 4.0 * rate + rng.randn() * 0.2
                ix = num_data * j + i
                x[ix] = np.array([radius * np.sin(theta), radius * np.cos(theta)]).flatten()
                t[ix] = j
        order = rng.permutation(num_data * num_class)
        self.data, self.label = x[order], t[order]


class Digits(Dataset):
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, read offline), pixels scaled to
    [0, 1] as float32 vectors of 64; a fixed, stratified-by-shuffle split of test_ratio for testing."""

    def __init__(self, train=True, test_ratio=0.2, seed=0):
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:
            raise ImportError("Digits needs scikit-learn, which bundles the data: pip install scikit-learn "
                              "(or pip install -e '.[examples]')") from e
        digits = load_digits()
        x, t = (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)
        order = np.random.RandomState(seed).permutation(len(x))
        n_test = int(round(len(x) * test_ratio))
        keep = order[n_test:] if train else order[:n_test]
        self.data, self.label = x[keep], t[keep]


class _IDX(Dataset):
    """Images and labels from the standard IDX gzip files in `root` (downloaded when missing and allowed)."""

    urls = ()
    files = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

    def __init__(self, root, train=True, download=True, flatten=True):
        images, labels = (os.path.join(root, name) for name in self.files[train])
        for path in (images, labels):
            if not os.path.exists(path):
                self._download(path, download)
        x = read_idx(images, ndim=3).astype(np.float32) / 255.0
        self.data = x.reshape(len(x), -1) if flatten else x[:, None]
        self.label = read_idx(labels, ndim=1).astype(np.int64)
        if len(self.data) != len(self.label):
            raise ValueError(f"{type(self).__name__}: {images} has {len(self.data)} images but {labels} has "
                             f"{len(self.label)} labels; expected as many of each")

    def _download(self, path, allowed):
        name = os.path.basename(path)
        where = f"put {name} into {os.path.dirname(path) or '.'}"
        if not allowed:
            raise FileNotFoundError(f"{type(self).__name__}: {path} is missing and download=False; {where}")
        import urllib.request  # only here: it costs a fifth of `import minigrad`
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        errors = []
        for base in self.urls:
            try:
                with urllib.request.urlopen(base + name, timeout=30) as r:
                    content = r.read()
                with open(path, "wb") as f:
                    f.write(content)
                return
            except OSError as e:
                errors.append(f"{base + name}: {e}")
        raise RuntimeError(f"{type(self).__name__}: could not download {name} ({'; '.join(errors)}); "
                           f"without network access, {where}")


def read_idx(path, ndim=None):
    """An array from an IDX file (gzip-compressed or not): magic 0x0000 TT DD, then DD big-endian sizes.

    ValueError naming the file for a corrupt or truncated gzip stream, a bad magic number, a header that does
    not match the data, or (given ndim) a number of dimensions other than ndim."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable gzip file ({type(e).__name__}: {e}); expected a complete "
                         f"gzip-compressed IDX file, download it again") from None
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()}; expected 0000 then a "
                         f"type code and the number of dimensions)")
    ndim_found = raw[3]
    if ndim is not None and ndim_found != ndim:
        raise ValueError(f"{path}: the IDX header says {ndim_found} dimensions (magic {raw[:4].hex()}), "
                         f"expected {ndim} (magic 0000080{ndim})")
    if len(raw) < 4 + 4 * ndim_found:
        raise ValueError(f"{path}: the IDX header is cut short: {len(raw)} bytes, expected at least "
                         f"{4 + 4 * ndim_found} for {ndim_found} sizes")
    ndim = ndim_found
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[raw[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has {len(raw)}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(_IDX):
    """MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28, as float32 in [0, 1]."""

    urls = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")


class FashionMNIST(_IDX):
    """Fashion-MNIST: Zalando's 28x28 clothing images, the same format and sizes as MNIST."""

    urls = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


class DataLoader:
    """Batches (x, t) of a dataset, reshuffled every epoch when shuffle is True; gpu=True gives CuPy arrays."""

    def __init__(self, dataset, batch_size, shuffle=True, gpu=False, seed=None):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.gpu = dataset, batch_size, shuffle, gpu
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        arrays = getattr(self.dataset, "data", None) is not None
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            if arrays:
                x, t = self.dataset.data[index], self.dataset.label[index]
            else:
                items = [self.dataset[int(i)] for i in index]
                x, t = np.stack([a for a, _ in items]), np.stack([b for _, b in items])
            yield (as_cupy(x), as_cupy(t)) if self.gpu else (x, t)
