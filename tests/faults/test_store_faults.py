"""A busy or full store never takes a VM down, never hides one, and is named for what it is:
the runner acts first and records afterwards (retrying), reads never wait for the write lock."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.procs import is_alive, wait_gone
from maqet_tui.core.liveness import find_runner
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from tests.helpers import Env, run_cli, wait_for

TinyVM = Callable[..., dict[str, Any]]


@contextlib.contextmanager
def write_locked(db: Path) -> Iterator[None]:
    """Another process's long write transaction (as a stuck or slow writer would hold it)."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def stored(manager: Manager, name: str) -> dict[str, Any]:
    store.close_db()  # a fresh read of what others wrote
    return manager.get(name)


def test_force_stop_acts_while_the_store_is_locked(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    """Reported: a failed store write inside the stop sequence killed it; the CLI then waited
    115 s and SIGKILLed the runner."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with write_locked(manager.paths.db):
        out = run_cli(env, "stop", "vm1", "--force")
        assert out.returncode == 0 and "vm1 is stopped" in out.stdout, out.stderr
        assert not is_alive(vm["qemu_pid"])  # QEMU went before the store could say so
    wait_for(lambda: stored(manager, "vm1")["status"] == "stopped", timeout=15, what="the record")
    assert wait_gone(vm["runner_pid"], 10, vm["runner_started"])
    assert stored(manager, "vm1")["last_error"] is None


def test_pause_while_locked_says_what_it_did_and_the_record_lands(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    manager.start("vm1")
    with write_locked(manager.paths.db):
        out = run_cli(env, "pause", "vm1")
        assert out.returncode == 0 and "vm1 is paused" in out.stdout, out.stderr
        assert stored(manager, "vm1")["status"] == "running"  # not written yet
    wait_for(lambda: stored(manager, "vm1")["status"] == "paused", timeout=15, what="the record")


def test_ls_answers_at_once_while_another_process_writes(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    """Reported: `ls` failed after 15 s with "database is locked" (reconcile wrote every row)."""
    tiny_vm("vm1")
    ghost = tiny_vm("vm2")
    manager.start("vm1")
    store.update_vm(ghost["id"], status="running", runner_pid=999_999, runner_started=1)
    store.close_db()
    with write_locked(manager.paths.db):
        t0 = time.monotonic()
        out = run_cli(env, "ls", "--json")
        assert out.returncode == 0, out.stderr
        assert time.monotonic() - t0 < 10
        shown = {v["name"]: v["status"] for v in json.loads(out.stdout)}
        assert shown == {"vm1": "running", "vm2": "crashed"}  # the truth, written later
    run_cli(env, "ls")
    assert stored(manager, "vm2")["status"] == "crashed"


@pytest.fixture
def small_home(env: Env) -> Iterator[Path]:
    """The home on a 4 MiB tmpfs, so the disk can really be filled (mounting needs root)."""
    if os.getuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(env.home)], check=True
    )
    try:
        yield env.home
    finally:
        store.close_db()
        subprocess.run(["umount", "-l", str(env.home)], check=False)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_full_disk_is_named_and_loses_nothing(small_home: Path, env: Env) -> None:
    m = Manager(env.home)
    m.add("vm1", {"memory": 64, "accel": "tcg"})
    m.add("vm2", {"memory": 64, "accel": "tcg"})
    vm = m.start("vm1")
    try:
        # The runner's own store connection is up once it has recorded a change itself.
        assert run_cli(env, "pause", "vm1").returncode == 0
        assert run_cli(env, "resume", "vm1").returncode == 0
        wait_for(lambda: stored(m, "vm1")["status"] == "running", timeout=15, what="the runner")
        store.close_db()
        con = sqlite3.connect(small_home / "maqet.db")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every write must now grow the WAL
        con.close()
        filler = fill(small_home)
        out = run_cli(env, "start", "vm2")
        assert out.returncode == 1
        assert out.stderr.startswith("error: no space left on device"), out.stderr
        assert "rollback" not in out.stderr
        vm2 = json.loads(run_cli(env, "show", "vm2", "--json").stdout)
        assert vm2["status"] == "stopped" and find_runner(vm2["id"]) is None  # nothing started
        paused = run_cli(env, "pause", "vm1")
        assert paused.returncode == 0 and "vm1 is paused" in paused.stdout, paused.stderr
        filler.unlink()
        wait_for(lambda: stored(m, "vm1")["status"] == "paused", timeout=15, what="the record")
    finally:
        m.stop("vm1", force=True)
    assert not is_alive(vm["qemu_pid"])
