"""minigrad: a small define-by-run autograd framework on NumPy (and CuPy)."""
from minigrad.allocator import keep_freed_memory

keep_freed_memory()  # before any array is made (docs/design.md#memory)

from minigrad import data, functions, layers, models, optimizers, schedules, shapes, utils
from minigrad.backend import as_cupy, as_numpy, get_array_module, gpu_available
from minigrad.config import Config, no_grad, test_mode, using_config
from minigrad.core import Parameter, Variable, as_variable, grad
from minigrad.function import Function
from minigrad.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from minigrad.guards import AnomalyError, detect_anomaly
from minigrad.resume import load_checkpoint, save_checkpoint
from minigrad.seeding import seed

__all__ = ["AnomalyError", "as_cupy", "as_numpy", "as_variable", "Config", "data", "detect_anomaly", "Function",
           "functions", "get_array_module", "gpu_available", "grad", "gradcheck", "GradcheckError", "gradgradcheck",
           "layers", "load_checkpoint", "models", "no_grad", "numerical_grad", "optimizers", "Parameter",
           "save_checkpoint", "schedules", "seed", "shapes", "test_mode", "using_config", "utils", "Variable"]
