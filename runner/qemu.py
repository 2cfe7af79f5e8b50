"""Spawning QEMU as the runner's child: argv list, private socketpairs, parent-death signal.

QEMU (the `binary:`) leads its own process group, whose id is the recorded qemu_pid, so a binary
that wraps QEMU (a script running it as a child) cannot hide the real QEMU: the runner kills the
whole group, and if the runner itself is SIGKILLed (the parent-death signal then reaches only the
wrapper), reconcile kills the group by its identity tag (procs.kill_group_if_tagged).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess

from maqet_tui.protocol.launch import fill_fds, wants_agent

TYPE_CHECKING = False  # typing and dataclasses cost ~10 ms here, on QEMU's critical path
if TYPE_CHECKING:
    from typing import Any

    from maqet_tui.protocol.launch import LaunchSpec


PR_SET_PDEATHSIG = 1


class QemuStartError(Exception):
    """QEMU could not even be executed (missing binary, bad definition)."""


class QemuProcess:
    __slots__ = ("argv", "popen", "qga", "qmp", "serial")

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        qmp: socket.socket,
        serial: socket.socket,
        argv: list[str],
        qga: socket.socket | None = None,
    ) -> None:
        self.popen = popen
        self.qmp = qmp  # our end of the monitor socketpair
        self.serial = serial  # our end of the serial socketpair
        self.qga = qga  # our end of the guest agent channel's socketpair (agent: true only)
        self.argv = argv

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        """SIGKILL QEMU's whole process group. Only while QEMU is not reaped: until then its pid,
        hence the group id, cannot be reused."""
        if self.popen.returncode is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:  # e.g. a setuid binary: at least the process we started
            self.popen.kill()


def _die_with_parent(parent: int) -> Any:
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        # If the runner dies by any means (SIGKILL included), the kernel kills QEMU: no orphans.
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the runner died before prctl took effect
            os._exit(1)

    return preexec


def spawn_qemu(spec: LaunchSpec) -> QemuProcess:
    # The starter validated the definition and built the argv (see config.build_argv); only the
    # fd placeholders are ours to fill, which keeps this path free of heavy imports.
    qmp_ours, qmp_theirs = socket.socketpair()
    ser_ours, ser_theirs = socket.socketpair()
    qga_ours, qga_theirs = socket.socketpair() if wants_agent(spec["argv"]) else (None, None)
    theirs = [s for s in (qmp_theirs, ser_theirs, qga_theirs) if s is not None]
    argv = fill_fds(
        spec["argv"],
        qmp_theirs.fileno(),
        ser_theirs.fileno(),
        qga_theirs.fileno() if qga_theirs is not None else None,
    )
    binary = argv[0]
    try:
        popen = subprocess.Popen(
            argv,
            pass_fds=tuple(s.fileno() for s in theirs),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            process_group=0,  # pgid == pid: see kill()
            preexec_fn=_die_with_parent(os.getpid()),
        )
    except FileNotFoundError:
        raise QemuStartError(f"QEMU binary {binary!r} not found") from None
    except PermissionError:
        raise QemuStartError(f"QEMU binary {binary!r} is not executable") from None
    except OSError as exc:
        raise QemuStartError(f"cannot execute {binary!r}: {exc.strerror or exc}") from None
    finally:
        for sock in theirs:
            sock.close()
    return QemuProcess(popen=popen, qmp=qmp_ours, serial=ser_ours, argv=argv, qga=qga_ours)
