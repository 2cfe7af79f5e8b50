"""Lifecycle details beyond the seed scenarios: start failures, races, events, stop fallbacks."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import ConfigError, IPCError, StartError, StateError, TimeoutError_
from maqet_tui.common.procs import is_alive
from maqet_tui.core import ipc_client, lifecycle
from maqet_tui.core.liveness import find_runner
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli, wait_for

TinyVM = Callable[..., dict[str, Any]]


def test_missing_kernel_reports_qemus_own_words(
    manager: Manager, tiny_vm: TinyVM, tmp_path: Path
) -> None:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"")
    tiny_vm("vm1", kernel=str(kernel))
    kernel.unlink()  # vanished between add and start
    with pytest.raises(StartError) as err:
        manager.start("vm1")
    msg = str(err.value)
    assert "could not open kernel file" in msg and str(kernel) in msg and "\n" not in msg
    vm = manager.get("vm1")
    assert vm["status"] == "crashed" and str(kernel) in vm["last_error"]
    assert vm["runner_pid"] is None


def test_bad_qemu_argument_reports_qemus_message(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1", qemu_args=["-device", "no-such-device-model"])
    with pytest.raises(StartError, match="no-such-device-model"):
        manager.start("vm1")
    assert manager.get("vm1")["status"] == "crashed"


def test_missing_binary_is_a_clear_error(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1", binary="qemu-system-nonexistent")
    with pytest.raises(StartError, match="'qemu-system-nonexistent' not found"):
        manager.start("vm1")
    vm = manager.get("vm1")
    assert vm["status"] == "crashed" and "not found" in vm["last_error"]
    tiny_vm("vm2")
    assert manager.start("vm2")["status"] == "running"  # nothing else is affected


def test_racing_starts_make_one_runner_and_two_answers(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(Manager(env.home, reconcile=False).start("vm1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == 4
    assert len({r["runner_pid"] for r in results}) == 1
    assert all(r["status"] == "running" for r in results)


def test_qmp_stop_typed_by_anyone_shows_as_paused(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with ipc_client.IPCClient(vm["socket_path"]) as sub:
        sub.call("subscribe", {"topics": ["status", "qmp-event"]})
        manager.qmp("vm1", "stop")  # not manager.pause: the runner must follow the event

        def paused_event() -> bool:
            msg = sub.read_message(timeout=5)
            return msg.get("event") == "status" and msg["data"]["status"] == "paused"

        wait_for(paused_event, timeout=10, what="a paused status event")
    # The runner tells subscribers first and the store right after (its writes retry in order).
    wait_for(lambda: manager.get("vm1")["status"] == "paused", what="the store saying paused")
    manager.qmp("vm1", "cont")
    wait_for(lambda: manager.get("vm1")["status"] == "running", what="running again")
    names = [e["name"] for e in manager.events("vm1") if e["kind"] == "qmp"]
    assert "STOP" in names and "RESUME" in names


def test_pause_resume_record_status(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    manager.start("vm1")
    assert manager.pause("vm1")["status"] == "paused"
    assert manager.qmp("vm1", "query-status")["status"] == "paused"
    assert manager.pause("vm1")["status"] == "paused"  # idempotent
    assert manager.resume("vm1")["status"] == "running"
    assert manager.qmp("vm1", "query-status")["running"] is True


def test_graceful_stop_falls_back_to_quit_when_guest_ignores_acpi(
    manager: Manager, tiny_vm: TinyVM
) -> None:
    """SeaBIOS with no OS ignores the power button: after the grace period, quit follows."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    after = manager.stop("vm1", timeout=0.5)
    assert after["status"] == "stopped" and after["last_error"] is None
    assert not is_alive(vm["qemu_pid"])
    names = [e["name"] for e in manager.events("vm1") if e["kind"] == "qmp"]
    assert "POWERDOWN" in names and "SHUTDOWN" in names


