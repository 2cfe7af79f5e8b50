"""Fixtures for the integration tests that need the built guest itself (kernel and initramfs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core import guest_image as gi
from maqet_tui.core.demo import ensure_demo
from maqet_tui.core.manager import Manager


@pytest.fixture(scope="session")
def guest(tmp_path_factory: pytest.TempPathFactory) -> gi.GuestImage:
    """The guest, built here if the cache does not hold it yet (the first build downloads ~70 MB).

    CI points MAQET_TUI_GUEST_CACHE at a persistent directory so the download happens once."""
    env = os.environ.get("MAQET_TUI_GUEST_CACHE")
    cache = Path(env) if env else tmp_path_factory.mktemp("guest-cache")
    return gi.ensure_guest(cache)


@pytest.fixture
def demo(manager: Manager) -> Iterator[dict[str, Any]]:
    vm, created = ensure_demo(manager)
    assert created and vm["config"]["accel"] == "tcg"
    yield manager.start("demo")
