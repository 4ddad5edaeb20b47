"""DeZero's dezero.models: Model, Sequential, MLP (sigmoid between layers), VGG16 and ResNet with DeZero's files."""
import os

import minigrad.functions as F
from minigrad import models
from minigrad.models import BottleneckA, BottleneckB, BuildingBlock, Model, Sequential  # noqa: F401



class MLP(models.MLP):
    """DeZero's MLP(fc_output_sizes, activation=F.sigmoid): Linear layers l0, l1, ... with the activation between."""

    def __init__(self, fc_output_sizes, activation=F.sigmoid):
        super().__init__(fc_output_sizes, activation)


def _weights(pretrained, name):
    """DeZero's pretrained=True: the file DeZero downloads, looked for in ~/.dezero (nothing is downloaded here)."""
    if pretrained is True:
        path = os.path.join(os.path.expanduser("~"), ".dezero", name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: minigrad does not download weights; put DeZero's {name} "
                                    f"there or pass pretrained='path/to/{name}'")
        return path
    return pretrained


class VGG16(models.VGG16):
    def __init__(self, pretrained=False):
        super().__init__(_weights(pretrained, "vgg16.npz"))


class ResNet(models.ResNet):
    def __init__(self, n_layers=152, pretrained=False):
        super().__init__(n_layers, _weights(pretrained, f"resnet{n_layers}.npz"))


class ResNet50(ResNet):
    def __init__(self, pretrained=False):
        super().__init__(50, pretrained)


class ResNet101(ResNet):
    def __init__(self, pretrained=False):
        super().__init__(101, pretrained)


class ResNet152(ResNet):
    def __init__(self, pretrained=False):
        super().__init__(152, pretrained)
