"""A real OpenSSH server on 127.0.0.1 for the fleet tests and benchmarks: its own host key, its
own authorized_keys holding a client key made here, a random port; and the hosts' view of it.

Nothing here listens beyond 127.0.0.1. Each server's directory is in STARTED, which the
session's final leak sweep looks for (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import Env, wait_for

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"  # sbin is not on every user's PATH
REPO = Path(__file__).resolve().parents[1]
PREFIX = "mqsshd-"
STARTED: set[str] = set()
"""The directories of the servers this process started: the session's final leak sweep looks for
sshds naming them (and only them: another session's servers are not ours)."""


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maqet-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (sshd's per-connection processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


class Sshd:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
        STARTED.add(str(self.dir))
        self.port = _free_port()
        self.user = getpass.getuser()
        self.client_key = self.dir / "client"
        self.wrong_key = self.dir / "wrong"
        for key in (self.dir / "host", self.client_key, self.wrong_key):
            _keygen(key)
        shutil.copy(self.dir / "client.pub", self.dir / "authorized_keys")
        host_pub = (self.dir / "host.pub").read_text().split()
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                (
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.dir / 'host'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    "PidFile none",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "PrintMotd no",
                    "MaxSessions 64",
                    "MaxStartups 64",
                    "",
                )
            )
        )
        if os.getuid() == 0:  # the privilege-separation directory sshd insists on
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = open(self.dir / "sshd.log", "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        wait_for(self._listening, 10, "sshd to listen")

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited: {(self.dir / 'sshd.log').read_text()}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def ssh_options(self, key: Path | None = None) -> list[str]:
        """The --ssh-option values a host on this server needs."""
        return [
            f"Port={self.port}",
            f"IdentityFile={key or self.client_key}",
            "IdentitiesOnly=yes",
            f"UserKnownHostsFile={self.known_hosts}",
            "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
        ]

    def destination(self) -> str:
        return f"{self.user}@127.0.0.1"

    def stop(self) -> list[str]:
        """Stop the server; problems: per-connection processes that outlived it (killed)."""
        kids = children(self.proc.pid)
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        problems = []
        deadline = time.monotonic() + 5
        left = [k for k in kids if Path(f"/proc/{k}").exists()]
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [k for k in left if Path(f"/proc/{k}").exists()]
        for pid in left:
            problems.append(f"sshd connection process {pid} outlived its server")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def remote_command(remote: Env) -> str:
    """--command for a "host" that is this machine with its own home and runtime directory,
    running this checkout with the suite's own interpreter."""
    return (
        f"env MAQET_TUI_HOME={remote.home} MAQET_TUI_RUNTIME_DIR={remote.runtime} "
        f"MAQET_TUI_ACCEL=tcg PYTHONPATH={REPO} {sys.executable} -m maqet_tui"
    )
