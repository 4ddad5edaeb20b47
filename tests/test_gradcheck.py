"""The gradient checker catches planted bugs and passes correct Functions (docs/design.md#adding-a-function)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functions as F

RNG = np.random.default_rng(0)


class Cube(mg.Function):
    """x ** 3 with a correct backward."""

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        x, = self.inputs
        return gy * 3 * x * x


class CubeWrongFactor(Cube):
    def backward(self, gy):
        x, = self.inputs
        return gy * 2 * x * x


class CubeIgnoresGy(Cube):
    def backward(self, gy):
        x, = self.inputs
        return 3 * x * x  # as if the upstream gradient were all ones


class ScaledSum(mg.Function):
    """x * w + w, gradient of the second input wrong."""

    def forward(self, x, w):
        return x * w + w

    def backward(self, gy):
        x, w = self.inputs
        return gy * w, gy * x  # misses the + 1 in d/dw


class InPlace(mg.Function):
    def forward(self, x):
        x *= 2  # modifies its input
        return x

    def backward(self, gy):
        return gy * 2


class ReLUNoGy(mg.Function):
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):
        return mg.Variable((self.inputs[0].data > 0).astype(gy.dtype))


def test_correct_function_passes():
    x = RNG.uniform(0.5, 1.5, (3, 2))
    assert mg.gradcheck(lambda a: Cube()(a), (x,))
    assert mg.gradgradcheck(lambda a: Cube()(a), (x,))


def test_wrong_gradient_raises_naming_input_element_and_values():
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(mg.GradcheckError, match=r"input 0 at index \(\d,\): numerical .*analytical"):
        mg.gradcheck(lambda a: CubeWrongFactor()(a), (x,))
    assert mg.gradcheck(lambda a: CubeWrongFactor()(a), (x,), raise_exception=False) is False


@pytest.mark.parametrize("cls", [CubeIgnoresGy, ReLUNoGy], ids=["cube", "relu"])
def test_backward_that_ignores_its_upstream_gradient_is_caught(cls):
    x = RNG.uniform(0.5, 1.5, (4,))
    assert mg.gradcheck(lambda a: cls()(a), (x,), raise_exception=False) is False
    # Sum to a scalar: the upstream gradient is a single random number, still not 1.
    assert mg.gradcheck(lambda a: F.sum(cls()(a)) * 1.0, (x,), raise_exception=False) is False


def test_every_input_is_checked_not_just_the_first():
    x, w = RNG.standard_normal(3), RNG.standard_normal(3)
    with pytest.raises(mg.GradcheckError, match="input 1"):
        mg.gradcheck(lambda a, b: ScaledSum()(a, b), (x, w))


def test_modifying_the_input_is_caught():
    with pytest.raises(mg.GradcheckError, match="modified its input"):
        mg.gradcheck(lambda a: InPlace()(a), (np.ones(3),))


def test_wrong_second_derivative_is_caught():
    class Square(mg.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            x, = self.inputs
            return gy * mg.Variable(2 * x.data)  # right value, but cut from the graph of x

    x = RNG.standard_normal(3)
    assert mg.gradcheck(lambda a: Square()(a), (x,))
    with pytest.raises(mg.GradcheckError, match="second derivative through input 0"):
        mg.gradgradcheck(lambda a: Square()(a), (x,))


def test_float32_inputs_are_checked_in_float64_and_left_untouched():
    x = RNG.standard_normal(4).astype(np.float32)
    before = x.copy()
    assert mg.gradcheck(lambda a: F.tanh(a), (x,))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_integer_inputs_pass_through_untouched():
    x = RNG.standard_normal((3, 4))
    idx = np.array([2, 0, 2])
    seen = []

    def fn(a, i):
        seen.append(i)
        return F.get_item(a, i)

    assert mg.gradcheck(fn, (x, idx))
    assert all(i is idx for i in seen)


def test_variables_are_accepted_as_inputs():
    x = mg.Variable(RNG.standard_normal(3))
    assert mg.gradcheck(F.sin, (x,))
    assert x.grad is None


def test_numerical_grad_matches_closed_form():
    x = RNG.standard_normal((2, 3))
    gy = RNG.standard_normal((2, 3))
    g, = mg.numerical_grad(F.sin, (x,), gy)
    np.testing.assert_allclose(g, np.cos(x) * gy, atol=1e-8)
    g0, g1 = mg.numerical_grad(F.mul, (x, x * 2))
    np.testing.assert_allclose(g0, x * 2, atol=1e-8)
    np.testing.assert_allclose(g1, x, atol=1e-8)


def test_numerical_grad_of_a_view_returning_function():
    g, = mg.numerical_grad(lambda a: F.transpose(a), (np.ones((2, 3)),), np.arange(6.0).reshape(3, 2))
    np.testing.assert_allclose(g, np.arange(6.0).reshape(3, 2).T, atol=1e-8)


def test_no_float_input_is_an_error():
    with pytest.raises(mg.GradcheckError, match="no floating point input"):
        mg.gradcheck(lambda i: mg.Variable(np.ones(2)), (np.array([1, 2]),))
