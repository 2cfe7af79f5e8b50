"""The system `ssh`, as an argv (never a shell string here): one shared connection per host.

Every call uses BatchMode (no password or passphrase prompt ever: a host that wants one fails
with a hint about keys and agents instead), a connect timeout, and connection sharing
(ControlMaster=auto, ControlPersist=60s) through a socket in a private 0700 directory under the
runtime directory, so that after the first command each one costs one round trip. The host's own
`--ssh-option`s come before ours except BatchMode: ssh keeps the first value it is given, so a
user's ConnectTimeout or ControlPath wins while BatchMode=yes always does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from maqet_tui.common.paths import Paths, ensure_private_dir, fallback_runtime_dir
from maqet_tui.fleet.hostspec import HostSpec

SSH = "ssh"
CONNECT_TIMEOUT_ENV = "MAQET_TUI_SSH_CONNECT_TIMEOUT"
CONNECT_TIMEOUT_DEFAULT = 10
PERSIST = "60s"
_SOCK_MAX = 100
"""ControlPath limit with room to spare: AF_UNIX allows 107 bytes and ssh first binds the path
plus a 17-character temporary suffix."""


def connect_timeout() -> int:
    try:
        return max(1, int(os.environ.get(CONNECT_TIMEOUT_ENV, "")))
    except ValueError:
        return CONNECT_TIMEOUT_DEFAULT


def control_dir(paths: Paths) -> Path:
    """The 0700 directory of the control sockets; %C (a 40-character hash of the connection)
    keeps each path short whatever the destination is called."""
    d = ensure_private_dir(paths.runtime / "ssh")
    if len(str(d)) + 1 + 40 + 17 > _SOCK_MAX:
        d = ensure_private_dir(fallback_runtime_dir() / "ssh")
    return d


def base_argv(spec: HostSpec, paths: Paths, tty: bool = False) -> list[str]:
    """ssh and its options up to (and with) the destination, after `--`. `tty` (the console on
    a terminal) also turns ssh's escape character off, so every byte reaches the guest."""
    argv = [SSH, *(("-t", "-e", "none") if tty else ("-T",)), "-o", "BatchMode=yes"]
    for option in spec.ssh_options:
        argv += ["-o", option]
    argv += [
        "-o",
        f"ConnectTimeout={connect_timeout()}",
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPersist={PERSIST}",
        "-o",
        f"ControlPath={control_dir(paths)}/%C",
        "-o",
        "ServerAliveInterval=15",
    ]
    return [*argv, "--", spec.destination]


def close_master(spec: HostSpec, paths: Paths) -> bool:
    """`ssh -O exit`: end the shared connection to the host, if there is one. True when one was
    ended. The VMs on the host are not affected (they never depended on it)."""
    argv = base_argv(spec, paths)
    argv[1:1] = ["-O", "exit"]
    try:
        r = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=connect_timeout() + 5
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def explain(spec: HostSpec, status: int, stderr: str) -> str:
    """One line for an ssh that failed before the agent spoke: ssh's own reason, with a hint
    where one helps. 255 is ssh's own failure; 127 is the remote shell's "command not found"."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    reason = lines[-1] if lines else f"ssh exited with status {status}"
    head = f"host {spec.label}"
    if status == 127:
        return (
            f"{head}: maqet-tui is not installed there or not on the remote PATH ({reason}); "
            f"give its path with: maqet-tui host rm {spec.name} && maqet-tui host add "
            f"{spec.name} {spec.destination} --command /path/to/maqet-tui"
        )
    if "Permission denied" in reason or "Too many authentication failures" in reason:
        return (
            f"{head}: ssh: authentication failed ({reason}); maqet-tui never asks for a "
            "password: load your key into ssh-agent (ssh-add) or name it with "
            "IdentityFile in ~/.ssh/config or --ssh-option IdentityFile=PATH"
        )
    if "Host key verification failed" in reason:
        return (
            f"{head}: ssh: {reason} (connect once with plain ssh to check and accept the host key)"
        )
    if status == 255:
        return f"{head}: {reason if reason.startswith('ssh') else 'ssh: ' + reason}"
    return f"{head}: the remote side failed (status {status}): {reason}"
