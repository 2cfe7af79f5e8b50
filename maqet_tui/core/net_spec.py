"""A VM's network in its definition (`net`, `forwards`, `mac`) and the QEMU options it becomes.

Pure, like `disk_spec`: validating a definition starts nothing. A definition without `net` has no
NIC at all (`-nodefaults`), exactly as VMs had before networking existed. User-mode networking
(`user`, and `isolated`, which adds QEMU's `restrict=on` so the guest reaches nothing outside while
the forwards still reach it) carries the port forwards; forwards bind 127.0.0.1 only, so nothing of
a VM is reachable from the network. `bridge=BR` goes through `qemu-bridge-helper`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from maqet_tui.common.errors import ConfigError, clip, top_field

NETDEV_ID = "maqet-net"  # fixed: `hostfwd_add`/`hostfwd_remove` name the netdev
MODES = ("user", "isolated", "none")
USER_MODES = ("user", "isolated")  # the modes that have forwards
PROTOS = ("tcp", "udp")
HOST_ADDR = "127.0.0.1"
BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # a Linux interface name (IFNAMSIZ - 1)
MAC_RE = re.compile(r"^52:54:00(:[0-9a-f]{2}){3}$")
QEMU_OUI = "52:54:00"
BRIDGE_HELPER = "/usr/lib/qemu/qemu-bridge-helper"
MAX_FORWARDS = 64
FORWARD_HINT = "PROTO:HOSTPORT:GUESTPORT, e.g. tcp:8080:80"


def derive_mac(vm_id: str) -> str:
    """A stable MAC for a VM: QEMU's OUI and three bytes of a hash of the VM's id, so two VMs of
    a home (almost surely) differ and a VM keeps its MAC (and its DHCP lease) across restarts."""
    digest = hashlib.sha256(vm_id.encode()).digest()
    return QEMU_OUI + "".join(f":{b:02x}" for b in digest[:3])


def check_net(value: object) -> str:
    """`user`, `isolated`, `none` or `bridge=BR`."""
    if isinstance(value, str):
        if value in MODES:
            return value
        kind, sep, bridge = value.partition("=")
        if kind == "bridge" and sep and BRIDGE_RE.match(bridge):
            return value
    raise ConfigError(
        f"net: {clip(value)} is not one of user, isolated, none, bridge=BRIDGE", field="net"
    )


def bridge_of(net: str | None) -> str | None:
    """The bridge of a `bridge=BR` mode, else None."""
    return net.partition("=")[2] if net and net.startswith("bridge=") else None


def _port(key: str, value: object) -> int:
    if isinstance(value, str) and re.fullmatch(r"\d{1,5}", value, re.ASCII):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{key}: {clip(value)} is not a port (1..65535)", field=top_field(key))
    return value


def check_forward(key: str, entry: object) -> dict[str, Any]:
    """One forward: `{proto, host_addr, host_port, guest_port}`; `host_addr` may only be
    127.0.0.1 (nothing of a VM listens on the network)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{key}: expected a mapping ({FORWARD_HINT})", field=top_field(key))
    unknown = set(entry) - {"proto", "host_addr", "host_port", "guest_port"}
    if unknown:
        raise ConfigError(
            f"{key}: unknown key {clip(sorted(unknown)[0])} "
            "(valid keys: proto, host_addr, host_port, guest_port)",
            field=top_field(key),
        )
    proto = entry.get("proto", "tcp")
    if proto not in PROTOS:
        raise ConfigError(f"{key}.proto: {clip(proto)} is not tcp or udp", field=top_field(key))
    addr = entry.get("host_addr", HOST_ADDR)
    if addr != HOST_ADDR:
        raise ConfigError(
            f"{key}.host_addr: {clip(addr)}: forwards bind {HOST_ADDR} only", field=top_field(key)
        )
    return {
        "proto": proto,
        "host_addr": HOST_ADDR,
        "host_port": _port(f"{key}.host_port", entry.get("host_port")),
        "guest_port": _port(f"{key}.guest_port", entry.get("guest_port")),
    }


