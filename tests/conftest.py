"""Fixtures for every suite: an isolated home and runtime dir per test, and a leak check that
fails any test leaving a runner, a QEMU, an ssh client or control master, a socket or a lock file
behind (and, at the end of the session, an sshd the session started)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.guest_image import default_cache_dir
from maqet_tui.core.images import Image
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from tests.helpers import (
    Env,
    check_no_leaks,
    make_env,
    remove_env,
    ssh_processes,
    vm_processes,
)
from tests.images import SHARED_IMAGES
from tests.images import debian_image as _debian_image

TINY: dict[str, Any] = {"memory": 64, "accel": "tcg"}
# The demo guest is built once per user into the cache ./scripts/run and ./scripts/test share;
# pinned here so that the per-test homes and environments all find it.
os.environ.setdefault("MAQET_TUI_GUEST_CACHE", str(default_cache_dir()))
# Likewise the disk images (tests/images.py): every test's home sees the one built image.
os.environ.setdefault("MAQET_TUI_IMAGES", str(SHARED_IMAGES))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    e = make_env()
    monkeypatch.setenv("MAQET_TUI_HOME", str(e.home))
    monkeypatch.setenv("MAQET_TUI_RUNTIME_DIR", str(e.runtime))
    monkeypatch.setenv("MAQET_TUI_ACCEL", "tcg")
    _RUNTIMES.update((str(e.runtime), str(e.home)))
    yield e
    store.close_db()
    problems = check_no_leaks(e)
    remove_env(e)
    if problems:
        pytest.fail("test left things behind:\n  " + "\n  ".join(problems))


@pytest.fixture
def manager(env: Env) -> Iterator[Manager]:
    m = Manager(env.home)
    yield m
    # Stop whatever the test left running, through the product's own stop path; the env
    # fixture then proves nothing survived it.
    store.open_db(m.paths.db)
    for vm in m.list():
        if vm["status"] in LIVE:
            m.stop(vm["id"], force=True, timeout=10)


@pytest.fixture
def tiny_vm(manager: Manager) -> Callable[..., dict[str, Any]]:
    """Add a minimal VM (SeaBIOS, no disk, 64 MiB, TCG): boots to QMP in ~50 ms."""

    def make(name: str = "vm1", **overrides: Any) -> dict[str, Any]:
        return manager.add(name, {**TINY, **overrides})

    return make


@pytest.fixture(scope="session")
def debian_image() -> Image:
    """The built Debian 12 image (tests/images.py): built at most once per session, usually a
    cache hit. Boot overlays of its disk, never the disk itself."""
    return _debian_image()


_RUNTIMES: set[str] = set()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A final sweep: anything of ours still alive here escaped every per-test check.
    mine = vm_processes(_RUNTIMES) if _RUNTIMES else {}
    # ssh masters of any test home, and any sshd this session started (tests/sshd.py).
    from tests.sshd import STARTED

    mine.update(ssh_processes({*_RUNTIMES, *STARTED}))
    if mine:
        print("\nLEAKED PROCESSES AT SESSION END:", mine)
        session.exitstatus = 1
