"""Runner entry point: `python -m runner --vm ID --ready-fd N`, launch spec on stdin.

`--vm` is only there so `ps` (and the test suite's leak check) can tell which VM a runner serves.

Order matters for start-up latency: QEMU is spawned before asyncio, qemu.qmp or peewee are
imported, so those imports (~100 ms) overlap QEMU's own start instead of adding to it.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # no typing import before QEMU is spawned
if TYPE_CHECKING:
    from maqet_tui.protocol.launch import LaunchSpec


def _arg(name: str) -> int:
    try:
        return int(sys.argv[sys.argv.index(name) + 1])
    except (ValueError, IndexError):
        sys.stderr.write(f"usage: python -m runner --vm ID --ready-fd N < spec ({name})\n")
        raise SystemExit(2) from None


def main() -> int:
    # Logs, and whatever QEMU creates, are private whatever umask the starter had (a library user
    # of the manager need not have gone through the console script's umask).
    os.umask(0o077)
    ready_fd = _arg("--ready-fd")
    # marshal, not json: same interpreter on both ends, and json (with re) costs ~7 ms here,
    # before QEMU is spawned.
    spec: LaunchSpec = marshal.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # Detach for good: the starter reaps this first process at once, and the runner proper is
    # re-parented to init, so a long-lived TUI never collects zombie runners.
    if os.fork() > 0:
        os._exit(0)

    from .qemu import QemuStartError, spawn_qemu

    try:
        qemu = spawn_qemu(spec)
    except QemuStartError as exc:
        qemu = None
        early_error: str | None = str(exc)
    else:
        early_error = None

    from .process import run

    run(spec, qemu, early_error, ready_fd=ready_fd)


if __name__ == "__main__":
    sys.exit(main())
