"""The runner's own log: capped and rotated like the serial log, with stderr following it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from maqet_tui.core.manager import Manager
from tests.helpers import wait_for

TinyVM = Callable[..., dict[str, Any]]
CAP = 8192


def test_runner_log_is_capped_with_one_generation(
    manager: Manager, tiny_vm: TinyVM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAQET_TUI_LOG_CAP", str(CAP))  # read by the runner
    # QEMU traces every QMP command on its stderr, which the runner logs line by line.
    tiny_vm("vm1", qemu_args=["-d", "trace:handle_qmp_command"])
    vm = manager.start("vm1")
    log = manager.paths.runner_log(vm["id"])
    old = log.with_name(log.name + ".1")

    def rotated() -> bool:
        manager.qmp("vm1", "query-status")
        return old.exists() and "handle_qmp_command" in old.read_text()

    wait_for(rotated, timeout=60, what="the runner log to rotate")
    # Stray writes (a traceback, a print) land in the current file, not in the rotated one.
    pid = vm["runner_pid"]
    for fd in (1, 2):
        assert os.readlink(f"/proc/{pid}/fd/{fd}") == str(log)
    manager.stop("vm1", force=True)
    assert log.stat().st_size <= CAP and old.stat().st_size <= CAP
    assert "final status stopped" in log.read_text()  # the newest lines are in the current file
    assert sorted(p.name for p in manager.paths.logs.glob("*.runner.log*")) == [log.name, old.name]
