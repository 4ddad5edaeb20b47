"""Shared fixtures: run the fused losses whole and cut into many small row blocks."""
import pytest

import minigrad.losses.bce as bce
import minigrad.losses.ce as ce


@pytest.fixture(params=["whole", "blocked"])
def blocks(request, monkeypatch):
    """'blocked' shrinks the losses' row blocks so that every test array spans several blocks and threads."""
    if request.param == "blocked":
        monkeypatch.setattr(ce, "BLOCK", 4)
        monkeypatch.setattr(bce, "BLOCK", 4)
    return request.param
