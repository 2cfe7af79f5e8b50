"""The `ssh` command line that reaches a VM: OpenSSH to 127.0.0.1 at the VM's SSH forward.

Host keys go to the home's own known_hosts under the alias `maqet-VMID` (accepted on first use),
so guests never touch the user's ~/.ssh/known_hosts, and a VM recreated under the same name or
port (a new id) is a new host rather than a "host key changed" warning.

A command given as one argument is a shell command line, as `ssh` itself takes it; several
arguments are an argv, each quoted for the guest's shell, so `-- sh -c 'exit 7'` runs exactly that.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import MaqetError, NotFoundError, StateError, TimeoutError_
from maqet_tui.common.paths import Paths
from maqet_tui.core import net_spec, ssh_keys
from maqet_tui.core.images import get_image


def ssh_target(vm: dict[str, Any]) -> int:
    """The host port of the VM's SSH forward; a clear error when there is none to use."""
    name, cfg = vm["name"], vm["config"]
    if vm["status"] != "running":
        raise StateError(f"VM {name!r} is not running (status: {vm['status']})")
    net = cfg.get("net")
    if net not in net_spec.USER_MODES:
        raise StateError(
            f"VM {name!r} has no user-mode network (net: {net or 'none'}), so no SSH forward "
            "to reach it through"
        )
    fwd = net_spec.ssh_forward(cfg.get("forwards") or [])
    if fwd is None:
        raise StateError(
            f"VM {name!r} has no SSH forward (tcp to guest port 22); add one: "
            f"maqet-tui forward add {name} tcp:PORT:22"
        )
    return int(fwd["host_port"])


def image_user(paths: Paths, cfg: dict[str, Any]) -> str | None:
    """The account the image's cloud-init creates (e.g. `debian`), when it is known."""
    if not cfg.get("image"):
        return None
    try:
        return get_image(paths, cfg["image"]).user
    except NotFoundError:
        return None


def ssh_argv(paths: Paths, vm: dict[str, Any], command: list[str]) -> list[str]:
    port = ssh_target(vm)
    exe = shutil.which("ssh")
    if exe is None:
        raise MaqetError("ssh not found (install the openssh-client package)")
    argv = [
        exe,
        "-p",
        str(port),
        "-o",
        f"UserKnownHostsFile={ssh_keys.known_hosts(paths)}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"HostKeyAlias=maqet-{vm['id']}",
        "-o",
        "LogLevel=ERROR",
    ]
    key = vm["config"].get("ssh_key")
    private = ssh_keys.private_key(Path(key)) if key else None
    if private is not None:
        argv += ["-i", str(private)]
    user = image_user(paths, vm["config"])
    if user:
        argv += ["-l", user]
    argv.append(net_spec.HOST_ADDR)
    if len(command) == 1:
        argv.append(command[0])
    elif command:
        argv.append(" ".join(shlex.quote(a) for a in command))
    return argv


def sshd_answers(port: int, timeout: float = 2.0) -> bool:
    """Does an SSH server greet on 127.0.0.1:PORT? (User-mode networking accepts a forwarded
    connection before the guest listens, then closes it: only the banner proves sshd is up.)"""
    try:
        with socket.create_connection((net_spec.HOST_ADDR, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def wait_for_sshd(
    name: str,
    port: int,
    wait: float,
    still_running: Callable[[], bool],
    say: Callable[[str], None],
) -> None:
    """Wait up to `wait` seconds for the guest's sshd (a VM just started is still booting), as
    long as the VM runs; `ssh` right after `start` then just works."""
    deadline = time.monotonic() + wait
    told = False
    while not sshd_answers(port):
        if not still_running():
            raise StateError(f"VM {name!r} stopped while waiting for its SSH server")
        if time.monotonic() >= deadline:
            raise TimeoutError_(
                f"no SSH server answered for VM {name!r} on {net_spec.HOST_ADDR}:{port} within "
                f"{wait:g} s (still booting? see maqet-tui console {name}; --wait SECONDS)"
            )
        if not told:
            say(f"waiting up to {wait:g} s for the SSH server of {name} (127.0.0.1:{port})")
            told = True
        time.sleep(0.5)
