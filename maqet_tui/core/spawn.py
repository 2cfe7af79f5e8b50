"""Starting a runner: hand it the launch spec (with the start's token), then wait on its readiness
pipe.

The starter never polls for readiness: the runner writes one JSON line on an inherited pipe when
QMP answers and its socket is serving (or why it failed), and EOF on that pipe means it died.
"""

from __future__ import annotations

import json
import marshal
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from maqet_tui.common.errors import StartError, TimeoutError_
from maqet_tui.common.paths import Paths, fallback_runtime_dir

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import LaunchSpec, Readiness, ReadyReport

_PKG_ROOT = str(Path(__file__).resolve().parent.parent)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            text = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@dataclass
class Launch:
    """A runner on its way up: wait on `ready` for its one-line report."""

    proc: subprocess.Popen[bytes]
    ready: int
    log_path: Path
    spawned_at: float


def launch(paths: Paths, vm: dict[str, Any], argv: list[str], token: str) -> Launch:
    """Spawn the runner for a VM whose start `token` owns; returns at once.

    `vm` is the row the start was claimed on; `argv` is QEMU's command line from
    `config.build_argv`, with the fd placeholders unfilled (protocol.launch).
    """
    vm_id, name = vm["id"], vm["name"]
    spawned_at = time.time()
    st = os.stat(paths.db)
    spec: LaunchSpec = {
        "vm_id": vm_id,
        "name": name,
        "config": vm["config"],
        "created_at": vm["created_at"],
        "argv": argv,
        "start_token": token,
        "spawned_at": spawned_at,
        "db_path": str(paths.db),
        # The database file this start was claimed in: one deleted or replaced before the
        # runner first looks is recognised as such (it registers there instead of giving up).
        "db_identity": (st.st_dev, st.st_ino),
        "socket_path": str(paths.socket(vm_id)),
        "fallback_dir": str(fallback_runtime_dir()),
        "serial_log": str(paths.serial_log(vm_id)),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_ROOT, env.get("PYTHONPATH")) if p)
    log_path = paths.runner_log(vm_id)
    r, w = os.pipe()
    cmd = [
        sys.executable,
        "-m",
        "runner",
        "--vm",
        vm_id,
        "--ready-fd",
        str(w),
    ]
    try:
        # 0600 whatever the umask: it holds QEMU's command line (qemu_args may hold secrets).
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(w,),
                start_new_session=True,
                cwd="/",
                env=env,
            )
        finally:
            os.close(log)
    except OSError as exc:
        os.close(r)
        os.close(w)
        raise StartError(f"cannot start the runner for {name!r}: {exc}") from None
    os.close(w)
    assert proc.stdin is not None
    try:
        proc.stdin.write(marshal.dumps(dict(spec)))  # the runner is this interpreter too
        proc.stdin.close()
    except OSError:
        pass  # it died already: wait_ready reads EOF and reports its log
    return Launch(proc, r, log_path, spawned_at)


def wait_ready(run: Launch, name: str, timeout: float) -> ReadyReport:
    """The runner's report once QMP answers and its socket serves; raises on failure."""
    try:
        line = _read_line(run.ready, timeout)
    finally:
        os.close(run.ready)
        # The first runner process forks and exits at once; reap it so no zombie is left.
        try:
            run.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait()
    if line is None:
        raise TimeoutError_(f"{name!r} did not come up within {timeout:g} s")
    if not line:
        tail = _log_tail(run.log_path)
        raise StartError(
            f"runner for {name!r} exited during start-up" + (f": {tail}" if tail else "")
        )
    report = cast("Readiness", json.loads(line))
    if not report.get("ok"):
        detail = str(report.get("error", "unknown error"))
        raise StartError(f"cannot start {name!r}: {detail}", detail)
    return cast("ReadyReport", report)


def _read_line(fd: int, timeout: float) -> bytes | None:
    """One line from the pipe; b'' on EOF (the writer died), None on timeout."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return buf
        buf += chunk
    return buf.split(b"\n", 1)[0]
