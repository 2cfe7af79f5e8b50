"""Boot the built guest in a bare QEMU: the image is only useful if it reaches the ready line, runs
a shell on the serial console and powers itself off on an ACPI power-button press."""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core import guest_image as gi


class Stream:
    """Bytes from one end of a socketpair, read only as far as the caller needs."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, b""

    def until(self, done: Callable[[bytes], Any], deadline: float, what: str) -> Any:
        while not (found := done(self.buf)):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise AssertionError(f"timed out waiting for {what}; got {self.buf[-800:]!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"EOF waiting for {what}; got {self.buf[-800:]!r}")
            self.buf += chunk
        return found

    def take_line(self, deadline: float, what: str) -> dict[str, Any]:
        self.until(lambda b: b"\n" in b, deadline, what)
        line, self.buf = self.buf.split(b"\n", 1)
        msg: dict[str, Any] = json.loads(line)
        return msg


@pytest.fixture
def qemu(
    guest: gi.GuestImage, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Stream, Stream]]:
    serial, serial_qemu = socket.socketpair()
    mon, mon_qemu = socket.socketpair()
    argv = [
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "128",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-chardev", f"socket,id=s,fd={serial_qemu.fileno()}", "-serial", "chardev:s",
        "-chardev", f"socket,id=m,fd={mon_qemu.fileno()}", "-mon", "chardev=m,mode=control",
        "-kernel", str(guest.kernel), "-initrd", str(guest.initrd), "-append", gi.KERNEL_APPEND,
    ]  # fmt: skip
    with open(tmp_path / "qemu.stderr", "wb") as err:
        proc = subprocess.Popen(
            argv, pass_fds=(serial_qemu.fileno(), mon_qemu.fileno()), stderr=err
        )
    serial_qemu.close()
    mon_qemu.close()
    try:
        yield proc, Stream(serial), Stream(mon)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        serial.close()
        mon.close()


@pytest.mark.guest
@pytest.mark.timeout(600)  # the first build downloads ~70 MB
def test_guest_boots_runs_a_shell_and_powers_off(
    guest: gi.GuestImage,
    qemu: tuple[subprocess.Popen[bytes], Stream, Stream],
    tmp_path: Path,
) -> None:
    proc, serial, mon = qemu
    t0 = time.monotonic()
    ready = gi.READY_LINE.encode()
    serial.until(
        lambda b: re.search(rb"(?m)^%s [0-9.]+\r?$" % re.escape(ready), b), t0 + 60, "ready line"
    )
    booted = time.monotonic() - t0
    assert serial.buf.count(ready) == 1
    # The prompt, not a delay, says the shell reads the console now.
    serial.until(lambda b: b.split(ready, 1)[1].find(b"# ") >= 0, t0 + 60, "shell prompt")
    serial.sock.sendall(b"echo $((6*7))\n")
    serial.until(lambda b: re.search(rb"\n42\r?\n", b), t0 + 60, "42 from the shell")
    serial.sock.sendall(b"uname -r\n")
    kver = re.escape(guest.kernel_version.encode())
    serial.until(lambda b: re.search(rb"\n%s\r?\n" % kver, b), t0 + 60, "uname -r")

    deadline = time.monotonic() + 30
    assert "QMP" in mon.take_line(deadline, "QMP greeting")
    mon.sock.sendall(b'{"execute": "qmp_capabilities"}\n')
    assert mon.take_line(deadline, "capabilities reply") == {"return": {}}
    mon.sock.sendall(b'{"execute": "system_powerdown"}\n')
    t1 = time.monotonic()
    events: list[dict[str, Any]] = []
    while not any(e.get("event") == "SHUTDOWN" for e in events):
        events.append(mon.take_line(deadline, "SHUTDOWN event"))
    shutdown = next(e for e in events if e.get("event") == "SHUTDOWN")
    assert shutdown["data"]["guest"] is True, shutdown
    assert [e["event"] for e in events if "event" in e][:1] == ["POWERDOWN"]
    rc = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    assert rc == 0, (tmp_path / "qemu.stderr").read_text()
    print(f"spawn to ready {booted:.2f} s; powerdown to exit {time.monotonic() - t1:.3f} s")
