"""A `binary:` that wraps QEMU (a script running it as a child) must not leak the real QEMU: it runs
in QEMU's process group, which the runner kills whole, and which reconcile kills after a runner
died by SIGKILL."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.procs import cmdline, is_alive, wait_gone
from maqet_tui.core.config import identity_tag
from maqet_tui.core.manager import Manager
from tests.conftest import TINY
from tests.helpers import wait_for

WRAPPER = '#!/bin/sh\nqemu-system-x86_64 "$@"\n'


@pytest.fixture
def wrapped(manager: Manager, tmp_path: Path) -> Callable[[str], dict[str, Any]]:
    script = tmp_path / "wrap.sh"
    script.write_text(WRAPPER)
    script.chmod(0o755)

    def add(name: str) -> dict[str, Any]:
        return manager.add(name, {**TINY, "binary": str(script)})

    return add


def real_qemus(vm_id: str) -> list[int]:
    """Live QEMU processes (not the wrapper shell) carrying the VM's identity tag."""
    tag, found = identity_tag(vm_id), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and is_alive(int(entry)):
            argv = cmdline(int(entry))
            if argv and argv[0].endswith("qemu-system-x86_64") and any(tag in a for a in argv):
                found.append(int(entry))
    return found


@pytest.fixture
def stopped_pids() -> Iterator[list[int]]:
    """Processes a test SIGSTOPs: continued at the end whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_alive(pid):
            os.kill(pid, signal.SIGCONT)


def test_sigkilled_runner_leaves_no_wrapped_qemu_after_reconcile(
    manager: Manager, wrapped: Callable[[str], dict[str, Any]]
) -> None:
    vm = wrapped("vm1")
    row = manager.start("vm1")
    assert row["status"] == "running"
    (qemu,) = wait_for(lambda: real_qemus(vm["id"]), 5, "the real QEMU under the wrapper")
    assert qemu != row["qemu_pid"]  # the recorded pid is the wrapper's
    os.kill(row["runner_pid"], signal.SIGKILL)
    assert wait_gone(row["runner_pid"], 5)
    manager.reconcile()
    assert manager.get("vm1")["status"] == "crashed"
    assert wait_gone(qemu, 5), "the wrapped QEMU outlived its runner and reconcile"
    # Started again, a graceful stop (the guest ignores ACPI: then quit) leaves nothing either.
    row = manager.start("vm1")
    wait_for(lambda: real_qemus(vm["id"]), 5, "the real QEMU under the wrapper")
    assert manager.stop("vm1", timeout=0.5)["status"] == "stopped"
    assert not is_alive(row["runner_pid"], row["runner_started"])
    assert not real_qemus(vm["id"]) and not is_alive(row["qemu_pid"])


def test_dead_wrapper_takes_the_real_qemu_with_it(
    manager: Manager, wrapped: Callable[[str], dict[str, Any]]
) -> None:
    vm = wrapped("vm1")
    row = manager.start("vm1")
    (qemu,) = wait_for(lambda: real_qemus(vm["id"]), 5, "the real QEMU under the wrapper")
    os.kill(row["qemu_pid"], signal.SIGKILL)  # the wrapper only
    assert wait_gone(row["runner_pid"], 5, row["runner_started"])
    assert not real_qemus(vm["id"]), "the runner exited leaving the wrapped QEMU running"
    assert manager.get("vm1")["status"] == "crashed"
    assert not is_alive(qemu)


def test_forced_stop_of_frozen_wrapped_qemu_kills_the_whole_group(
    manager: Manager, wrapped: Callable[[str], dict[str, Any]], stopped_pids: list[int]
) -> None:
    """QEMU ignores `quit` (SIGSTOPped): the runner's last resort must reach the real QEMU."""
    vm = wrapped("vm1")
    row = manager.start("vm1")
    (qemu,) = wait_for(lambda: real_qemus(vm["id"]), 5, "the real QEMU under the wrapper")
    stopped_pids.append(qemu)
    os.kill(qemu, signal.SIGSTOP)
    assert manager.stop("vm1", force=True)["status"] == "stopped"
    assert not is_alive(row["runner_pid"], row["runner_started"])
    assert not is_alive(qemu), "the frozen QEMU under the wrapper survived the stop"
