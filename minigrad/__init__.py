"""minigrad: a small define-by-run autograd framework on NumPy (and CuPy)."""
from minigrad import data, functions, layers, models, optimizers, shapes, utils
from minigrad.backend import as_cupy, as_numpy, get_array_module, gpu_available
from minigrad.config import Config, no_grad, test_mode, using_config
from minigrad.core import Parameter, Variable, as_variable, grad
from minigrad.function import Function
from minigrad.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from minigrad.guards import AnomalyError, detect_anomaly

__all__ = ["AnomalyError", "Config", "Function", "GradcheckError", "Parameter", "Variable", "as_cupy", "as_numpy",
           "as_variable", "data", "detect_anomaly", "functions", "get_array_module", "gpu_available", "grad",
           "gradcheck", "gradgradcheck", "layers", "models", "no_grad", "numerical_grad", "optimizers", "shapes",
           "test_mode", "using_config", "utils"]
