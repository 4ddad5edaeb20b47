"""save_weights / load_weights: atomic writes, one name both ways, all-or-nothing loads, lazily sized layers
(docs/design.md#checkpoints)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad as mg
from minigrad.layers import Layer, Linear
from minigrad.models import MLP


def _model(seed, sizes=(5, 3)):
    np.random.seed(seed)
    model = MLP(list(sizes))
    model(np.ones((1, 4), np.float32))
    return model


def _arrays(model):
    return {name: p.data.copy() for name, p in model.named_params()}


def _assert_same(arrays, model):
    assert list(arrays) == [name for name, _ in model.named_params()]
    for name, p in model.named_params():
        np.testing.assert_array_equal(p.data, arrays[name], err_msg=name)


def test_the_same_name_works_both_ways(tmp_path):
    a = _model(0)
    assert a.save_weights(tmp_path / "ckpt") == str(tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]
    for name in ("ckpt", "ckpt.npz"):
        b = _model(1)
        b.load_weights(tmp_path / name)
        _assert_same(_arrays(a), b)


def test_a_fresh_lazily_sized_model_loads_without_a_forward_pass(tmp_path):
    a = _model(0)
    a.save_weights(tmp_path / "w.npz")
    b = MLP([5, 3])
    assert b.l0.W.data is None
    b.load_weights(tmp_path / "w.npz")
    _assert_same(_arrays(a), b)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_saving_a_lazily_sized_parameter_says_so(tmp_path):
    with pytest.raises(ValueError, match="l0/W has no array yet"):
        MLP([5, 3]).save_weights(tmp_path / "w.npz")
    assert os.listdir(tmp_path) == []


class _Named(Layer):
    def __init__(self):
        super().__init__()
        self.file = mg.Parameter(np.arange(3.0))
        self.allow_pickle = mg.Parameter(np.ones((2, 2), np.float32))


def test_parameter_names_cannot_collide_with_savez_keywords(tmp_path):
    a, b = _Named(), _Named()
    a.file.data = a.file.data * 7
    a.save_weights(tmp_path / "k")
    b.load_weights(tmp_path / "k")
    _assert_same(_arrays(a), b)


def test_a_failed_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    old = _model(0)
    old.save_weights(tmp_path / "w")
    calls = []

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return write_array(*args, **kwargs)

    write_array = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", fail_on_second)
    with pytest.raises(OSError, match="No space left"):
        _model(1).save_weights(tmp_path / "w")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["w.npz"]  # no temporary file left behind
    fresh = MLP([5, 3])
    fresh.load_weights(tmp_path / "w")
    _assert_same(_arrays(old), fresh)


@pytest.mark.skipif(sys.platform == "win32", reason="needs resource.RLIMIT_FSIZE")
def test_a_full_disk_leaves_the_previous_checkpoint_whole(tmp_path):
    small = _model(0)
    small.save_weights(tmp_path / "w")
    size = os.path.getsize(tmp_path / "w.npz")
    code = textwrap.dedent(f"""
        import resource, signal
        import numpy as np
        from minigrad.models import MLP
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        model = MLP([400, 3])
        model(np.ones((1, 200), np.float32))
        resource.setrlimit(resource.RLIMIT_FSIZE, ({size * 4}, {size * 4}))
        try:
            model.save_weights({str(tmp_path / "w")!r})
        except OSError as e:
            print("failed", e.errno)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("failed"), out.stderr
    assert os.listdir(tmp_path) == ["w.npz"]
    fresh = MLP([5, 3])
    fresh.load_weights(tmp_path / "w.npz")
    _assert_same(_arrays(small), fresh)


def test_a_bad_entry_changes_nothing(tmp_path):
    good = _model(0)
    arrays = {name: p.data for name, p in good.named_params()}
    arrays["l1/b"] = np.array(["a", "b", "c"])  # the last entry cannot become float32
    np.savez(tmp_path / "bad.npz", **arrays)
    target = _model(1)
    before = _arrays(target)
    with pytest.raises(TypeError, match=r"l1/b in .*bad\.npz has dtype <U1, expected real numbers"):
        target.load_weights(tmp_path / "bad.npz")
    _assert_same(before, target)
    arrays["l1/b"] = np.zeros(3, np.complex64)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TypeError, match="l1/b"):
        target.load_weights(tmp_path / "bad.npz")
    _assert_same(before, target)
    arrays["l1/b"] = np.zeros(4, np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    lazy = MLP([5, 3])
    with pytest.raises(ValueError, match=r"l1/b has shape \(4,\)"):
        lazy.load_weights(tmp_path / "bad.npz")
    assert lazy.l0.W.data is None and lazy.l1.W.data is None  # not even the lazily sized ones


def test_a_wider_integer_or_float_entry_converts_but_a_float_into_an_integer_does_not(tmp_path):
    layer = Linear(2, in_size=3, dtype=np.float32)
    np.savez(tmp_path / "w.npz", W=np.ones((3, 2), np.float64), b=np.arange(2))
    layer.load_weights(tmp_path / "w.npz")
    assert layer.W.dtype == np.float32 and layer.b.data.tolist() == [0.0, 1.0]

    class Counter(Layer):
        def __init__(self):
            super().__init__()
            self.n = mg.Parameter(np.zeros(2, np.int64))

    np.savez(tmp_path / "n.npz", n=np.array([0.5, 1.5]))
    c = Counter()
    with pytest.raises(TypeError, match="float64 .* int64"):
        c.load_weights(tmp_path / "n.npz")
    assert c.n.data.tolist() == [0, 0]
