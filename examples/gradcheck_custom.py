"""Write your own Function and check it with mg.gradcheck and mg.gradgradcheck; watch the checker catch a bug.

    python examples/gradcheck_custom.py
"""
import argparse

import numpy as np

import minigrad as mg
import minigrad.functions as F


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    x = np.random.default_rng(args.seed).standard_normal((3, 4))

    def swish(a):
        return Swish()(a)  # a Function instance is single use: make one per call

    print("gradcheck(swish):", mg.gradcheck(swish, (x,)))
    print("gradgradcheck(swish):", mg.gradgradcheck(swish, (x,)))
    try:
        mg.gradcheck(lambda a: BuggySwish()(a), (x,))
    except mg.GradcheckError as e:
        print("gradcheck(buggy swish) caught the bug:\n   ", e)
    else:
        raise SystemExit("the planted bug was not caught")


if __name__ == "__main__":
    main()
