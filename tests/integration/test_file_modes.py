"""Private files whatever the umask: 0600 files and 0700 directories, and a warning (once per
home) when the home itself is open to other users."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core.disks import create_qcow2
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli

TinyVM = Callable[..., dict[str, Any]]


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default: files 0644 and directories 0755 unless we say otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _db_files(home: Path) -> list[Path]:
    return [p for p in home.glob("maqet.db*") if p.is_file()]


def test_cli_makes_private_files_under_umask_022(env: Env, umask_022: None) -> None:
    results = [
        run_cli(env, "add", "vm1", "--memory", "64", "--accel", "tcg", "--new-disk", "1M"),
        run_cli(env, "start", "vm1"),
    ]
    vm = json.loads(run_cli(env, "ls", "--json", check=True).stdout)[0]
    home = env.home
    files = {
        "runner log": home / "logs" / f"{vm['id']}.runner.log",
        "serial log": home / "logs" / f"{vm['id']}.serial.log",
        "disk": Path(vm["config"]["disks"][0]["file"]),
    }
    results.append(run_cli(env, "stop", "vm1", "--force"))
    for r in results:
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    assert files["disk"].parent == home / "vms" / vm["id"]
    dirs = {"logs": home / "logs", "vms": home / "vms", "vm dir": files["disk"].parent}
    db = _db_files(home)
    assert home / "maqet.db" in db
    assert {str(p): _mode(p) for p in db} == {str(p): 0o600 for p in db}
    assert {k: oct(_mode(p)) for k, p in files.items()} == {k: "0o600" for k in files}
    assert {k: oct(_mode(p)) for k, p in dirs.items()} == {k: "0o700" for k in dirs}


def test_python_api_makes_private_files_under_umask_022(
    manager: Manager, tiny_vm: TinyVM, umask_022: None
) -> None:
    """No console-script umask here: the store, the starter and qemu-img set the modes."""
    vm = tiny_vm("vm1")
    disk = manager.paths.vm_dir(vm["id"]) / "extra.qcow2"
    create_qcow2(disk, "1M")
    manager.start("vm1")
    manager.stop("vm1", force=True)
    paths = [
        disk,
        manager.paths.runner_log(vm["id"]),
        manager.paths.serial_log(vm["id"]),
        *_db_files(manager.paths.home),
    ]
    assert {str(p): oct(_mode(p)) for p in paths} == {str(p): "0o600" for p in paths}
    assert _mode(disk.parent) == 0o700


def test_open_home_is_warned_about_once(env: Env) -> None:
    env.home.chmod(0o755)  # the test's own directory, standing in for a user's --home
    first, second = run_cli(env, "ls"), run_cli(env, "ls")
    assert first.returncode == 0 and second.returncode == 0
    assert first.stderr == (
        f"warning: {env.home} is readable by other users (mode 0755); "
        f"VM logs and definitions may be exposed — chmod 700 {env.home}\n"
    )
    assert second.stderr == ""
    assert _mode(env.home) == 0o755  # the user's directory: told, never changed
