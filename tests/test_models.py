"""DeZero's VGG16 and ResNet: small configurations train a step, weights load from a local .npz
(docs/design.md#images-convolution-pooling-batch-norm)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F
from minigrad.models import VGG16, ResNet
from minigrad.optimizers import SGD

X = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
T = np.array([1, 3])


def small(kind, pretrained=False):
    np.random.seed(0)
    if kind == "vgg":
        return VGG16(pretrained, channels=(4, 8, 8, 16, 16), hidden=32, classes=10)
    return ResNet(50, pretrained, blocks=(2, 1, 1, 1), width=4, classes=10)


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
def test_a_small_configuration_trains_one_step_and_reloads(kind, tmp_path):
    model = small(kind)
    loss = F.softmax_cross_entropy(model(X), T)
    assert np.isfinite(float(loss)) and loss.dtype == np.float32
    model.cleargrads()
    loss.backward()
    trainable = [p for p in model.params() if p.grad is not None]
    assert trainable and all(np.isfinite(p.grad.data).all() for p in trainable)
    before = [p.data.copy() for p in trainable]
    SGD(lr=0.01).setup(model).update()
    assert all(not np.array_equal(p.data, b) for p, b in zip(trainable, before))
    model.save_weights(tmp_path / "weights")
    loaded = small(kind, pretrained=tmp_path / "weights.npz")  # lazily sized parameters come from the file
    with mg.test_mode():
        np.testing.assert_array_equal(loaded(X).data, model(X).data)


def test_parameter_names_follow_dezero():
    names = [n for n, _ in small("resnet").named_params()]
    for name in ("conv1/W", "bn1/avg_mean", "res2/a/conv4/W", "res2/b1/bn3/gamma", "res5/a/bn2/avg_var", "fc6/b"):
        assert name in names
    names = [n for n, _ in small("vgg").named_params()]
    assert names[:2] == ["conv1_1/W", "conv1_1/b"] and "conv5_3/W" in names and names[-1] == "fc8/b"
    # torchvision's ResNet-50 has 23,454,912 convolution weights; conv1's 3 * 64 * 7 * 7 wait for the first input
    full = ResNet(50)
    assert full.conv1.W.data is None
    assert sum(p.size for p in full.params() if p.data is not None and p.ndim == 4) + 3 * 64 * 49 == 23454912


def test_pretrained_must_be_a_local_file():
    with pytest.raises(ValueError, match="path of a local .npz .*vgg16.npz"):
        VGG16(pretrained=True)
    with pytest.raises(ValueError, match="n_layers must be 50, 101 or 152"):
        ResNet(34)


def test_summary_lists_called_layers_shapes_and_counts():
    from minigrad.models import Sequential
    import minigrad.layers as L
    model = Sequential(L.Conv2d(8, 3, pad=1), L.BatchNorm(), F.relu, lambda x: F.flatten(x, 1), L.Linear(10))
    with pytest.raises(ValueError, match="l0/W has no size yet"):
        model.count_params()
    lines = []
    model.summary(np.zeros((2, 1, 8, 8), np.float32), print_fn=lines.append)
    table = lines[0].splitlines()
    assert table[2].split() == ["l0", "Conv2d", "(2,", "8,", "8,", "8)", "80"]  # 8*1*3*3 + 8
    assert table[3].split()[-1] == "32"  # gamma, beta, running mean and var of 8 channels
    assert table[4].split() == ["l4", "Linear", "(2,", "10)", "5,130"]  # 512*10 + 10
    assert table[-1] == "output (2, 10); 5,242 parameters in 8 arrays"
    assert model.count_params() == 80 + 32 + 5130 == sum(p.size for p in model.params())
    assert float(model.l1.avg_mean.data.sum()) == 0  # test mode: the running statistics did not move


def test_summary_counts_the_calls_of_a_recurrent_layer():
    import minigrad.layers as L

    class Net(mg.models.Model):
        def __init__(self):
            super().__init__()
            self.rnn = L.GRU(4, in_size=3)

        def forward(self, xs):
            return [self.rnn(x) for x in xs]

    lines = []
    Net().summary(np.zeros((5, 2, 3), np.float32), print_fn=lines.append)
    assert "(2, 4) (x5 calls)" in lines[0]
    assert "rnn/x2h" in lines[0] and "(2, 12) (x5 calls)" in lines[0]