def parse_forward(text: str) -> dict[str, Any]:
    """`PROTO:HOSTPORT:GUESTPORT` (the command line's form) as a forward entry."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigError(f"forward {clip(text)}: expected {FORWARD_HINT}", field="forwards")
    proto, host, guest = parts
    return check_forward(
        f"forward {text}", {"proto": proto.lower(), "host_port": host, "guest_port": guest}
    )


def parse_forward_key(text: str) -> tuple[str, int]:
    """`PROTO:HOSTPORT` (what `forward rm` names) as (proto, host port)."""
    proto, sep, port = text.partition(":")
    if not sep or proto.lower() not in PROTOS:
        raise ConfigError(f"{clip(text)}: expected PROTO:HOSTPORT, e.g. tcp:8080")
    return proto.lower(), _port(f"{text}: host port", port)


def check_forwards(value: object, net: str | None) -> list[dict[str, Any]]:
    """The whole list: each entry valid, no host port used twice, only on user-mode networks."""
    if not isinstance(value, list):
        raise ConfigError(
            f"forwards: expected a list, got {type(value).__name__}", field="forwards"
        )
    if len(value) > MAX_FORWARDS:
        raise ConfigError(f"forwards: at most {MAX_FORWARDS}", field="forwards")
    out = [check_forward(f"forwards[{i}]", x) for i, x in enumerate(value)]
    if out and net not in USER_MODES:
        raise ConfigError(
            f"forwards: only user-mode networks have forwards (net is {net or 'unset'}; "
            "use net=user or net=isolated)",
            field="forwards",
        )
    seen: set[tuple[str, int]] = set()
    for f in out:
        key = (f["proto"], f["host_port"])
        if key in seen:
            raise ConfigError(
                f"forwards: {f['proto']}:{f['host_port']} is forwarded twice", field="forwards"
            )
        seen.add(key)
    return out


def check_mac(value: object) -> str:
    """A MAC in QEMU's own range (52:54:00:xx:xx:xx), lower case."""
    if isinstance(value, str) and MAC_RE.match(value.lower()):
        return value.lower()
    raise ConfigError(f"mac: {clip(value)} is not a MAC of the form 52:54:00:xx:xx:xx", field="mac")


def hostfwd(f: dict[str, Any]) -> str:
    """A forward as QEMU's `hostfwd` rule (the same text `hostfwd_add` takes)."""
    return f"{f['proto']}:{f['host_addr']}:{f['host_port']}-:{f['guest_port']}"


def net_args(
    net: str | None, mac: str | None, forwards: list[dict[str, Any]], vm_id: str
) -> list[str]:
    """The netdev and its virtio NIC; nothing at all for no network."""
    if net is None or net == "none":
        return []
    bridge = bridge_of(net)
    if bridge is not None:
        netdev = f"bridge,id={NETDEV_ID},br={bridge},helper={BRIDGE_HELPER}"
    else:
        netdev = f"user,id={NETDEV_ID}"
        if net == "isolated":
            netdev += ",restrict=on"
        netdev += "".join(f",hostfwd={hostfwd(f)}" for f in forwards)
    device = f"virtio-net-pci,netdev={NETDEV_ID},mac={mac or derive_mac(vm_id)}"
    return ["-netdev", netdev, "-device", device]


def ssh_forward(forwards: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The forward that reaches the guest's sshd (tcp to port 22), if there is one."""
    return next((f for f in forwards if f["proto"] == "tcp" and f["guest_port"] == 22), None)


def network_json(cfg: dict[str, Any], vm_id: str) -> dict[str, Any]:
    """`show --json`'s `network`: the mode (`none` for a VM defined without one), the MAC its NIC
    has (null without a NIC) and the forwards."""
    net = cfg.get("net") or "none"
    return {
        "mode": net,
        "mac": None if net == "none" else (cfg.get("mac") or derive_mac(vm_id)),
        "forwards": [dict(f) for f in cfg.get("forwards") or []],
    }
