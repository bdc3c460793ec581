"""Shared fixtures: fresh folders, hypothesis profiles, a clean registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores the same examples on every run, so that a red run is
# reproducible and a landing never depends on luck; locally each run explores
# new ones (and keeps what it found in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A path for a POD folder that does not exist yet."""
    return tmp_path / "data.pod"


@pytest.fixture(autouse=True)
def _close_left_open():
    """Close every folder a test left open, so tests never share state."""
    yield
    from tastypy import pod

    for opened in list(pod._registry.values()):
        opened._users = 1
        opened.close()
