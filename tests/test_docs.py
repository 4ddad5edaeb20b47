"""The examples in docs/losses.md and docs/design.md run and print what the pages say."""
import doctest
import pathlib

import numpy as np
import pytest

DOCS = pathlib.Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("page", ["losses.md", "design.md"])
def test_page_examples(page):
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # the examples leak no warnings
        result = doctest.testfile(str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert page == "design.md" or result.attempted >= 10


def test_readme_python_blocks_run(tmp_path):
    """Every ```python block of the README runs as written, in order, in one fresh interpreter."""
    import re
    import subprocess
    import sys

    readme = (DOCS.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) >= 4
    script = tmp_path / "readme.py"
    checks = ["mg.gradgradcheck(lambda a, b: Hypot()(a, b), (np.random.randn(3, 4), np.random.randn(4)))",
              "mg.gradgradcheck(lambda a: RootMeanSquare(axis=(0, 2))(a), (np.random.randn(2, 3, 4),))"]
    script.write_text("\n".join(blocks + [f"assert {c}" for c in checks]) + "\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
