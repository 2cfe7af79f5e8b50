"""The runner process around the Runner: logging set-up, a last-resort record if the runner itself
fails, and an exit without interpreter shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from maqet_tui.common.procs import wait_group_gone

from .logfile import CappedLogHandler
from .qemu import QemuProcess
from .service import Runner

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import FailedReport, LaunchSpec

log = logging.getLogger("runner")

GROUP_EXIT_TIMEOUT = 5.0


def _runner_log(spec: LaunchSpec) -> Path | None:
    """The runner log the starter gave us as stdout and stderr (HOME/logs/ID.runner.log, beside
    the serial log), or None when stderr is anything else (a runner started by hand): only that
    file is ours to rotate."""
    path = Path(spec["serial_log"]).with_name(f"{spec['vm_id']}.runner.log")
    try:
        ours, there = os.fstat(2), os.stat(path)
    except OSError:
        return None
    return path if (ours.st_dev, ours.st_ino) == (there.st_dev, there.st_ino) else None


def _setup_logging(spec: LaunchSpec) -> None:
    """Log to the runner log, capped and rotated like the serial log (see logfile)."""
    path = _runner_log(spec)
    handler = CappedLogHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s runner[{os.getpid()}] %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("qemu.qmp").setLevel(logging.WARNING)


def run(
    spec: LaunchSpec,
    qemu: QemuProcess | None,
    early_error: str | None,
    ready_fd: int,
) -> NoReturn:
    _setup_logging(spec)
    log.info("runner for %s (%s) starting", spec["name"], spec["vm_id"])
    if qemu is not None:
        log.info("qemu pid %d: %s", qemu.pid, " ".join(qemu.argv))
    runner: Runner | None = None
    try:
        runner = Runner(spec, qemu, ready_fd)
        rc = asyncio.run(runner.main(early_error))
    except Exception as exc:  # a bug: leave a record and no QEMU behind, never a silent death
        log.exception("runner failed")
        if qemu is not None and qemu.popen.poll() is None:
            qemu.kill()
        with contextlib.suppress(Exception):
            from maqet_tui.store import models as store

            store.open_db(Path(spec["db_path"]))
            why = f"runner failed: {type(exc).__name__}: {exc}"
            store.end_start(spec["vm_id"], spec["start_token"], "crashed", why)  # not yet claimed
            store.update_vm(
                spec["vm_id"],
                expect_runner=os.getpid(),
                status="crashed",
                last_error=why,
                qemu_pid=None,
                runner_pid=None,
                runner_started=None,
                socket_path=None,
                started_at=None,
            )
        # Only while the starter still waits on the pipe: once the runner reported, that fd
        # number is free and may now be the database's (a write there would wreck it).
        if runner is None or runner.ready_fd is not None:
            failed: FailedReport = {"ok": False, "error": f"runner failed: {exc}"}
            with contextlib.suppress(OSError):
                os.write(ready_fd, json.dumps(failed).encode() + b"\n")
        rc = 1
    # QEMU's group was killed as QEMU exited; nothing of it may outlive the runner.
    if qemu is not None and not wait_group_gone(qemu.pid, GROUP_EXIT_TIMEOUT):
        log.error("processes of QEMU's group %d survived SIGKILL", qemu.pid)
    # Leave at once: no interpreter shutdown (threads, atexit) between the last record and exit.
    logging.shutdown()
    os._exit(rc)
