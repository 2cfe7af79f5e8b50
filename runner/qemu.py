"""Spawning QEMU as the runner's child: argv list, private socketpairs, parent-death signal."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

from maqet_tui.config import VMConfig, build_argv

PR_SET_PDEATHSIG = 1


class QemuStartError(Exception):
    """QEMU could not even be executed (missing binary, bad definition)."""


@dataclass
class QemuProcess:
    popen: subprocess.Popen[bytes]
    qmp: socket.socket  # our end of the monitor socketpair
    serial: socket.socket  # our end of the serial socketpair
    argv: list[str]

    @property
    def pid(self) -> int:
        return self.popen.pid


def _die_with_parent(parent: int) -> Any:
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        # If the runner dies by any means (SIGKILL included), the kernel kills QEMU: no orphans.
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the runner died before prctl took effect
            os._exit(1)

    return preexec


def spawn_qemu(spec: dict[str, Any]) -> QemuProcess:
    try:
        cfg = VMConfig.from_dict(spec["config"], check_files=False)
    except Exception as exc:
        raise QemuStartError(f"invalid definition: {exc}") from None
    qmp_ours, qmp_theirs = socket.socketpair()
    ser_ours, ser_theirs = socket.socketpair()
    argv = build_argv(spec["vm_id"], spec["name"], cfg, qmp_theirs.fileno(), ser_theirs.fileno())
    try:
        popen = subprocess.Popen(
            argv,
            pass_fds=(qmp_theirs.fileno(), ser_theirs.fileno()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent(os.getpid()),
        )
    except FileNotFoundError:
        raise QemuStartError(f"QEMU binary {cfg.binary!r} not found") from None
    except PermissionError:
        raise QemuStartError(f"QEMU binary {cfg.binary!r} is not executable") from None
    except OSError as exc:
        raise QemuStartError(f"cannot execute {cfg.binary!r}: {exc.strerror or exc}") from None
    finally:
        qmp_theirs.close()
        ser_theirs.close()
    return QemuProcess(popen=popen, qmp=qmp_ours, serial=ser_ours, argv=argv)