def test_stop_by_signal_when_socket_is_gone(manager: Manager, tiny_vm: TinyVM) -> None:
    """The runner's socket was deleted by someone: stop still works, by SIGTERM to the runner."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    os.unlink(vm["socket_path"])
    after = manager.stop("vm1")
    assert after["status"] == "stopped"
    assert not is_alive(vm["runner_pid"], vm["runner_started"]) and not is_alive(vm["qemu_pid"])


def test_remove_refuses_running_vm_unless_forced(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with pytest.raises(StateError, match="stop it first"):
        manager.remove("vm1")
    assert manager.get("vm1")["status"] == "running"
    manager.remove("vm1", force=True)
    assert manager.list() == []
    assert not is_alive(vm["runner_pid"]) and not is_alive(vm["qemu_pid"])


def test_set_config_only_when_stopped(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    assert manager.set_config("vm1", {"memory": 96})["config"]["memory"] == 96
    manager.start("vm1")
    with pytest.raises(StateError, match="stop it before editing"):
        manager.set_config("vm1", {"memory": 128})
    assert manager.get("vm1")["config"]["memory"] == 96


def test_a_timed_out_start_does_not_come_up_later(
    manager: Manager, tiny_vm: TinyVM, tmp_path: Path
) -> None:
    slow = tmp_path / "slow-qemu"
    slow.write_text('#!/bin/sh\nsleep 2\nexec qemu-system-x86_64 "$@"\n')
    slow.chmod(0o755)
    tiny_vm("vm1", binary=str(slow))
    with pytest.raises(TimeoutError_):
        manager.start("vm1", timeout=1)
    # The runner finds the row no longer waiting for it and stops its QEMU: it stays down.
    wait_for(
        lambda: find_runner(manager.get("vm1")["id"]) is None,
        timeout=20,
        what="the abandoned runner to go",
    )
    vm = manager.get("vm1")
    assert vm["status"] == "crashed" and vm["last_error"] == "start timed out"


def test_stop_timeout_out_of_range_is_refused_not_a_kill(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    manager.start("vm1")
    with pytest.raises(ConfigError, match="timeout"):
        manager.stop("vm1", timeout=5000)
    assert run_cli(env, "stop", "vm1", "--timeout", "5000").returncode == 2
    assert run_cli(env, "stop", "vm1", "--timeout", "nan").returncode == 2
    assert manager.get("vm1")["status"] == "running"


def test_a_call_to_a_vm_that_just_stopped_says_so(manager: Manager, tiny_vm: TinyVM) -> None:
    """A stop landing between a caller's look and its call (8 CLI loops found it): the runner's
    recorded socket is gone, and the answer is "not running", not a connect to an empty path."""
    vm = tiny_vm("vm1")
    with pytest.raises(IPCError, match=r"'vm1' is not running \(status: stopped\)") as caught:
        lifecycle.call(manager.paths, vm["id"], "ping", {}, 5.0)
    assert caught.value.code == "not-running"


def test_a_call_that_races_a_restart_reaches_the_new_runner(
    manager: Manager, tiny_vm: TinyVM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 CLI loops found `resume vm1` failing with "vm1 is stopped" while the VM ran: a stop and a
    start both landed between its look and its call. The call now goes to the runner that is up."""
    tiny_vm("vm1")
    manager.start("vm1")
    first = manager.get("vm1")["runner_pid"]
    real_call = lifecycle.call

    def restarted_under_us(*args: Any) -> Any:
        monkeypatch.setattr(lifecycle, "call", real_call)
        manager.stop("vm1", force=True)
        try:
            return real_call(*args)  # the stop landed: "not running"
        finally:
            manager.start("vm1")  # and a start, before the caller looks again

    monkeypatch.setattr(lifecycle, "call", restarted_under_us)
    assert manager.qmp("vm1", "query-status")["status"] == "running"
    assert manager.get("vm1")["runner_pid"] != first
