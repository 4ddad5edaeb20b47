"""minigrad: a small define-by-run autograd framework on NumPy (and CuPy)."""
from minigrad.backend import as_cupy, as_numpy, get_array_module, gpu_available
from minigrad.config import Config, no_grad, test_mode, using_config
from minigrad.core import Function, Parameter, Variable, as_variable, grad
from minigrad.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad

# The op library loads with the package: its namespace re-exports the losses, which build on its
# activations, so importing minigrad.losses first must find minigrad.functions already loading.
from minigrad import functions  # noqa: E402  isort: skip
from minigrad import data, layers, models, optimizers, utils  # noqa: E402  isort: skip

__all__ = ["Config", "Function", "GradcheckError", "Parameter", "Variable", "as_cupy", "as_numpy",
           "as_variable", "data", "functions", "get_array_module", "gpu_available", "grad", "gradcheck",
           "gradgradcheck", "layers", "models", "no_grad", "numerical_grad", "optimizers", "test_mode",
           "using_config", "utils"]
