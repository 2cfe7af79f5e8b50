"""VM definitions: validation, normalisation and the QEMU argv built from them.

Everything here is pure: a definition is checked completely before any process starts or any row is
written, and the argv is a list (never a shell string) so no value can smuggle in an option or a
command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, clip, key_list, top_field
from maqet_tui.common.ids import NAME_RE, NAME_RULE, looks_like_id
from maqet_tui.common.sizes import memory_mib
from maqet_tui.core import net_spec
from maqet_tui.core.disk_spec import (
    SCSI_CONTROLLER,
    absolute_path,
    disk_args,
    normalize_disk,
    normalize_share,
    require_existing,
    share_args,
)
from maqet_tui.core.guest_spec import GUEST_DEFAULTS, check_guest_keys, seed_args
from maqet_tui.protocol.launch import AGENT_PORT_ID, QGA_FD, QMP_FD, SERIAL_FD

ACCELS = ("auto", "kvm", "tcg")
MAX_MEMORY_MIB = 1024 * 1024
MAX_CPUS = 256
MAX_STRING = 4096
# Options that would take away what the runner must own alone: the monitor, the serial port, the
# process lifetime, its identity and where QEMU writes. Refused by name, in any spelling QEMU
# accepts (`-opt`, `--opt`; `-opt=value` too). Users pass anything else through `qemu_args`.
RESERVED_OPTIONS = frozenset(
    {
        # the monitor and the serial port (the runner's QMP link is the only monitor)
        "-qmp",
        "-qmp-pretty",
        "-monitor",
        "-mon",
        "-serial",
        # a config file can add monitors and chardevs, -set can rewrite ours, -add-fd can
        # hand the runner's inherited fds to something else
        "-readconfig",
        "-writeconfig",
        "-set",
        "-add-fd",
        # code and files outside the definition: plugins are shared objects loaded into QEMU;
        # -D and -trace file= move QEMU's log away from the runner's log, qtest adds a control
        # channel and a log file
        "-plugin",
        "-D",
        "-trace",
        "-qtest",
        "-qtest-log",
        # the process: lifetime, identity, ownership
        "-daemonize",
        "-pidfile",
        "-name",
        "-runas",
        "-chroot",
        "-run-with",
        "-incoming",
    }
)
# Allowed on purpose: `-d ITEMS` only chooses what QEMU logs; with -D refused that output can only
# go to QEMU's stderr, which the runner already copies into the VM's log (`logs`), and it opens no
# file, monitor or chardev (`-d trace:PATTERN` is how to trace). `-sandbox` only narrows the
# syscalls QEMU itself may make; at worst QEMU refuses to start and says why.
# A legacy chardev spec starting with `mon:` (-parallel, -virtioconsole, -debugcon and the like)
# multiplexes a human monitor onto that chardev, so such a value is refused wherever it appears.
MONITOR_PREFIX = "mon:"
# QEMU always gets `-display none`: the runner is detached, so a window (gtk, sdl) would fail to
# start or open on whatever $DISPLAY the runner inherited. A later -display would override ours.
DISPLAY_OPTIONS = frozenset({"-display", "-sdl", "-curses"})
DISPLAY_HINT = "VMs run headless; add e.g. {vnc: 'unix:/path/vnc.sock'} for a remote display"
DEFAULTS: dict[str, Any] = {
    "binary": "qemu-system-x86_64",
    "machine": "q35",
    "memory": 256,
    "cpus": 1,
    "accel": "auto",
    "kernel": None,
    "initrd": None,
    "append": None,
    "disks": [],
    "shares": [],
    "qemu_args": [],
    "agent": False,
    **GUEST_DEFAULTS,
}
# The guest agent channel (`agent: true`): a virtio-serial port named as qemu-guest-agent expects,
# on a socketpair only the runner holds (like the monitor); AGENT_PORT_ID is its device id.
AGENT_PORT_NAME = "org.qemu.guest_agent.0"


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"invalid VM name {clip(name)}: use {NAME_RULE}",
            field="name",
        )
    if looks_like_id(name):
        raise ConfigError(
            f"invalid VM name {name!r}: 8 hex digits is the form of a VM id, so it cannot be a name",
            field="name",
        )
    return name


def _text(key: str, value: object, *, allow_dash: bool = True) -> str:
    if not isinstance(value, str):
        raise ConfigError(
            f"{key}: expected a string, got {type(value).__name__}", field=top_field(key)
        )
    if not value or len(value) > MAX_STRING:
        raise ConfigError(f"{key}: must be 1 to {MAX_STRING} characters", field=top_field(key))
    if "\0" in value or "\n" in value:
        raise ConfigError(
            f"{key}: must not contain NUL or newline characters", field=top_field(key)
        )
    if not allow_dash and value.startswith("-"):
        raise ConfigError(f"{key}: {clip(value)} must not start with '-'", field=top_field(key))
    return value


def _int(key: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"\d{1,18}", value.strip(), re.ASCII):
            value = int(value)
        else:
            raise ConfigError(
                f"{key}: expected an integer, got {clip(value)}", field=top_field(key)
            )
    if not lo <= value <= hi:
        raise ConfigError(
            f"{key}: {clip(value)} is out of range ({lo}..{hi})", field=top_field(key)
        )
    return value


def _path(key: str, value: object, base: Path | None, check_exists: bool) -> str:
    p = absolute_path(key, _text(key, value, allow_dash=False), base)
    if check_exists:
        require_existing(key, p, "file")
    return str(p)


def _check_qemu_args(args: list[str]) -> None:
    for a in args:
        # QEMU takes `--opt` for `-opt`; `-opt=value` is refused too rather than guessed at.
        opt = "-" + a.lstrip("-").split("=", 1)[0] if a.startswith("-") else None
        if opt in RESERVED_OPTIONS:
            given = "" if a == opt else f" (given as {clip(a)})"
            raise ConfigError(
                f"qemu_args: {opt!r}{given} is managed by maqet-tui and cannot be passed",
                field="qemu_args",
            )
        if opt in DISPLAY_OPTIONS:
            raise ConfigError(
                f"qemu_args: {clip(a)} is not supported ({DISPLAY_HINT})", field="qemu_args"
            )
        value = a.split("=", 1)[1] if opt and "=" in a else a
        if value.startswith(MONITOR_PREFIX):
            raise ConfigError(
                f"qemu_args: {clip(a)} would add a monitor (the runner owns the only one)",
                field="qemu_args",
            )


def _name_storage(disks: list[dict[str, Any]], shares: list[dict[str, Any]]) -> None:
    """Every disk and share has a unique name (the handle in exports and messages): an entry
    given none is called diskN / shareN after its place (or the first such name still free)."""
    names = [x["name"] for x in disks + shares if "name" in x]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"disks, shares: the name {dup!r} is used twice", field="disks")
    taken = set(names)
    for prefix, entries in (("disk", disks), ("share", shares)):
        for i, entry in enumerate(entries):
            if "name" not in entry:
                n = i
                while f"{prefix}{n}" in taken:
                    n += 1
                entry["name"] = f"{prefix}{n}"
                taken.add(entry["name"])


@dataclass(frozen=True)
class VMConfig:
    """A validated VM definition; `to_dict()` is what the store keeps."""

    binary: str = DEFAULTS["binary"]
    machine: str = DEFAULTS["machine"]
    memory: int = DEFAULTS["memory"]
    cpus: int = DEFAULTS["cpus"]
    accel: str = DEFAULTS["accel"]
    kernel: str | None = None
    initrd: str | None = None
    append: str | None = None
    disks: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)
    qemu_args: list[str] = field(default_factory=list)
    image: str | None = None
    net: str | None = None
    forwards: list[dict[str, Any]] = field(default_factory=list)
    mac: str | None = None
    ssh_key: str | None = None
    seed: str | None = None
    user_data: str | None = None
    agent: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base: Path | None = None, check_files: bool = True
    ) -> VMConfig:
        """Validate a whole definition; the first problem found is raised naming its field.

        `check_files` is off when reading a stored definition at start: a file that vanished since
        `add` is reported by QEMU itself, with its own message, rather than hidden behind ours.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("VM definition must be a mapping of keys to values")
        unknown = set(data) - set(DEFAULTS)
        if unknown:
            raise ConfigError(
                f"unknown key{'s' if len(unknown) > 1 else ''}: {key_list(unknown)} "
                f"(valid keys: {', '.join(sorted(DEFAULTS))})"
            )
        d = {**DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
        binary = _text("binary", d["binary"], allow_dash=False)
        if "/" in binary:
            binary = _path("binary", binary, base, check_files)
        machine = _text("machine", d["machine"], allow_dash=False)
        if not re.match(r"^[A-Za-z0-9._-]+$", machine):
            raise ConfigError(f"machine: invalid machine type {clip(machine)}", field="machine")
        accel = d["accel"]
        if accel not in ACCELS:
            raise ConfigError(
                f"accel: {clip(accel)} is not one of {', '.join(ACCELS)}", field="accel"
            )
        kernel = _path("kernel", d["kernel"], base, check_files) if d["kernel"] else None
        initrd = _path("initrd", d["initrd"], base, check_files) if d["initrd"] else None
        if initrd and not kernel:
            raise ConfigError("initrd: needs a kernel", field="initrd")
        append = _text("append", d["append"]) if d["append"] else None
        if append and not kernel:
            raise ConfigError("append: needs a kernel", field="append")
        disks = d["disks"]
        if not isinstance(disks, list):
            raise ConfigError(f"disks: expected a list, got {type(disks).__name__}", field="disks")
        disk_entries = [
            normalize_disk(f"disks[{i}]", x, base, check_files) for i, x in enumerate(disks)
        ]
        shares = d["shares"]
        if not isinstance(shares, list):
            raise ConfigError(
                f"shares: expected a list, got {type(shares).__name__}", field="shares"
            )
        share_entries = [
            normalize_share(f"shares[{i}]", x, base, check_files) for i, x in enumerate(shares)
        ]
        _name_storage(disk_entries, share_entries)
        tags = [sh["mount_tag"] for sh in share_entries]
        if len(set(tags)) != len(tags):
            raise ConfigError("shares: mount_tag values must be unique", field="shares")
        qargs = d["qemu_args"]
        if not isinstance(qargs, list):
            raise ConfigError(
                f"qemu_args: expected a list, got {type(qargs).__name__}", field="qemu_args"
            )
        qemu_args = [_text(f"qemu_args[{i}]", a) for i, a in enumerate(qargs)]
        _check_qemu_args(qemu_args)
        agent = d["agent"]
        if not isinstance(agent, bool):
            raise ConfigError(f"agent: expected true or false, got {clip(agent)}", field="agent")
        return cls(
            binary=binary,
            machine=machine,
            memory=_int("memory", memory_mib(d["memory"]), 16, MAX_MEMORY_MIB),
            cpus=_int("cpus", d["cpus"], 1, MAX_CPUS),
            accel=accel,
            kernel=kernel,
            initrd=initrd,
            append=append,
            disks=disk_entries,
            shares=share_entries,
            qemu_args=qemu_args,
            agent=agent,
            **check_guest_keys(d, base, check_files),
        )


def resolve_accel(accel: str) -> str:
    """`auto` means KVM where /dev/kvm is usable; MAQET_TUI_ACCEL overrides the guess, not a VM's
    explicit choice (a VM pinned to tcg stays tcg: KVM hangs Linux guests on some nested hosts)."""
    if accel != "auto":
        return accel
    env = os.environ.get("MAQET_TUI_ACCEL", "").strip().lower()
    if env in ("kvm", "tcg"):
        return env
    return "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"


def identity_tag(vm_id: str) -> str:
    """A marker in QEMU's argv that proves a PID really is this VM's QEMU before we signal it."""
    return f"maqet-{vm_id}"


def build_argv(
    vm_id: str,
    name: str,
    cfg: VMConfig,
    qmp_fd: int | str = QMP_FD,
    serial_fd: int | str = SERIAL_FD,
    qga_fd: int | str = QGA_FD,
) -> list[str]:
    """The QEMU command line: headless, no default devices, monitor and serial on inherited fds.

    The monitor and the serial port are connected sockets created by the runner (socketpairs), so
    nothing else can attach to them and there is no connect-polling race at start. The starter
    builds the argv with the QMP_FD/SERIAL_FD placeholders (protocol.launch) and the runner fills in
    its fds, so the runner needs no validation code (nor its imports) before QEMU is on its way.
    A VM with `agent: true` also gets the guest agent channel, on QGA_FD; without it the argv is
    what it always was.
    """
    argv = [
        cfg.binary,
        "-name",
        f"{name},process={identity_tag(vm_id)}",
        "-machine",
        cfg.machine,
        "-accel",
        resolve_accel(cfg.accel),
        "-m",
        str(cfg.memory),
        "-smp",
        str(cfg.cpus),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-chardev",
        f"socket,id=maqet-qmp,fd={qmp_fd}",
        "-mon",
        "chardev=maqet-qmp,mode=control",
        "-chardev",
        f"socket,id=maqet-serial,fd={serial_fd}",
        "-serial",
        "chardev:maqet-serial",
    ]
    if cfg.kernel:
        argv += ["-kernel", cfg.kernel]
    if cfg.initrd:
        argv += ["-initrd", cfg.initrd]
    if cfg.append:
        argv += ["-append", cfg.append]
    if any(disk["interface"] == "scsi" for disk in cfg.disks):
        argv += SCSI_CONTROLLER
    for i, disk in enumerate(cfg.disks):
        argv += disk_args(disk, i)
    argv += seed_args(cfg.seed)
    for i, share in enumerate(cfg.shares):
        argv += share_args(share, i)
    if cfg.agent:
        argv += [
            "-device",
            "virtio-serial-pci,id=maqet-virtio-serial",
            "-chardev",
            f"socket,id=maqet-qga,fd={qga_fd}",
            "-device",
            f"virtserialport,bus=maqet-virtio-serial.0,chardev=maqet-qga,"
            f"id={AGENT_PORT_ID},name={AGENT_PORT_NAME}",
        ]
    argv += net_spec.net_args(cfg.net, cfg.mac, cfg.forwards, vm_id)
    argv += cfg.qemu_args
    return argv
