"""Models: Model (a Layer that can draw its graph), MLP, Sequential, and DeZero's VGG16 and ResNet."""
import os

import numpy as np

import minigrad.functions as F
from minigrad.layers import BatchNorm, Conv2d, Layer, Linear
from minigrad.summary import summary
from minigrad.utils import plot_graph


class Model(Layer):
    def summary(self, *inputs, print_fn=print):
        """Print (with print_fn) the layers as one forward pass on inputs calls them, in test mode without a graph:
        each one's output shape and parameter count, then the total (see count_params)."""
        print_fn(summary(self, *inputs))

    def plot(self, *inputs, to_file="model.png"):
        """Run forward on inputs and render the computational graph with Graphviz (see utils.plot_graph)."""
        return plot_graph(self.forward(*inputs), verbose=True, to_file=to_file)


class Sequential(Model):
    """Layers (or plain functions such as F.relu) applied in order."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        for i, layer in enumerate(layers):
            if isinstance(layer, type):
                raise TypeError(f"Sequential: layer {i} is the class {layer.__name__}, not a layer; pass an "
                                f"instance such as {layer.__name__}(...)")
            if isinstance(layer, Layer):
                setattr(self, f"l{i}", layer)
            elif not callable(layer):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Layer or a function")

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MLP(Model):
    """Linear layers of the given output sizes, with `activation` between them (not after the last)."""

    def __init__(self, sizes, activation=F.relu, dtype="float32"):
        super().__init__()
        self.activation = activation
        self.layers = []
        for i, size in enumerate(sizes):
            layer = Linear(size, dtype=dtype)
            setattr(self, f"l{i}", layer)
            self.layers.append(layer)

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


def _load(model, pretrained):
    """Weights for a model: none (False) or a local .npz in DeZero's layout (its parameter names); nothing is
    downloaded."""
    if pretrained is False or pretrained is None:
        return
    if pretrained is True or not isinstance(pretrained, (str, os.PathLike)):
        raise ValueError(f"{type(model).__name__}: pretrained must be False or the path of a local .npz (DeZero's "
                         f"published weights, e.g. {model.weights_file}, downloaded beforehand), got {pretrained!r}")
    model.load_weights(pretrained)


class VGG16(Model):
    """VGG-16 as DeZero builds it: thirteen 3x3 convolutions (pad 1) with ReLU in five blocks, each block ending in
    2x2 max pooling, then fc6, fc7 (ReLU, dropout) and fc8. The widths are options so that a small configuration
    can be built; the defaults are VGG-16's, whose weights load from DeZero's vgg16.npz."""

    weights_file = "vgg16.npz"
    depths = (2, 2, 3, 3, 3)

    def __init__(self, pretrained=False, *, channels=(64, 128, 256, 512, 512), hidden=4096, classes=1000):
        super().__init__()
        self.convs = []
        for block, (depth, width) in enumerate(zip(self.depths, channels), 1):
            for i in range(1, depth + 1):
                conv = Conv2d(width, 3, 1, 1)
                setattr(self, f"conv{block}_{i}", conv)
                self.convs.append((conv, i == depth))
        self.fc6, self.fc7, self.fc8 = Linear(hidden), Linear(hidden), Linear(classes)
        _load(self, pretrained)

    def forward(self, x):
        for conv, last in self.convs:
            x = F.relu(conv(x))
            if last:
                x = F.max_pooling(x, 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        x = F.dropout(F.relu(self.fc6(x)))
        x = F.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)

    @staticmethod
    def preprocess(image, size=(224, 224), dtype=np.float32):
        """A PIL image as VGG's input (3, H, W): RGB resized to size, channels as BGR, ImageNet's mean removed."""
        image = image.convert("RGB")
        if size:
            image = image.resize(size)
        x = np.asarray(image, dtype=dtype)[:, :, ::-1] - np.array([103.939, 116.779, 123.68], dtype=dtype)
        return x.transpose(2, 0, 1)


class BottleneckA(Layer):
    """1x1, 3x3 and 1x1 convolutions with batch norm, beside a strided 1x1 projection of the input; the stride is
    on the first 1x1 (the paper's) or on the 3x3 (downsample_fb, Facebook's)."""

    def __init__(self, in_channels, mid_channels, out_channels, stride=2, downsample_fb=False):
        super().__init__()
        s1, s3 = (1, stride) if downsample_fb else (stride, 1)
        self.conv1, self.bn1 = Conv2d(mid_channels, 1, s1, 0, nobias=True, in_channels=in_channels), BatchNorm()
        self.conv2, self.bn2 = Conv2d(mid_channels, 3, s3, 1, nobias=True, in_channels=mid_channels), BatchNorm()
        self.conv3, self.bn3 = Conv2d(out_channels, 1, 1, 0, nobias=True, in_channels=mid_channels), BatchNorm()
        self.conv4, self.bn4 = Conv2d(out_channels, 1, stride, 0, nobias=True, in_channels=in_channels), BatchNorm()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        return F.relu(self.bn3(self.conv3(h)) + self.bn4(self.conv4(x)))


class BottleneckB(Layer):
    """1x1, 3x3 and 1x1 convolutions with batch norm around an identity shortcut."""

    def __init__(self, in_channels, mid_channels):
        super().__init__()
        self.conv1, self.bn1 = Conv2d(mid_channels, 1, 1, 0, nobias=True, in_channels=in_channels), BatchNorm()
        self.conv2, self.bn2 = Conv2d(mid_channels, 3, 1, 1, nobias=True, in_channels=mid_channels), BatchNorm()
        self.conv3, self.bn3 = Conv2d(in_channels, 1, 1, 0, nobias=True, in_channels=mid_channels), BatchNorm()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        return F.relu(self.bn3(self.conv3(h)) + x)


class BuildingBlock(Layer):
    """One BottleneckA (named a) followed by n_layers - 1 BottleneckB (b1, b2, ...)."""

    def __init__(self, n_layers, in_channels, mid_channels, out_channels, stride, downsample_fb=False):
        super().__init__()
        self.a = BottleneckA(in_channels, mid_channels, out_channels, stride, downsample_fb)
        self.blocks = [self.a]
        for i in range(1, n_layers):
            setattr(self, f"b{i}", BottleneckB(out_channels, mid_channels))
            self.blocks.append(getattr(self, f"b{i}"))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class ResNet(Model):
    """ResNet-50, -101 or -152 as DeZero builds it: a 7x7 stride-2 convolution, batch norm, 3x3 stride-2 max
    pooling, four BuildingBlocks of bottlenecks, global average pooling and fc6. `blocks` (bottlenecks per stage)
    and `width` (the first stage's middle channels) build smaller configurations; weights load from DeZero's
    resnet{50,101,152}.npz."""

    layouts = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(self, n_layers=152, pretrained=False, *, blocks=None, width=64, classes=1000):
        super().__init__()
        if blocks is None and n_layers not in self.layouts:
            raise ValueError(f"ResNet: n_layers must be 50, 101 or 152, got {n_layers!r}")
        blocks = self.layouts[n_layers] if blocks is None else tuple(blocks)
        self.weights_file = f"resnet{n_layers}.npz"
        self.conv1, self.bn1 = Conv2d(width, 7, 2, 3), BatchNorm()
        w = width
        self.res2 = BuildingBlock(blocks[0], w, w, 4 * w, 1)
        self.res3 = BuildingBlock(blocks[1], 4 * w, 2 * w, 8 * w, 2)
        self.res4 = BuildingBlock(blocks[2], 8 * w, 4 * w, 16 * w, 2)
        self.res5 = BuildingBlock(blocks[3], 16 * w, 8 * w, 32 * w, 2)
        self.fc6 = Linear(classes)
        _load(self, pretrained)

    def forward(self, x):
        x = F.max_pooling(F.relu(self.bn1(self.conv1(x))), 3, 2)
        x = self.res5(self.res4(self.res3(self.res2(x))))
        n, c, h, w = x.shape
        x = F.reshape(F.average_pooling(x, (h, w)), (n, c))  # global average pooling
        return self.fc6(x)
