"""Write your own Function and check it with mg.gradcheck and mg.gradgradcheck; watch the checker catch a bug.

    python examples/gradcheck_custom.py
"""
import argparse

import numpy as np

import minigrad as mg
import minigrad.functions as F
from minigrad import shapes
from minigrad.ops.shaping import unreduce


class Swish(mg.Function):
    """swish(x) = x * sigmoid(x); its derivative is s + x s (1 - s) with s = sigmoid(x)."""

    def forward(self, x):  # raw arrays in, a raw array out
        xp = mg.get_array_module(x)
        return x / (1 + xp.exp(-x))

    def backward(self, gy):  # Variables in; built from minigrad ops, so differentiable again
        x, = self.inputs
        s = F.sigmoid(x)
        return gy * (s + x * s * (1 - s))


class BuggySwish(Swish):
    """The same forward with a planted bug: the x s (1 - s) term is forgotten."""

    def backward(self, gy):
        x, = self.inputs
        return gy * F.sigmoid(x)


class Hypot(mg.Function):
    """sqrt(x^2 + y^2) with broadcasting: the kit checks the shapes and sums each gradient back."""

    def forward(self, x, y):
        shapes.broadcast_shapes("hypot", x.shape, y.shape)  # a ValueError naming both shapes if they do not
        return mg.get_array_module(x).hypot(x, y)

    def backward(self, gy):
        x, y = self.inputs
        r = self.outputs[0]()
        return shapes.unbroadcast(gy * x / r, x.shape), shapes.unbroadcast(gy * y / r, y.shape)


class RootMeanSquare(mg.Function):
    """sqrt(mean(x^2)) over axis: the kit normalises the axes; unreduce broadcasts the gradient back."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        shapes.check_float(x, "root_mean_square")  # TypeError naming the dtype
        self.axes = shapes.normalize_axis(self.axis, x.ndim, "root_mean_square")
        xp = mg.get_array_module(x)
        return xp.sqrt((x * x).sum(axis=self.axes, keepdims=self.keepdims) / shapes.reduced_size(x.shape, self.axes))

    def backward(self, gy):  # d/dx = x / (n * rms)
        x, = self.inputs
        n = shapes.reduced_size(x.shape, self.axes)
        return unreduce(gy / self.outputs[0](), x.shape, self.axes, self.keepdims) * x / n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    x = np.random.default_rng(args.seed).standard_normal((3, 4))

    def swish(a):
        return Swish()(a)  # a Function instance is single use: make one per call

    print("gradcheck(swish):", mg.gradcheck(swish, (x,)))
    print("gradgradcheck(swish):", mg.gradgradcheck(swish, (x,)))
    y = np.random.default_rng(args.seed + 1).standard_normal((4,))
    print("gradgradcheck(hypot), broadcasting (3, 4) with (4,):",
          mg.gradgradcheck(lambda a, b: Hypot()(a, b), (x, y)))
    print("gradgradcheck(root_mean_square over axis 1):",
          mg.gradgradcheck(lambda a: RootMeanSquare(axis=1)(a), (x,)))
    try:
        mg.gradcheck(lambda a: BuggySwish()(a), (x,))
    except mg.GradcheckError as e:
        print("gradcheck(buggy swish) caught the bug:\n   ", e)
    else:
        raise SystemExit("the planted bug was not caught")


if __name__ == "__main__":
    main()
