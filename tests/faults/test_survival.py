"""VMs survive the ordinary SSH routine: another session's environment, a removed runtime
directory, a deleted database. Dead only on proof; every session reaches every VM."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.procs import is_alive
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli, wait_for

TinyVM = Callable[..., dict[str, Any]]


def cli(env: Env, *args: str, **extra: str | None) -> subprocess.CompletedProcess[str]:
    """The CLI in another session: its environment differs from the starter's by `extra`
    (a value of None removes the variable)."""
    e = {**os.environ, "MAQET_TUI_HOME": str(env.home)}
    for k, v in extra.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return subprocess.run(
        [sys.executable, "-m", "maqet_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=e,
        cwd=extra.get("CWD") or None,
    )


@pytest.fixture
def elsewhere() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mqo-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def status_of(env: Env, name: str, **extra: str | None) -> dict[str, Any]:
    out = cli(env, "show", name, "--json", **extra)
    assert out.returncode == 0, out.stderr
    vm: dict[str, Any] = json.loads(out.stdout)
    return vm


def test_ls_from_another_runtime_dir_does_not_kill_the_vm(
    manager: Manager, tiny_vm: TinyVM, env: Env, elsewhere: Path
) -> None:
    """Reported: `ls` with another MAQET_TUI_RUNTIME_DIR SIGKILLed a healthy VM's QEMU."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    other = {"MAQET_TUI_RUNTIME_DIR": str(elsewhere)}
    listing = json.loads(cli(env, "ls", "--json", **other).stdout)
    assert [v["status"] for v in listing] == ["running"]
    assert is_alive(vm["qemu_pid"]) and is_alive(vm["runner_pid"], vm["runner_started"])
    q = cli(env, "qmp", "vm1", "query-status", **other)
    assert q.returncode == 0 and json.loads(q.stdout)["status"] == "running"
    out = cli(env, "stop", "vm1", "--force", **other)
    assert out.returncode == 0 and "vm1 is stopped" in out.stdout


def test_a_session_without_runtime_variables_reaches_the_vm(
    tiny_vm: TinyVM, env: Env, elsewhere: Path
) -> None:
    """Started from an SSH login (XDG_RUNTIME_DIR set), used from cron or `su` (none set)."""
    tiny_vm("vm1")
    xdg = elsewhere / "xdg"
    xdg.mkdir(mode=0o700)
    login = {"MAQET_TUI_RUNTIME_DIR": None, "XDG_RUNTIME_DIR": str(xdg)}
    assert cli(env, "start", "vm1", **login).returncode == 0
    vm = status_of(env, "vm1", MAQET_TUI_RUNTIME_DIR=None, XDG_RUNTIME_DIR=None)
    assert vm["status"] == "running"
    assert Path(vm["socket_path"]).parent == xdg / "maqet-tui"  # where the contract says
    shutil.rmtree(xdg)  # logind removes /run/user/UID at the last logout
    cron = {"MAQET_TUI_RUNTIME_DIR": None, "XDG_RUNTIME_DIR": None}
    q = cli(env, "qmp", "vm1", "query-status", **cron)
    assert q.returncode == 0 and json.loads(q.stdout)["status"] == "running"
    assert "vm1 is stopped" in cli(env, "stop", "vm1", "--force", **cron).stdout


