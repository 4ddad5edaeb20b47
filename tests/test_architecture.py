"""The house rules of docs/design.md#layers: imports point one way, modules are small and say what they own."""
import ast
import pathlib
import re
import subprocess
import sys

import pytest

import minigrad

ROOT = pathlib.Path(minigrad.__file__).parent
REPO = ROOT.parent


def module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def imported(name):
    """The minigrad modules that importing `name` runs: each import's target and the packages above it
    (whose __init__ runs first), except the packages above `name` itself, which are loading already."""
    loading = {name.rsplit(".", k)[0] for k in range(name.count(".") + 1)}
    found = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from minigrad import losses` imports minigrad.losses; `from minigrad.core import Variable` does not
            # import minigrad.core.Variable: keep the longest prefix that is a module.
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            while target in MODULES and target not in loading:
                found.add(target)
                target = target.rpartition(".")[0]
    return found


GRAPH = {name: imported(name) for name in MODULES}


def test_the_import_graph_has_no_cycle():
    state = {}  # name -> "open" while on the current path, "done" after

    def visit(name, path):
        if state.get(name) == "open":
            return path[path.index(name):] + [name]
        if state.get(name) == "done":
            return None
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            cycle = visit(target, path + [name])
            if cycle:
                return cycle
        state[name] = "done"
        return None

    for name in MODULES:
        cycle = visit(name, [])
        assert cycle is None, " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle(monkeypatch):
    """The check above is not vacuous: a package face imported from below it is a cycle."""
    assert "minigrad.ops.activations" in GRAPH["minigrad.losses.ce"]
    assert "minigrad.ops" in GRAPH["minigrad.losses.ce"]  # the package's __init__ runs too
    monkeypatch.setitem(GRAPH, "minigrad.ops", GRAPH["minigrad.ops"] | {"minigrad.losses"})
    with pytest.raises(AssertionError, match="minigrad.ops -> minigrad.losses"):
        test_the_import_graph_has_no_cycle()


def test_lower_layers_do_not_import_higher_ones():
    """The layers of docs/design.md#layers, from the bottom: nothing imports a layer above its own."""
    layers = [{"minigrad.backend", "minigrad.config", "minigrad.shapes", "minigrad.guards", "minigrad.arrays",
               "minigrad.allocator", "minigrad.blas"},
              {"minigrad.numerics", "minigrad.blocks", "minigrad.core", "minigrad.function", "minigrad.cuda", "minigrad.kernels",
               "minigrad.checkpoint", "minigrad.seeding"},
              {"minigrad.gradcheck", "minigrad.ops"},
              {"minigrad.losses"},
              {"minigrad.functions", "minigrad.specs"},
              {"minigrad.layers", "minigrad.models", "minigrad.optimizers", "minigrad.data", "minigrad.transforms",
               "minigrad.utils", "minigrad.schedules", "minigrad.summary", "minigrad.resume", "minigrad.transformer",
               "minigrad.distributed"},
              {"minigrad", "minigrad.__main__"}]

    def layer(name):
        while True:
            for i, members in enumerate(layers):
                if name in members:
                    return i
            name = name.rpartition(".")[0]

    bad = [f"{name} imports {target}" for name, targets in GRAPH.items() for target in targets
           if layer(target) > layer(name)]
    assert not bad, bad


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports_first_in_a_fresh_interpreter(name):
    r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr


def test_no_private_name_crosses_a_module_boundary():
    bad = []
    for name, tree in TREES.items():
        modules = set()  # local names bound to minigrad modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("minigrad"):
                bad += [f"{name}: from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
                modules |= {a.asname or a.name for a in node.names if f"{node.module}.{a.name}" in MODULES}
            elif isinstance(node, ast.Import):
                bad += [f"{name}: import {a.name}" for a in node.names
                        if a.name.startswith("minigrad") and any(p.startswith("_") for p in a.name.split("."))]
                modules |= {a.asname for a in node.names if a.asname and a.name in MODULES}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and node.attr.startswith("_")):
                bad.append(f"{name}: {node.value.id}.{node.attr}")
    assert not bad, bad


def test_modules_stay_small():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert max(sizes.values()) <= 400, {n: s for n, s in sizes.items() if s > 400}


def test_only_the_reduction_object_branches_on_the_reduction():
    pattern = re.compile(r"""reduction\s*[!=]=|mode\s*[!=]=|[!=]=\s*["'](none|mean|sum)["']""")
    bad = [f"{name}:{i}: {line.strip()}" for name, path in MODULES.items() if name != "minigrad.losses.reduction"
           for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not bad, bad


def test_only_the_backend_imports_cupy():
    users = set()
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("cupy", "cupyx") for n in names):
                users.add(name)
    assert users <= {"minigrad.backend"}


def test_every_module_has_a_one_line_docstring():
    for name, tree in TREES.items():
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc.strip(), f"{name} needs a one-line module docstring"


def test_import_has_no_optional_dependencies():
    code = ("import sys, minigrad, minigrad.functions; "
            "print(sorted(m for m in ('cupy', 'matplotlib', 'tqdm', 'torch', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _slug(heading):
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


CITED = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
SOURCES = [p for d in ("minigrad", "tests", "examples", "benchmarks") for p in sorted((REPO / d).rglob("*.py"))]
SOURCES += [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def test_references_point_into_the_repository():
    """Code, tests and docs cite the project's own documents, and every cited section exists."""
    bad = []
    for path in SOURCES:
        text = path.read_text()
        bad += [f"{path.name}: cites {m}" for m in re.findall(r"\b(?:DESIGN|LOSS_SPEC)\.md", text)]
        for doc, anchor in CITED.findall(text):
            target = REPO / "docs" / doc
            if not target.exists():
                bad.append(f"{path.name}: cites missing docs/{doc}")
            elif anchor and anchor not in {_slug(h) for h in re.findall(r"^#+ (.*)$", target.read_text(), re.M)}:
                bad.append(f"{path.name}: cites missing section docs/{doc}#{anchor}")
    assert not bad, bad


def test_the_losses_and_every_test_module_cite_the_docs():
    wanted = [ROOT / "losses" / f for f in ("ce.py", "bce.py", "nll.py", "reduction.py")]
    wanted += sorted((REPO / "tests").glob("test_*.py"))
    assert not [p.name for p in wanted if not CITED.search(p.read_text())]


def test_the_allocator_settings_apply_at_import_and_can_be_turned_off():
    """docs/design.md#memory: glibc's thresholds set by `import minigrad`, not with MINIGRAD_KEEP_FREED_MEMORY=0."""
    import os
    code = "import minigrad, minigrad.allocator as a; print(a.applied, a.keep_freed_memory())"
    glibc = os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc") if hasattr(os, "confstr") else False
    for value, expected in (("1", glibc), ("0", False)):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "MINIGRAD_KEEP_FREED_MEMORY": value})
        assert out.stdout.split() == [str(expected)] * 2
