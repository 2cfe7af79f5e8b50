"""How a QEMU ended, in words, and the status that ending gives the VM (architecture.md,
"Statuses"): an explicit stop ends `stopped` whatever it took; a guest that powers itself off ends
`stopped`; a QEMU that dies by an uncaught signal or an error ends `crashed`, with the reason."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import Any


def describe_exit(rc: int | None) -> str:
    """`rc` as Popen gives it (negative: killed by that signal), in words."""
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


def _last_line(stderr_tail: Iterable[str]) -> str:
    lines = [ln for ln in stderr_tail if ln.strip()]
    return lines[-1] if lines else ""


def start_failure(name: str, stop_reason: str | None, rc: int | None, tail: Iterable[str]) -> str:
    """Why a start failed: cancelled by a stop, or QEMU's exit with its last words."""
    if stop_reason:
        return f"start of {name!r} cancelled: {stop_reason}"
    detail = _last_line(tail)
    return f"QEMU failed to start ({describe_exit(rc)})" + (f": {detail}" if detail else "")


def final_state(
    stop_reason: str | None,
    rc: int | None,
    shutdown: dict[str, Any] | None,
    tail: Iterable[str],
) -> tuple[str, str | None]:
    """(status, last_error) for a QEMU that has exited."""
    if stop_reason is not None:
        return "stopped", None
    if rc == 0:
        if (shutdown or {}).get("reason") == "host-signal":
            return "stopped", "QEMU was terminated by a signal from another process"
        return "stopped", None
    detail = _last_line(tail)
    suffix = f": {detail}" if detail and (rc or 0) > 0 else ""
    return "crashed", f"QEMU {describe_exit(rc)}{suffix}"
