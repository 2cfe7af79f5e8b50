"""Faults injected for real: killed runners and QEMUs, a simulated host reboot, hostile runtime
directories, another uid at the socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from maqet_tui.common.errors import ConfigError, StartError
from maqet_tui.common.procs import is_alive, start_time, wait_gone
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from tests.helpers import Env, run_cli, wait_for

TinyVM = Callable[..., dict[str, Any]]


def test_sigkill_runner_takes_qemu_and_reads_crashed(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.kill(vm["runner_pid"], signal.SIGKILL)
    t0 = time.monotonic()
    assert wait_gone(vm["qemu_pid"], 5)
    assert time.monotonic() - t0 < 1.0, "QEMU outlived its runner by more than a second"
    shown = json.loads(run_cli(env, "show", "vm1", "--json").stdout)
    assert shown["status"] == "crashed" and "runner" in shown["last_error"]
    assert "crashed" in run_cli(env, "ls").stdout
    assert not os.path.exists(vm["socket_path"])
    assert manager.start("vm1")["status"] == "running"


def test_sigkill_qemu_is_recorded_with_the_signal(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.kill(vm["qemu_pid"], signal.SIGKILL)
    t0 = time.monotonic()
    assert wait_gone(vm["runner_pid"], 5, vm["runner_started"])
    assert time.monotonic() - t0 < 1.0, "the runner took over a second to notice"
    row = manager.get("vm1")
    assert row["status"] == "crashed" and row["last_error"] == "QEMU killed by SIGKILL"
    assert not os.path.exists(vm["socket_path"])


def test_sigterm_to_runner_is_an_orderly_stop(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.kill(vm["runner_pid"], signal.SIGTERM)
    assert wait_gone(vm["runner_pid"], 10, vm["runner_started"])
    assert not is_alive(vm["qemu_pid"])
    assert manager.get("vm1")["status"] == "stopped"


def test_host_reboot_simulation(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    """Rows claim running, no process exists, sockets and lock files are stale."""
    vms = [tiny_vm(f"vm{i}") for i in range(4)]
    for i, vm in enumerate(vms):
        sock = str(manager.paths.socket(vm["id"]))
        s = socket.socket(socket.AF_UNIX)
        s.bind(sock)
        s.close()
        store.update_vm(
            vm["id"],
            status=["running", "paused", "starting", "stopping"][i],
            runner_pid=999_999 - i,
            runner_started=1,
            qemu_pid=999_990 - i,
            socket_path=sock,
            started_at=time.time(),
        )
    store.close_db()
    listing = json.loads(run_cli(env, "ls", "--json").stdout)
    assert [v["status"] for v in listing] == ["crashed", "crashed", "crashed", "stopped"]
    assert all(v["runner_pid"] is None and v["socket_path"] is None for v in listing)
    assert not any(p.suffix == ".sock" for p in env.runtime.iterdir())
    assert run_cli(env, "start", "vm0").returncode == 0
    assert run_cli(env, "stop", "vm0", "--force").returncode == 0


def test_shared_runtime_dir_is_never_chmodded(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    """A directory we did not make (1777 like /tmp) keeps its mode: sockets go in a private
    subdirectory."""
    os.chmod(env.runtime, 0o1777)
    tiny_vm("vm1")
    vm = Manager(env.home).start("vm1")
    assert stat.S_IMODE(os.stat(env.runtime).st_mode) == 0o1777
    sub = env.runtime / f"maqet-tui-{os.getuid()}"
    assert os.path.dirname(vm["socket_path"]) == str(sub)
    assert stat.S_IMODE(os.stat(sub).st_mode) == 0o700
    assert Manager(env.home).stop("vm1", force=True)["status"] == "stopped"
    os.chmod(env.runtime, 0o700)
    sub.rmdir()


def test_private_subdir_owned_by_someone_else_is_refused(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    os.chmod(env.runtime, 0o755)
    sub = env.runtime / f"maqet-tui-{os.getuid()}"
    sub.mkdir()
    os.chown(sub, 65534, 65534)
    try:
        with pytest.raises(ConfigError, match="owned by uid 65534"):
            Manager(env.home).start("vm1")
        out = run_cli(env, "start", "vm1")
        assert out.returncode == 1 and "owned by uid 65534" in out.stderr
        assert run_cli(env, "ls").returncode == 0  # reads never depend on it
        assert manager.get("vm1")["status"] == "stopped"  # nothing changed
    finally:
        sub.rmdir()
        os.chmod(env.runtime, 0o700)


def test_runtime_path_that_is_a_file_is_refused(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = env.home / "not-a-dir"
    env.home.mkdir(exist_ok=True)
    bogus.write_text("x")
    monkeypatch.setenv("MAQET_TUI_RUNTIME_DIR", str(bogus))
    m = Manager(env.home)
    m.add("vm1", {"memory": 64})
    with pytest.raises(ConfigError, match="runtime directory"):
        m.start("vm1")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as a second user")
def test_other_uid_is_refused_by_the_runner(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    """Even with the directory and socket opened up by mistake, SO_PEERCRED keeps others out."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.chmod(env.runtime, 0o711)
    os.chmod(vm["socket_path"], 0o666)
    probe = (
        "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        'try: s.sendall(b\'{"id": 1, "method": "stop", "params": {"force": true}}\\n\')\n'
        "except BrokenPipeError: pass  # refused and closed before we even asked\n"
        "print(s.makefile().readline())"
    )
    # The project venv lives under /root, out of nobody's reach: use the system interpreter.
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    out = subprocess.run(
        [python, "-c", probe, vm["socket_path"]],
        user=65534,
        group=65534,
        capture_output=True,
        text=True,
        timeout=30,
    )
    answer = json.loads(out.stdout)
    assert answer["error"]["code"] == "permission-denied" and "65534" in answer["error"]["message"]
    os.chmod(env.runtime, 0o700)
    assert manager.get("vm1")["status"] == "running"
    assert manager.qmp("vm1", "query-status")["running"] is True


def test_pid_reuse_never_signals_the_unrelated_process(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    """The row's runner and QEMU PIDs now belong to an innocent process: it is recognised as not
    ours (start time for the runner, argv for QEMU), reconciled around, and left alone."""
    vm = tiny_vm("vm1")
    innocent = subprocess.Popen(["sleep", "60"])
    try:
        wait_for(lambda: is_alive(innocent.pid), what="the innocent process")
        store.update_vm(
            vm["id"],
            status="running",
            runner_pid=innocent.pid,
            runner_started=(start_time(innocent.pid) or 0) - 1,
            qemu_pid=innocent.pid,
            socket_path=str(manager.paths.socket(vm["id"])),
        )
        assert run_cli(env, "stop", "vm1").returncode == 0
        assert manager.get("vm1")["status"] == "crashed"
        assert manager.start("vm1")["status"] == "running"
        manager.stop("vm1", force=True)
        assert innocent.poll() is None, "an unrelated process was signalled"
    finally:
        innocent.kill()
        innocent.wait()


def test_port_in_use_reports_qemus_message(manager: Manager, tiny_vm: TinyVM) -> None:
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        tiny_vm(
            "vm1",
            qemu_args=[
                "-netdev",
                f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
                "-device",
                "virtio-net-pci,netdev=n0",
            ],
        )
        with pytest.raises(StartError) as err:
            manager.start("vm1")
        assert f"{port}" in str(err.value) and "\n" not in str(err.value)
        vm = manager.get("vm1")
        assert vm["status"] == "crashed" and f"{port}" in vm["last_error"]
    finally:
        busy.close()
