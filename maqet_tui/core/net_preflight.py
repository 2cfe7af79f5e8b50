"""What a start checks of a VM's network and seed before QEMU runs, and QEMU's network failures
told in our words.

QEMU's own messages for these cases ("Could not set up host forwarding rule", "failed to launch
bridge helper") name neither the VM nor the way out; the checks here do, before anything starts.
They cannot close every race (another program may take a port between the check and QEMU's
bind), so `start_hint` maps QEMU's words to the same line afterwards.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import stat
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import StartError
from maqet_tui.core import net_spec

BRIDGE_CONF = Path("/etc/qemu/bridge.conf")
_RULE_RE = re.compile(r"host forwarding rule '(tcp|udp):[^:]*:(\d+)-")


def busy_message(name: str, proto: str, port: int) -> str:
    return (
        f"forward {proto} {net_spec.HOST_ADDR}:{port} of VM {name!r} is in use by another "
        f"program; give the VM another port: maqet-tui forward rm {name} {proto}:{port} and "
        f"maqet-tui forward add {name} {proto}:NEWPORT:GUESTPORT (or maqet-tui set {name} "
        "forwards=...)"
    )


def port_in_use(proto: str, port: int) -> bool:
    """Could QEMU bind this forward now? (SO_REUSEADDR as QEMU's slirp sets it: a port with
    only TIME_WAIT connections left is free, one with a listener is not.)"""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        if proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((net_spec.HOST_ADDR, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def check_ports(name: str, forwards: list[dict[str, Any]]) -> None:
    for f in forwards:
        if port_in_use(f["proto"], f["host_port"]):
            raise StartError(busy_message(name, f["proto"], f["host_port"]))


def _acl_allows(conf: Path, bridge: str, depth: int = 0) -> bool | None:
    """qemu-bridge-helper's ACL for `bridge`: True/False, None when it cannot be read here
    (the helper, setuid root, may read what we cannot). Without the file the helper refuses
    every bridge."""
    try:
        lines = conf.read_text().splitlines()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    allowed = False
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) != 2:
            continue
        verb, arg = words
        if verb == "include" and depth < 5:
            sub = _acl_allows(Path(arg), bridge, depth + 1)
            allowed = allowed or bool(sub)
        elif verb == "allow" and arg in ("all", bridge):
            allowed = True
        elif verb == "deny" and arg in ("all", bridge):
            return False  # the helper checks every deny before any allow
    return allowed


def bridge_problem(bridge: str, conf: Path = BRIDGE_CONF) -> str | None:
    """Why qemu-bridge-helper would refuse `bridge`, or None when it should work."""
    if not Path(f"/sys/class/net/{bridge}/bridge").is_dir():
        return f"bridge {bridge} does not exist (create it, e.g. ip link add {bridge} type bridge)"
    helper = Path(net_spec.BRIDGE_HELPER)
    try:
        mode = helper.stat().st_mode
    except OSError:
        return f"{helper} is missing (install qemu-system-common)"
    if os.geteuid() != 0 and not mode & stat.S_ISUID:
        return (
            f"{helper} is not setuid root, so only root may attach VMs to bridges "
            f"(an administrator can run: chmod u+s {helper})"
        )
    allowed = _acl_allows(conf, bridge)
    if allowed is False:
        return (
            f"qemu-bridge-helper may not use bridge {bridge}: {conf} has no 'allow {bridge}' "
            f"(an administrator can add that line)"
        )
    return None


def check_network(name: str, cfg: Any) -> None:
    """Before a start: forwards free, the bridge permitted."""
    if cfg.net in net_spec.USER_MODES:
        check_ports(name, cfg.forwards)
    bridge = net_spec.bridge_of(cfg.net)
    if bridge is not None:
        problem = bridge_problem(bridge)
        if problem:
            raise StartError(f"VM {name!r}: {problem}")


def start_hint(name: str, net: str | None, error: str) -> str:
    """QEMU's failure to set up the network, told as one line naming the VM and the way out."""
    m = _RULE_RE.search(error)
    if m:
        return busy_message(name, m.group(1), int(m.group(2)))
    bridge = net_spec.bridge_of(net)
    if bridge is not None and ("bridge helper" in error or "acl" in error.lower()):
        problem = bridge_problem(bridge) or f"qemu-bridge-helper refused bridge {bridge}"
        return f"VM {name!r}: {problem} (QEMU: {error.strip().splitlines()[-1]})"
    return error
