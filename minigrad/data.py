"""Datasets (Spiral, SinCurve, Digits, MNIST, FashionMNIST) and the loaders that batch them."""
import gzip
import os
import zlib

import numpy as np

from minigrad.backend import as_cupy
from minigrad.shapes import check_real, check_size


class Dataset:
    """Arrays `data` (N, ...) and `label` (N, ...): dataset[i] is (transform(data[i]), target_transform(label[i]))
    (each transform None, or a callable such as minigrad.transforms.Normalize())."""

    data = label = transform = target_transform = None

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        x, t = self.data[index], self.label[index]
        return (x if self.transform is None else self.transform(x),
                t if self.target_transform is None else self.target_transform(t))

    def transforms(self, transform, target_transform):
        for name, f in (("transform", transform), ("target_transform", target_transform)):
            if f is not None and (not callable(f) or isinstance(f, type)):
                raise TypeError(f"{type(self).__name__}: {name} must be a callable such as Normalize(), got {f!r}")
        self.transform, self.target_transform = transform, target_transform


class Spiral(Dataset):
    """The spiral of DeZero: num_class arms of num_data 2-D points each; labels are the arm (int64)."""

    def __init__(self, train=True, num_data=100, num_class=3, transform=None, target_transform=None):
        num_data, num_class = check_size(num_data, "Spiral", "num_data"), check_size(num_class, "Spiral", "num_class")
        self.transforms(transform, target_transform)
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


class SinCurve(Dataset):
    """DeZero's sequence: y = sin(x) plus uniform noise in [-0.05, 0.05] (train) or cos(x) (test) at 1,000 points
    of [0, 2 pi]; data[i] = y[i] and label[i] = y[i + 1], each of shape (1,)."""

    def __init__(self, train=True, num_data=1000, seed=0, transform=None, target_transform=None):
        num_data = check_size(num_data, "SinCurve", "num_data", least=2)  # pairs of consecutive points
        self.transforms(transform, target_transform)
        x = np.linspace(0, 2 * np.pi, num_data)
        y = np.sin(x) + np.random.default_rng(seed).uniform(-0.05, 0.05, x.shape) if train else np.cos(x)
        self.data, self.label = y[:-1, None], y[1:, None]


class Digits(Dataset):
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, read offline), pixels scaled to
    [0, 1] as float32 vectors of 64; a fixed, stratified-by-shuffle split of test_ratio for testing."""

    def __init__(self, train=True, test_ratio=0.2, seed=0, transform=None, target_transform=None):
        check_real(test_ratio, "Digits", "test_ratio", lambda v: 0 <= v < 1, "in [0, 1)")
        self.transforms(transform, target_transform)
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

    def __init__(self, root, train=True, download=True, flatten=True, transform=None, target_transform=None):
        self.transforms(transform, target_transform)
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
    """Batches (x, t) of a dataset, reshuffled every epoch when shuffle is True; gpu=True gives CuPy arrays.

    An iterator as in DeZero: `for x, t in loader` runs one epoch (starting afresh), `loader.next()` gives the
    next batch (StopIteration at the end of an epoch, after which the next epoch begins), `reset()` starts over.
    """

    def __init__(self, dataset, batch_size, shuffle=True, gpu=False, seed=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be an integer of at least 1, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.gpu = dataset, int(batch_size), shuffle, gpu
        # seed=None: NumPy's global generator, as DeZero's DataLoader (np.random.seed / mg.seed make it repeat)
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.reset()

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def reset(self):
        """Start a new epoch (a new order when shuffling)."""
        self.iteration = 0
        n = len(self.dataset)
        self.order = (self.rng or np.random).permutation(n) if self.shuffle else np.arange(n)

    def state_dict(self):
        """The position in the epoch: {'iteration', 'order' (the epoch's order), 'rng' (an own generator's state,
        or None when the loader draws from NumPy's global one, which the checkpoint saves)}."""
        return {"iteration": self.iteration, "order": self.order.copy(),
                "rng": None if self.rng is None else self.rng.bit_generator.state}

    def load_state_dict(self, sd):
        self.prepare_load(sd)()

    def prepare_load(self, sd):
        """Check sd against this loader (dataset length, own generator or not); a function that applies it."""
        me = type(self).__name__
        order, it = np.asarray(sd["order"]), sd["iteration"]
        if order.shape != (len(self.dataset),) or order.dtype.kind not in "iu":
            raise ValueError(f"{me}.load_state_dict: an order of shape {order.shape} for a dataset of "
                             f"{len(self.dataset)}")
        if not isinstance(it, int) or not 0 <= it <= len(self):
            raise ValueError(f"{me}.load_state_dict: iteration {it!r} is outside [0, {len(self)}]")
        if (sd["rng"] is None) != (self.rng is None):
            raise ValueError(f"{me}.load_state_dict: the state was saved from a loader "
                             f"{'without' if sd['rng'] is None else 'with'} seed=, this one is "
                             f"{'without' if self.rng is None else 'with'}")

        def apply():
            self.order, self.iteration = order.astype(np.int64), it
            if self.rng is not None:
                self.rng.bit_generator.state = sd["rng"]
        return apply

    def __iter__(self):
        if self.iteration:
            self.reset()
        return self

    def __next__(self):
        if self.iteration >= len(self):
            self.reset()
            raise StopIteration
        start = self.iteration * self.batch_size
        batch = self.batch(self.order[start:start + self.batch_size])
        self.iteration += 1
        return batch

    next = __next__

    def batch(self, index):
        """The items at index stacked into (x, t), on the GPU when gpu=True."""
        d = self.dataset
        plain = getattr(d, "transform", None) is None and getattr(d, "target_transform", None) is None
        if getattr(d, "data", None) is not None and plain:
            x, t = d.data[index], d.label[index]
        else:
            items = [d[int(i)] for i in index]
            x, t = np.stack([a for a, _ in items]), np.stack([b for _, b in items])
        return (as_cupy(x), as_cupy(t)) if self.gpu else (x, t)


class SeqDataLoader(DataLoader):
    """Batches for truncated BPTT (DeZero's): row i of each batch walks the sequence from offset
    i * (len // batch_size), one step per batch, so consecutive batches continue each row's subsequence."""

    def __init__(self, dataset, batch_size, gpu=False):
        super().__init__(dataset, batch_size, shuffle=False, gpu=gpu)
        if len(dataset) < self.batch_size:
            raise ValueError(f"SeqDataLoader: a sequence of {len(dataset)} is shorter than batch_size "
                             f"{self.batch_size}")

    def __next__(self):
        if self.iteration >= len(self):
            self.reset()
            raise StopIteration
        n = len(self.dataset)
        jump = n // self.batch_size
        batch = self.batch(np.array([(i * jump + self.iteration) % n for i in range(self.batch_size)]))
        self.iteration += 1
        return batch

    next = __next__