def test_removed_runtime_dir_does_not_kill_and_the_socket_comes_back(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    """Reported: `rm -rf` of the runtime directory, then `ls`, killed the VM."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    shutil.rmtree(env.runtime)
    listing = json.loads(run_cli(env, "ls", "--json").stdout)
    assert listing[0]["status"] == "running" and is_alive(vm["qemu_pid"])
    # The runner binds its socket again, in a private directory, at the path the store records.
    wait_for(lambda: os.path.exists(vm["socket_path"]), timeout=10, what="the socket to return")
    assert stat.S_IMODE(os.stat(env.runtime).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(vm["socket_path"]).st_mode)
    assert stat.S_IMODE(os.stat(vm["socket_path"]).st_mode) == 0o600
    q = run_cli(env, "qmp", "vm1", "query-status")
    assert q.returncode == 0 and json.loads(q.stdout)["status"] == "running"
    assert "vm1 is stopped" in run_cli(env, "stop", "vm1", "--force").stdout


def test_runtime_dir_that_cannot_be_made_again_falls_back_to_tmp(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    shutil.rmtree(env.runtime)
    env.runtime.write_text("not a directory")  # as a removed /run/user/UID is for a user
    try:
        moved = wait_for(
            lambda: (s := status_of(env, "vm1"))["socket_path"] != vm["socket_path"] and s,
            timeout=10,
            what="the runner to serve at its fallback",
        )
        assert Path(moved["socket_path"]).parent == Path(f"/tmp/maqet-tui-{os.getuid()}")
        assert moved["status"] == "running" and is_alive(vm["qemu_pid"])
        q = run_cli(env, "qmp", "vm1", "query-status")
        assert q.returncode == 0 and json.loads(q.stdout)["status"] == "running"
        assert "vm1 is stopped" in run_cli(env, "stop", "vm1", "--force").stdout
    finally:
        env.runtime.unlink()
        env.runtime.mkdir(mode=0o700)


def test_relative_runtime_dir_from_another_cwd(tiny_vm: TinyVM, env: Env, elsewhere: Path) -> None:
    tiny_vm("vm1")
    (elsewhere / "a").mkdir()
    (elsewhere / "b").mkdir()
    rel = {"MAQET_TUI_RUNTIME_DIR": "rt", "CWD": str(elsewhere / "a")}
    assert cli(env, "start", "vm1", **rel).returncode == 0
    other = {"MAQET_TUI_RUNTIME_DIR": "rt", "CWD": str(elsewhere / "b")}
    assert status_of(env, "vm1", **other)["status"] == "running"
    assert "vm1 is stopped" in cli(env, "stop", "vm1", "--force", **other).stdout


def test_deleted_database_is_rebuilt_by_its_live_runners(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    """Reported: with the database deleted, running VMs became invisible and unstoppable."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{env.home}/maqet.db{suffix}").unlink(missing_ok=True)

    def listed() -> list[dict[str, Any]]:
        out = run_cli(env, "ls", "--json")
        return json.loads(out.stdout) if out.returncode == 0 else []

    back = wait_for(listed, timeout=10, what="the runner to record itself again")
    assert [(v["id"], v["name"], v["status"]) for v in back] == [(vm["id"], "vm1", "running")]
    assert back[0]["config"] == vm["config"] and back[0]["qemu_pid"] == vm["qemu_pid"]
    again = run_cli(env, "add", "vm1", "--memory", "64")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "vm1 is stopped" in run_cli(env, "stop", "vm1", "--force").stdout
    assert not is_alive(vm["qemu_pid"])


def test_replaced_database_with_the_name_taken(
    manager: Manager, tiny_vm: TinyVM, env: Env, elsewhere: Path
) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    other = Manager(elsewhere / "home")
    newer = other.add("vm1", {"memory": 64, "accel": "tcg"})
    other_db = sqlite3.connect(elsewhere / "home" / "maqet.db")
    other_db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    other_db.close()
    shutil.copy(elsewhere / "home" / "maqet.db", env.home / "new.db")
    os.replace(env.home / "new.db", env.home / "maqet.db")

    def both() -> dict[str, str]:
        listing = json.loads(run_cli(env, "ls", "--json").stdout)
        return {v["id"]: v["name"] for v in listing} if len(listing) == 2 else {}

    names = wait_for(both, timeout=10, what="the runner to record itself in the new database")
    assert names == {newer["id"]: "vm1", vm["id"]: f"vm1-{vm['id']}"}
    out = run_cli(env, "stop", vm["id"], "--force")
    assert out.returncode == 0 and not is_alive(vm["qemu_pid"])
