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
