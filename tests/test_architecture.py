"""Imports point one way (down the layers of DESIGN.md), and only the backend touches cupy."""
import ast
import pathlib
import subprocess
import sys

import minigrad

ROOT = pathlib.Path(minigrad.__file__).parent

# A module may import only modules of a lower layer.
LAYERS = {
    "minigrad.backend": 0,
    "minigrad.config": 0,
    "minigrad.data": 1,
    "minigrad._numerics": 1,
    "minigrad._blocks": 1,
    "minigrad.core": 1,
    "minigrad.gradcheck": 2,
    "minigrad.optimizers": 2,
    "minigrad.utils": 2,
    "minigrad.functions.activations": 2,
    "minigrad.functions.elementwise": 2,
    "minigrad.functions.linear": 2,
    "minigrad.functions.reductions": 2,
    "minigrad.losses.checks": 2,
    "minigrad.losses.targets": 3,
    "minigrad.losses.nll": 4,
    "minigrad.losses.ce": 5,
    "minigrad.losses.bce": 4,
    "minigrad.losses": 6,
    "minigrad.functions": 7,
    "minigrad.specs": 8,
    "minigrad.layers": 8,
    "minigrad.models": 9,
    "minigrad": 10,
    "minigrad.__main__": 10,
}


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from minigrad import backend` imports minigrad.backend: name the deepest candidate.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def test_every_module_has_a_layer():
    assert set(MODULES) == set(LAYERS)


def test_imports_point_down():
    bad = []
    for name, path in MODULES.items():
        for target in imports(path):
            if target.split(".")[0] != "minigrad":
                continue
            while target not in LAYERS:
                target = target.rpartition(".")[0]
            if LAYERS[target] >= LAYERS[name]:
                bad.append(f"{name} imports {target}")
    assert not bad, bad


def test_only_the_backend_imports_cupy():
    users = {name for name, path in MODULES.items()
             for target in imports(path) if target.split(".")[0] in ("cupy", "cupyx")}
    assert users <= {"minigrad.backend"}


def test_every_module_has_a_docstring():
    for name, path in MODULES.items():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "\n" not in doc.strip(), f"{name} needs a one-line module docstring"


def test_import_has_no_optional_dependencies_or_side_effects():
    code = ("import sys, minigrad, minigrad.functions; "
            "print(sorted(m for m in ('cupy', 'matplotlib', 'tqdm', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
