"""The seed's 20 scenarios that prove the per-VM runner architecture, against real QEMU (TCG).

Each test keeps the seed's intent and name. Synchronisation is by events the product exposes
(readiness pipe, pidfd waits inside stop) or by polling with a deadline — never by sleeping.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from maqet_tui.common.errors import IPCError, StartError, StateError
from maqet_tui.common.procs import cmdline, is_alive, start_time, wait_gone
from maqet_tui.core import ipc_client
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from tests.helpers import Env, run_cli, wait_for

TinyVM = Callable[..., dict[str, Any]]


def ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def row(manager: Manager, name: str) -> store.VM:
    store.open_db(manager.paths.db)
    return store.find(name)


# 1-4: runner process lifecycle -----------------------------------------------------------------
def test_spawn_runner_process(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    assert vm["status"] == "running"
    assert is_alive(vm["runner_pid"], vm["runner_started"])
    assert cmdline(vm["runner_pid"])[1:4] == ["-m", "runner", "--vm"]
    sock = os.stat(vm["socket_path"])
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(env.runtime).st_mode) == 0o700
    # Detached: its own session, not a child of the process that started it.
    assert os.getsid(vm["runner_pid"]) != os.getsid(0)
    assert ppid(vm["runner_pid"]) != os.getpid()


def test_runner_starts_qemu(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    assert is_alive(vm["qemu_pid"])
    assert ppid(vm["qemu_pid"]) == vm["runner_pid"]
    argv = cmdline(vm["qemu_pid"])
    assert argv[0] == "qemu-system-x86_64" and f"vm1,process=maqet-{vm['id']}" in argv
    assert manager.qmp("vm1", "query-status")["status"] == "running"


def test_runner_survives_cli_exit(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    """Start from a CLI inside its own terminal session, then hang that session up (SIGHUP to the
    whole process group, as when an SSH connection drops): the VM keeps running."""
    tiny_vm("vm1")
    shell = subprocess.Popen(
        ["bash", "-c", f'"{sys.executable}" -m maqet_tui start vm1 && exec sleep 60'],
        start_new_session=True,
        env={**os.environ, "MAQET_TUI_HOME": str(env.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        vm = wait_for(
            lambda: (v := manager.get("vm1"))["status"] == "running" and v,
            timeout=30,
            what="CLI start",
        )
        os.killpg(shell.pid, signal.SIGHUP)
        assert shell.wait(timeout=10) != 0
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
    assert is_alive(vm["runner_pid"], vm["runner_started"])
    assert manager.qmp("vm1", "query-status")["running"] is True
    assert manager.get("vm1")["status"] == "running"


def test_runner_exits_when_qemu_dies(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.kill(vm["qemu_pid"], signal.SIGKILL)
    assert wait_gone(vm["runner_pid"], 10, vm["runner_started"])
    after = manager.get("vm1")
    assert after["status"] == "crashed"
    assert "SIGKILL" in after["last_error"]
    assert not os.path.exists(vm["socket_path"])
    assert after["runner_pid"] is None and after["qemu_pid"] is None


# 5-8: IPC --------------------------------------------------------------------------------------
def test_qmp_via_ipc(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with ipc_client.IPCClient(vm["socket_path"]) as c:
        assert c.call("qmp", {"command": "query-status"})["status"] == "running"
        version = c.call("qmp", {"command": "query-version"})
        assert version["qemu"]["major"] >= 7
        with pytest.raises(IPCError) as err:
            c.call("qmp", {"command": "no-such-command"})
        assert err.value.code == "qmp-error" and "CommandNotFound" in str(err.value)
        assert c.call("ping") == "pong"  # the connection survives an error


def test_stop_via_ipc(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    result = ipc_client.call(vm["socket_path"], "stop", {"force": True, "timeout": 5})
    assert result["status"] == "stopped"
    assert wait_gone(vm["runner_pid"], 10, vm["runner_started"])
    assert not is_alive(vm["qemu_pid"])
    after = manager.get("vm1")
    assert after["status"] == "stopped" and after["last_error"] is None
    assert not os.path.exists(vm["socket_path"])


def test_ipc_socket_not_found(manager: Manager, env: Env) -> None:
    with pytest.raises(IPCError) as err:
        ipc_client.call(env.runtime / "nope.sock", "ping")
    assert err.value.code == "not-running" and "not found" in str(err.value)


def test_ping_command(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with ipc_client.IPCClient(vm["socket_path"]) as c:
        ids = [c.send("ping") for _ in range(20)]
        answers = {}
        while len(answers) < len(ids):
            msg = c.read_message()
            answers[msg["id"]] = msg["result"]
        assert answers == dict.fromkeys(ids, "pong")
        status = c.call("status")
        assert status["status"] == "running" and status["runner_pid"] == vm["runner_pid"]


# 9-11: process management through the store ----------------------------------------------------
def test_cleanup_dead_processes_on_init(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    """A row claims a runner that died without a word; its socket file is stale."""
    vm = tiny_vm("vm1")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = str(manager.paths.socket(vm["id"]))
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()  # bound, never listening: connecting is refused, like a dead runner's socket
    store.update_vm(
        vm["id"],
        status="running",
        runner_pid=dead.pid,
        runner_started=123,
        qemu_pid=dead.pid,
        socket_path=stale,
    )
    fresh = Manager(env.home)
    after = fresh.get("vm1")
    assert after["status"] == "crashed" and "died" in after["last_error"]
    assert after["runner_pid"] is None and not os.path.exists(stale)


def _other_process_sets(env: Env, vm_id: str, code: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "from pathlib import Path; from maqet_tui.store import models as store;"
                f"store.open_db(Path({str(env.home / 'maqet.db')!r}));{code}"
            ),
        ],
        check=True,
        timeout=30,
    )


def test_runner_detects_db_stop_command(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    _other_process_sets(env, vm["id"], f"store.update_vm({vm['id']!r}, status='stopped')")
    assert wait_gone(vm["runner_pid"], 10, vm["runner_started"])
    assert not is_alive(vm["qemu_pid"])
    after = manager.get("vm1")
    assert after["status"] == "stopped" and after["runner_pid"] is None


def test_runner_detects_vm_deleted(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    _other_process_sets(env, vm["id"], f"store.delete_vm({vm['id']!r})")
    assert wait_gone(vm["runner_pid"], 10, vm["runner_started"])
    assert not is_alive(vm["qemu_pid"])
    assert manager.list() == []
    assert not os.path.exists(vm["socket_path"])


# 12-15: state transitions ----------------------------------------------------------------------
def test_start_already_running_vm(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    tiny_vm("vm1")
    first = manager.start("vm1")
    again = manager.start("vm1")
    assert (again["runner_pid"], again["qemu_pid"]) == (first["runner_pid"], first["qemu_pid"])
    out = run_cli(env, "start", "vm1")
    assert "running" in out.stdout
    assert manager.get("vm1")["runner_pid"] == first["runner_pid"]


def test_start_with_stale_running_status(manager: Manager, tiny_vm: TinyVM) -> None:
    """The row says running, and its runner PID now belongs to an unrelated live process (this
    test itself, with a different start time): it is recognised as dead and never signalled."""
    vm = tiny_vm("vm1")
    me = os.getpid()
    store.update_vm(
        vm["id"],
        status="running",
        runner_pid=me,
        runner_started=(start_time(me) or 0) + 1,
        qemu_pid=me,
        socket_path=str(manager.paths.socket(vm["id"])),
    )
    started = manager.start("vm1")
    assert started["status"] == "running" and started["runner_pid"] != me
    assert manager.qmp("vm1", "query-status")["running"] is True


def test_stop_already_stopped_vm(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    tiny_vm("vm1")
    assert manager.stop("vm1")["status"] == "stopped"
    out = run_cli(env, "stop", "vm1")
    assert out.returncode == 0 and "stopped" in out.stdout
    manager.start("vm1")
    manager.stop("vm1", force=True)
    assert manager.stop("vm1", force=True)["status"] == "stopped"


def test_qmp_on_stopped_vm(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    tiny_vm("vm1")
    with pytest.raises(StateError, match="not running"):
        manager.qmp("vm1", "query-status")
    out = run_cli(env, "qmp", "vm1", "query-status", check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == "error: VM 'vm1' is not running (status: stopped)"
    assert manager.get("vm1")["status"] == "stopped"


# 16-17: crash recovery and resources -----------------------------------------------------------
def test_runner_crash_detection(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.kill(vm["runner_pid"], signal.SIGKILL)
    # The parent-death signal takes QEMU with it: no orphan.
    assert wait_gone(vm["qemu_pid"], 5)
    after = manager.get("vm1")
    assert after["status"] == "crashed" and "runner" in after["last_error"]
    restarted = manager.start("vm1")
    assert restarted["status"] == "running" and restarted["runner_pid"] != vm["runner_pid"]


def test_socket_conflict_resolution(manager: Manager, tiny_vm: TinyVM) -> None:
    vm = tiny_vm("vm1")
    path = str(manager.paths.socket(vm["id"]))
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    assert manager.start("vm1")["status"] == "running"  # the stale file was replaced
    manager.stop("vm1", force=True)
    # A live listener at the path is never stolen: start refuses with a clear error.
    squatter = socket.socket(socket.AF_UNIX)
    squatter.bind(path)
    squatter.listen()
    try:
        with pytest.raises(StartError, match="in use by another live process"):
            manager.start("vm1")
        assert os.path.exists(path)
        assert manager.get("vm1")["status"] == "crashed"
    finally:
        squatter.close()
        os.unlink(path)


# 18-20: several VMs ----------------------------------------------------------------------------
def test_start_multiple_vms(manager: Manager, tiny_vm: TinyVM) -> None:
    names = ["vm1", "vm2", "vm3"]
    for n in names:
        tiny_vm(n)
    vms = [manager.start(n) for n in names]
    assert len({v["runner_pid"] for v in vms}) == 3
    assert len({v["qemu_pid"] for v in vms}) == 3
    assert len({v["socket_path"] for v in vms}) == 3
    for n in names:
        assert manager.qmp(n, "query-status")["running"] is True


def test_stop_one_vm_doesnt_affect_others(manager: Manager, tiny_vm: TinyVM) -> None:
    for n in ("vm1", "vm2", "vm3"):
        tiny_vm(n)
        manager.start(n)
    before = {n: manager.get(n) for n in ("vm1", "vm3")}
    manager.stop("vm2", force=True)
    assert manager.get("vm2")["status"] == "stopped"
    for n, vm in before.items():
        now = manager.get(n)
        assert now["status"] == "running" and now["runner_pid"] == vm["runner_pid"]
        assert manager.qmp(n, "query-status")["running"] is True


def test_rapid_start_stop_cycles(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    seen = set()
    for _ in range(8):
        vm = manager.start("vm1")
        assert vm["status"] == "running"
        seen.add(vm["runner_pid"])
        assert manager.qmp("vm1", "query-status")["running"] is True
        assert manager.stop("vm1", force=True)["status"] == "stopped"
        assert not is_alive(vm["qemu_pid"]) and not is_alive(vm["runner_pid"])
    assert len(seen) == 8
