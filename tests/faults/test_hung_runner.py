"""A runner that stops answering (SIGSTOP, wedged): stop still stops, in seconds, and every
command names what does not answer instead of waiting out its whole timeout."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from maqet_tui.common.procs import is_alive, wait_gone
from maqet_tui.core.liveness import find_runner
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli, sigstopped

TinyVM = Callable[..., dict[str, Any]]


@pytest.fixture
def frozen(manager: Manager, tiny_vm: TinyVM) -> Iterator[dict[str, Any]]:
    """vm1 running, its runner SIGSTOPped (continued again at the end, whatever happened)."""
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with sigstopped(vm["runner_pid"], vm["runner_started"]):
        yield vm


def test_force_stop_of_a_frozen_runner_kills_it_in_seconds(
    frozen: dict[str, Any], manager: Manager, env: Env
) -> None:
    """Reported: 115 s with no output, then 'crashed: died without recording why'."""
    t0 = time.monotonic()
    out = run_cli(env, "stop", "vm1", "--force", "--timeout", "1")
    took = time.monotonic() - t0
    assert out.returncode == 0 and "vm1 is stopped" in out.stdout, out.stderr
    assert took < 1 + 5 + 4, f"stop --force --timeout 1 took {took:.1f} s"
    assert "does not answer (process state: stopped by a signal)" in out.stderr
    assert not is_alive(frozen["runner_pid"], frozen["runner_started"])
    assert wait_gone(frozen["qemu_pid"], 5)
    vm = manager.get("vm1")
    assert (vm["status"], vm["last_error"]) == ("stopped", "runner unresponsive, killed")


def test_plain_stop_of_a_frozen_runner_does_not_wait_out_the_grace(
    frozen: dict[str, Any], env: Env
) -> None:
    t0 = time.monotonic()
    out = run_cli(env, "stop", "vm1")  # 30 s of grace for the guest, were the runner alive
    assert out.returncode == 0 and "vm1 is stopped" in out.stdout, out.stderr
    assert time.monotonic() - t0 < 15
    assert find_runner(frozen["id"]) is None


def test_qmp_to_a_frozen_runner_names_it_and_changes_nothing(
    frozen: dict[str, Any], manager: Manager, env: Env
) -> None:
    """Reported: `qmp` waited 60 s. Now it says who does not answer, and the VM stays up."""
    t0 = time.monotonic()
    out = run_cli(env, "qmp", "vm1", "query-status")
    assert out.returncode == 1
    assert time.monotonic() - t0 < 20
    pid = frozen["runner_pid"]
    assert f"the runner (pid {pid}) does not answer (process state: stopped by a signal)" in (
        out.stderr
    )
    assert is_alive(pid, frozen["runner_started"]) and is_alive(frozen["qemu_pid"])
    os.kill(pid, signal.SIGCONT)
    q = run_cli(env, "qmp", "vm1", "query-status")
    assert q.returncode == 0 and json.loads(q.stdout)["status"] == "running"


def test_plain_stop_says_what_it_waits_for(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    """A guest that ignores the ACPI power-down (SeaBIOS, no OS): the user is told why it takes
    the grace period, and what comes after."""
    tiny_vm("vm1")
    manager.start("vm1")
    out = run_cli(env, "stop", "vm1", "--timeout", "2")
    assert out.returncode == 0 and "vm1 is stopped" in out.stdout
    assert "vm1: waiting up to 2 s for the guest to power down" in out.stderr
    assert "--force skips the wait" in out.stderr
