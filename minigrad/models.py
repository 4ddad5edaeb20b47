"""Models: Model (a Layer that can draw its graph), MLP and Sequential."""
import minigrad.functions as F
from minigrad.layers import Layer, Linear
from minigrad.utils import plot_graph


class Model(Layer):
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
