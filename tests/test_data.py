"""Datasets and the DataLoader: the spiral, IDX files, the bundled digits, batching (docs/design.md#layers)."""
import gzip
import struct

import numpy as np
import pytest

from minigrad import transforms as T
from minigrad.data import MNIST, DataLoader, Digits, FashionMNIST, SeqDataLoader, SinCurve, Spiral, read_idx


def test_spiral_has_three_arms_of_100_points():
    ds = Spiral()
    assert ds.data.shape == (300, 2) and ds.data.dtype == np.float32 and ds.label.dtype == np.int64
    assert np.bincount(ds.label).tolist() == [100, 100, 100]
    assert np.abs(ds.data).max() <= 1.0
    assert not np.array_equal(Spiral(train=False).data, ds.data)
    np.testing.assert_array_equal(Spiral().data, ds.data)  # deterministic


def test_dataloader_covers_every_sample_once_per_epoch():
    ds = Spiral()
    loader = DataLoader(ds, batch_size=64, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 5 and [len(t) for _, t in batches] == [64, 64, 64, 64, 44]
    seen = np.concatenate([x for x, _ in batches])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, ds.data))
    first = [t.tolist() for _, t in DataLoader(ds, 64, shuffle=False)][0]
    assert first == ds.label[:64].tolist()
    assert list(loader)[0][1].tolist() != batches[0][1].tolist()  # reshuffled every epoch
    with pytest.raises(ValueError, match="batch_size must be an integer of at least 1, got 0"):
        DataLoader(ds, 0)


def test_dataloader_stacks_generic_datasets():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 2

    (x, t), = DataLoader(Squares(), batch_size=5, shuffle=False)
    np.testing.assert_array_equal(x[:, 1], [0, 1, 4, 9, 16])
    np.testing.assert_array_equal(t, [0, 1, 0, 1, 0])


def write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_idx_datasets_read_the_standard_files(tmp_path, cls):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    ds = cls(str(tmp_path), train=False, download=False)
    assert ds.data.shape == (7, 784) and ds.data.dtype == np.float32
    np.testing.assert_allclose(ds.data, images.reshape(7, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.label, labels)
    assert cls(str(tmp_path), train=False, download=False, flatten=False).data.shape == (7, 1, 28, 28)


def test_idx_reader_checks_its_input(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(6, dtype=">i4").reshape(2, 3), code=0x0C)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "a.gz")), [[0, 1, 2], [3, 4, 5]])
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(str(tmp_path / "bad"))
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="says shape"):
        read_idx(str(tmp_path / "short.gz"))


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="put train-images-idx3-ubyte.gz into"):
        MNIST(str(tmp_path), download=False)


def test_digits_are_the_bundled_scikit_learn_images():
    pytest.importorskip("sklearn")
    train, test = Digits(), Digits(train=False)
    assert len(train) + len(test) == 1797 and len(test) == 359
    assert train.data.shape[1] == 64 and 0.0 <= train.data.min() and train.data.max() <= 1.0
    assert set(np.unique(test.label)) == set(range(10))


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "urls", ("http://127.0.0.1:9/",))  # nothing listens on the discard port
    with pytest.raises(RuntimeError, match="could not download train-images-idx3-ubyte.gz .* without network "
                                           "access, put train-images-idx3-ubyte.gz into"):
        MNIST(str(tmp_path / "mnist"))


def _standard_files(tmp_path, images, labels):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    return tmp_path / "t10k-images-idx3-ubyte.gz", tmp_path / "t10k-labels-idx1-ubyte.gz"


