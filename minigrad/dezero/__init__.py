"""DeZero's API over minigrad: `import minigrad.dezero as dezero` runs the book's code (docs/dezero.md)."""
from minigrad import guards
from minigrad.config import Config, no_grad, test_mode, using_config
from minigrad.core import Parameter, Variable, as_variable
from minigrad.dezero import (
    cuda,
    dataloaders,
    datasets,
    functions,
    functions_conv,
    layers,
    models,
    optimizers,
    transforms,
    utils,
)
from minigrad.dezero.core import Function, as_array, setup_variable
from minigrad.dezero.dataloaders import DataLoader, SeqDataLoader
from minigrad.dezero.datasets import Dataset
from minigrad.dezero.layers import Layer
from minigrad.dezero.models import Model

guards.WARNED.add("cycle")  # backward(create_graph=True) is the book's idiom for higher derivatives: no warning

__all__ = ["Config", "DataLoader", "Dataset", "Function", "Layer", "Model", "Parameter", "SeqDataLoader",
           "Variable", "as_array", "as_variable", "cuda", "dataloaders", "datasets", "functions", "functions_conv",
           "layers", "models", "no_grad", "optimizers", "setup_variable", "test_mode", "transforms",
           "using_config", "utils"]
