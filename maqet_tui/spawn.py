"""Starting a runner: hand it the VM lock and the launch spec, then wait on its readiness pipe.

The starter never polls for readiness: the runner writes one JSON line on an inherited pipe when
QMP answers and its socket is serving (or why it failed), and EOF on that pipe means it died.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .errors import StartError, TimeoutError_
from .paths import Paths

_PKG_ROOT = str(Path(__file__).resolve().parent.parent)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            text = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def spawn_runner(
    paths: Paths, vm_id: str, name: str, argv: list[str], lock_fd: int, timeout: float
) -> dict[str, Any]:
    """Spawn the runner for a claimed VM and wait until it reports; returns its report.

    `argv` is QEMU's command line from `config.build_argv`, with the fd placeholders unfilled.
    """
    spec = {
        "vm_id": vm_id,
        "name": name,
        "argv": argv,
        "db_path": str(paths.db),
        "socket_path": str(paths.socket(vm_id)),
        "lock_path": str(paths.lock(vm_id)),
        "serial_log": str(paths.serial_log(vm_id)),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_ROOT, env.get("PYTHONPATH")) if p)
    log_path = paths.runner_log(vm_id)
    r, w = os.pipe()
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runner",
                    "--vm",
                    vm_id,
                    "--ready-fd",
                    str(w),
                    "--lock-fd",
                    str(lock_fd),
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(w, lock_fd),
                start_new_session=True,
                cwd="/",
                env=env,
            )
    except OSError as exc:
        os.close(r)
        os.close(w)
        raise StartError(f"cannot start the runner for {name!r}: {exc}") from None
    os.close(w)
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps(spec).encode())
        proc.stdin.close()
        line = _read_line(r, timeout)
    finally:
        os.close(r)
        # The first runner process forks and exits at once; reap it so no zombie is left.
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if line is None:
        raise TimeoutError_(f"{name!r} did not come up within {timeout:g} s")
    if not line:
        tail = _log_tail(log_path)
        raise StartError(
            f"runner for {name!r} exited during start-up" + (f": {tail}" if tail else "")
        )
    report: dict[str, Any] = json.loads(line)
    if not report.get("ok"):
        raise StartError(f"cannot start {name!r}: {report.get('error', 'unknown error')}")
    return report


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
