"""The initramfs the kernel will unpack: an independent newc parser checks our archive byte for
byte (the built guest's own busybox reads it too: tests/integration/test_guest_image.py)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core import guest_image as gi

FAKE_BUSYBOX = b"\x7fELF pretend busybox" * 30
FAKE_EVDEV = b"evdev module body" * 20
FAKE_BUTTON = b"button module body" * 20


def _align(n: int) -> int:
    return (n + 3) & ~3


def parse_newc(blob: bytes) -> list[dict[str, Any]]:
    """An independent reader: checks magic, alignment, NUL-terminated names and the trailer."""
    entries: list[dict[str, Any]] = []
    off = 0
    while True:
        assert off % 4 == 0
        assert blob[off : off + 6] == b"070701", f"bad magic at {off}"
        f = [int(blob[off + 6 + 8 * i : off + 14 + 8 * i], 16) for i in range(13)]
        ino, mode, _uid, _gid, nlink, _mt, size, _dma, _dmi, rma, rmi, namesize, check = f
        name_end = off + 110 + namesize - 1
        assert blob[name_end] == 0
        name = blob[off + 110 : name_end].decode()
        off = _align(name_end + 1)
        data = blob[off : off + size]
        off = _align(off + size)
        if name == "TRAILER!!!":
            assert off == len(blob)
            return entries
        assert check == 0
        entries.append(dict(name=name, ino=ino, mode=mode, nlink=nlink, data=data, rdev=(rma, rmi)))


def test_cpio_round_trip() -> None:
    src = [
        gi.CpioEntry("d", stat.S_IFDIR | 0o755),
        gi.CpioEntry("d/x", stat.S_IFREG | 0o644, b"abc"),  # sizes 0..4 exercise all paddings
        gi.CpioEntry("d/xy", stat.S_IFREG | 0o600, b"abcd"),
        gi.CpioEntry("d/empty", stat.S_IFREG | 0o644),
        gi.CpioEntry("d/link", stat.S_IFLNK | 0o777, b"x"),
        gi.CpioEntry("d/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
    ]
    got = parse_newc(gi.cpio_newc(src))
    assert [(e["name"], e["mode"], e["data"], e["rdev"]) for e in got] == [
        (e.name, e.mode, e.data, e.rdev) for e in src
    ]
    assert len({e["ino"] for e in got}) == len(src)
    assert [e["nlink"] for e in got] == [2, 1, 1, 1, 1, 1]


def test_initramfs_layout() -> None:
    modules = {"evdev": FAKE_EVDEV, "button": FAKE_BUTTON}
    entries = parse_newc(gi.cpio_newc(gi.initramfs_entries(FAKE_BUSYBOX, modules)))
    by_name = {e["name"]: e for e in entries}
    seen: set[str] = set()
    for e in entries:  # the kernel unpacker needs each parent before its children
        parent = e["name"].rpartition("/")[0]
        assert not parent or parent in seen, e["name"]
        seen.add(e["name"])
    for d in ("proc", "sys", "dev", "tmp", "var/log", "var/run", "etc/acpi/PWRF", "lib/modules"):
        assert stat.S_ISDIR(by_name[d]["mode"]), d
    assert by_name["bin/busybox"]["data"] == FAKE_BUSYBOX
    assert by_name["bin/busybox"]["mode"] == stat.S_IFREG | 0o755
    needed = "sh mount echo sleep cat insmod poweroff acpid setsid cttyhack grep mkdir uname ls"
    for applet in [*needed.split(), "usleep"]:
        link = by_name[f"bin/{applet}"]
        assert stat.S_ISLNK(link["mode"]) and link["data"] == b"busybox", applet
    assert by_name["lib/modules/evdev.ko"]["data"] == FAKE_EVDEV
    assert by_name["lib/modules/button.ko"]["data"] == FAKE_BUTTON
    console = by_name["dev/console"]
    assert stat.S_ISCHR(console["mode"]) and console["rdev"] == (5, 1)
    pwrf = by_name["etc/acpi/PWRF/00000080"]
    assert pwrf["mode"] & 0o111 and pwrf["data"].startswith(b"#!/bin/sh\n")
    assert b"poweroff -f" in pwrf["data"]
    init = by_name["init"]["data"].decode()
    assert by_name["init"]["mode"] == stat.S_IFREG | 0o755 and init.startswith("#!/bin/sh\n")
    # Modules load in dependency order (input before button; virtio_ring before virtio ...).
    order = init.split("for m in ", 1)[1].split(";", 1)[0].split()
    assert order == list(gi.MODULES)
    assert order.index("evdev") < order.index("button")
    assert order.index("virtio_ring") < order.index("virtio") < order.index("virtio_blk")
    assert "insmod /lib/modules/$m.ko" in init
    assert "acpid -f -c /etc/acpi" in init and "noacpid" in init
    assert f'echo "{gi.READY_LINE} $up" > /dev/ttyS0' in init
    assert init.rstrip().endswith("while true; do setsid cttyhack sh; done")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAQET_TUI_GUEST_CACHE", str(tmp_path / "g"))
    assert gi.default_cache_dir() == tmp_path / "g"
    monkeypatch.delenv("MAQET_TUI_GUEST_CACHE")
    monkeypatch.setenv("MAQET_TUI_HOME", str(tmp_path / "home"))  # not per home: one per user
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert gi.default_cache_dir() == tmp_path / "cache" / "maqet-tui" / "guest"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert gi.default_cache_dir() == tmp_path / "user" / ".cache" / "maqet-tui" / "guest"