def test_a_truncated_or_corrupt_gzip_file_is_named(tmp_path):
    images, labels = _standard_files(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8))
    whole = images.read_bytes()
    images.write_bytes(whole[:len(whole) // 2])  # an interrupted download
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is not a readable gzip file \(EOFError"):
        MNIST(str(tmp_path), train=False, download=False)
    images.write_bytes(b"<html>not found</html>")  # an error page saved under the file's name
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is not a readable gzip file"):
        MNIST(str(tmp_path), train=False, download=False)
    images.write_bytes(whole[:10] + bytes(b ^ 0xFF for b in whole[10:40]) + whole[40:])  # corrupt data
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is not a readable gzip file"):
        MNIST(str(tmp_path), train=False, download=False)


def test_swapped_files_and_wrong_headers_are_named(tmp_path):
    images, labels = _standard_files(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8))
    images.write_bytes(labels.read_bytes())  # a labels file where the images belong
    with pytest.raises(ValueError, match=r"images-idx3-ubyte\.gz: the IDX header says 1 dimensions .* expected 3"):
        MNIST(str(tmp_path), train=False, download=False)
    with gzip.open(images, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">I", 5))  # the sizes cut short
    with pytest.raises(ValueError, match=r"header is cut short: 8 bytes, expected at least 16"):
        MNIST(str(tmp_path), train=False, download=False)


def test_image_and_label_counts_must_agree(tmp_path):
    _standard_files(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"images-idx3-ubyte\.gz has 5 images but .*labels-idx1-ubyte\.gz has 4"):
        MNIST(str(tmp_path), train=False, download=False)


def test_dataloader_is_an_iterator_with_next_and_reset():
    ds = Spiral()
    loader = DataLoader(ds, 100, shuffle=False)
    x0, t0 = loader.next()
    x1, _ = next(loader)
    np.testing.assert_array_equal(x0, ds.data[:100])
    np.testing.assert_array_equal(x1, ds.data[100:200])
    loader.next()
    with pytest.raises(StopIteration):
        loader.next()
    np.testing.assert_array_equal(loader.next()[0], ds.data[:100])  # a new epoch after the end
    loader.reset()
    np.testing.assert_array_equal(loader.next()[1], t0)
    assert len(list(loader)) == 3  # a for loop runs a whole epoch from the start


def test_sin_curve_is_dezeros_sequence():
    train, test = SinCurve(), SinCurve(train=False)
    assert len(train) == 999 and train.data.shape == (999, 1) and train.label.shape == (999, 1)
    np.testing.assert_array_equal(train.label[:-1], train.data[1:])  # the next value is the label
    x = np.linspace(0, 2 * np.pi, 1000)
    np.testing.assert_array_equal(test.data[:, 0], np.cos(x)[:-1])
    assert np.abs(train.data[:, 0] - np.sin(x)[:-1]).max() <= 0.05


def test_seq_dataloader_walks_each_row_along_its_own_subsequence():
    ds = SinCurve(train=False)
    loader = SeqDataLoader(ds, batch_size=3)
    jump = len(ds) // 3
    batches = list(loader)
    assert len(batches) == len(loader) == 333
    for step, (x, t) in enumerate(batches[:5]):
        rows = [(i * jump + step) % len(ds) for i in range(3)]
        np.testing.assert_array_equal(x, ds.data[rows])
        np.testing.assert_array_equal(t, ds.label[rows])
    with pytest.raises(ValueError, match="shorter than batch_size"):
        SeqDataLoader(ds, 1000)


def test_transforms_apply_per_item_and_in_the_loader():
    f = T.Compose([T.Normalize(0.5, 2.0), T.Flatten(), T.ToFloat()])
    ds = Spiral(transform=f, target_transform=T.ToInt(np.int32))
    x, t = ds[3]
    np.testing.assert_allclose(x, (Spiral().data[3] - 0.5) / 2.0, rtol=1e-6)
    assert x.dtype == np.float32 and t.dtype == np.int32
    xb, tb = DataLoader(ds, 10, shuffle=False).next()
    np.testing.assert_allclose(xb, (Spiral().data[:10] - 0.5) / 2.0, rtol=1e-6)
    assert tb.dtype == np.int32
    image = np.arange(12.0).reshape(3, 2, 2)
    per_channel = T.Normalize(mean=[0.0, 4.0, 8.0], std=[1.0, 2.0, 4.0])(image)
    np.testing.assert_allclose(per_channel[1], (image[1] - 4.0) / 2.0)
    assert T.AsType(np.float16)(image).dtype == np.float16 and T.Compose()(image) is image
    with pytest.raises(TypeError, match="transform 0 is"):
        T.Compose([T.Flatten])
    with pytest.raises(TypeError, match="transform must be a callable"):
        Spiral(transform="flatten")
    with pytest.raises(ValueError, match="std must not be 0"):
        T.Normalize(0.0, 0.0)
