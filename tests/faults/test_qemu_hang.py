"""A hung QEMU (SIGSTOPped): the runner answers within its own deadline and blames QEMU, refuses
more commands until QEMU answers, and undoes a timed-out pause or resume that lands late."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from maqet_tui.common.errors import IPCError
from maqet_tui.core import ipc_client
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli, sigstopped, wait_for

TinyVM = Callable[..., dict[str, Any]]


@pytest.fixture
def frozen(manager: Manager, tiny_vm: TinyVM) -> Iterator[dict[str, Any]]:
    """A running tiny VM whose QEMU is SIGSTOPped; continued at the end whatever happened."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with sigstopped(vm["qemu_pid"]):
        yield vm


def qemu_status(manager: Manager) -> str | None:
    """QEMU's own run state, or None while the runner still refuses QMP (QEMU unresponsive)."""
    try:
        return str(manager.qmp("vm1", "query-status")["status"])
    except IPCError as exc:
        if exc.code != "qemu-timeout":
            raise
        return None


def qmp_events(manager: Manager) -> list[str]:
    names = [e["name"] for e in manager.events("vm1", 50) if e["kind"] == "qmp"]
    return [n for n in names if n in ("STOP", "RESUME")]


def test_pause_of_a_stopped_qemu_blames_qemu_in_time_and_is_undone(
    manager: Manager, frozen: dict[str, Any], env: Env
) -> None:
    pid = frozen["qemu_pid"]
    t0 = time.monotonic()
    with pytest.raises(IPCError) as err:
        manager.pause("vm1")
    took = time.monotonic() - t0
    assert err.value.code == "qemu-timeout"
    msg = str(err.value)
    assert f"QEMU (pid {pid}) did not answer 'stop' within 10 s" in msg
    assert "stopped by a signal" in msg
    assert took < 15, f"pause took {took:.1f} s to fail"
    # Unresponsive now: further commands are refused at once, not queued behind the first.
    t0 = time.monotonic()
    cli = run_cli(env, "pause", "vm1")
    assert cli.returncode != 0 and "QEMU" in cli.stderr and "stopped by a signal" in cli.stderr
    with pytest.raises(IPCError) as again:
        manager.reset("vm1")
    assert again.value.code == "qemu-timeout"
    assert "has not answered 'stop'" in str(again.value) and "'system_reset' not sent" in str(
        again.value
    )
    assert time.monotonic() - t0 < 5
    assert manager.get("vm1")["status"] == "running"
    os.kill(pid, signal.SIGCONT)
    # The late `stop` lands (STOP event: paused) and is undone (RESUME: running again).
    wait_for(lambda: qmp_events(manager) == ["STOP", "RESUME"], 10, "the late STOP, undone")
    wait_for(lambda: manager.get("vm1")["status"] == "running", 5, "status running again")
    assert qemu_status(manager) == "running"
    assert manager.pause("vm1")["status"] == "paused"  # answering again: commands work


def test_timed_out_resume_is_undone_when_it_lands(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    assert manager.pause("vm1")["status"] == "paused"
    os.kill(vm["qemu_pid"], signal.SIGSTOP)
    try:
        cli = run_cli(env, "resume", "vm1")
        assert cli.returncode != 0
        assert "did not answer 'cont' within 10 s" in cli.stderr
    finally:
        os.kill(vm["qemu_pid"], signal.SIGCONT)
    want = ["STOP", "RESUME", "STOP"]
    wait_for(lambda: qmp_events(manager) == want, 10, "the late RESUME, undone")
    wait_for(lambda: manager.get("vm1")["status"] == "paused", 5, "status paused again")
    assert qemu_status(manager) == "paused"


def test_raw_qmp_timeout_param_says_the_command_may_still_run(
    manager: Manager, frozen: dict[str, Any]
) -> None:
    sock, pid = frozen["socket_path"], frozen["qemu_pid"]
    t0 = time.monotonic()
    with pytest.raises(IPCError) as err:
        ipc_client.call(sock, "qmp", {"command": "query-status", "timeout": 0.5}, timeout=10)
    assert time.monotonic() - t0 < 3
    assert err.value.code == "qemu-timeout"
    assert f"QEMU (pid {pid}) did not answer 'query-status' within 0.5 s" in str(err.value)
    assert "may still run" in str(err.value)
    with pytest.raises(IPCError, match="not answered 'query-status'") as refused:
        ipc_client.call(sock, "qmp", {"command": "query-name"}, timeout=10)
    assert refused.value.code == "qemu-timeout"
    os.kill(pid, signal.SIGCONT)
    # The late answer clears the state: commands go through again.
    wait_for(lambda: qemu_status(manager) == "running", 10, "QMP answering again")


def test_raw_qmp_timeout_must_be_a_positive_number(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    for bad in (0, -1, "1", True, None, float("nan"), float("inf")):
        params = {"command": "query-status", "timeout": bad}
        with pytest.raises(IPCError) as err:
            ipc_client.call(vm["socket_path"], "qmp", params)
        assert err.value.code == "bad-request", bad
    big = {"command": "query-status", "timeout": 10**9}  # capped, not refused
    assert ipc_client.call(vm["socket_path"], "qmp", big)["status"] == "running"
