"""`maqet-tui console` on a pty with a tiny VM whose "kernel" only writes to the serial port."""

from __future__ import annotations

import os
import pty
import select
import struct
import sys
import termios
import time
from pathlib import Path

from maqet_tui.core.manager import Manager
from tests.helpers import Env, wait_for

GREETING = "hello from the guest\r\n" * 3
PROMPT = "boot> "


def serial_kernel(path: Path, text: str) -> Path:
    """A multiboot image (QEMU's -kernel loads it, no disk, no firmware output) that writes
    `text` to COM1 and halts: console output in milliseconds under TCG."""
    code = b"\x66\xba\xf8\x03"  # mov dx, 0x3f8
    for byte in text.encode():
        code += b"\xb0" + bytes([byte]) + b"\xee"  # mov al, byte; out dx, al
    code += b"\xfa\xf4\xeb\xfd"  # cli; hlt; jmp back to hlt
    magic, flags, load = 0x1BADB002, 0x00010000, 0x100000  # flags: the addresses below are valid
    header = struct.pack("<8I", magic, flags, -(magic + flags) & 0xFFFFFFFF, load, load, 0, 0, 0)
    header = header[:-4] + struct.pack("<I", load + len(header))  # entry: right after the header
    path.write_bytes(header + code)
    return path


def test_the_leave_hint_follows_the_replayed_output(
    manager: Manager, env: Env, tmp_path: Path
) -> None:
    kernel = serial_kernel(tmp_path / "serial.bin", GREETING + PROMPT)
    manager.add("talker", {"memory": 64, "accel": "tcg", "kernel": str(kernel)})
    vm = manager.start("talker")
    log = manager.paths.serial_log(vm["id"])
    # The runner logs each chunk in the same step as it keeps it for the replay.
    wait_for(lambda: log.exists() and log.read_bytes().endswith(PROMPT.encode()), what="output")
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on the pty
        os.environ["MAQET_TUI_HOME"] = str(env.home)
        os.execv(sys.executable, [sys.executable, "-m", "maqet_tui", "console", "talker"])
    seen = b""

    def read_until(marker: bytes, timeout: float = 30) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not r:
                raise AssertionError(f"no {marker!r} in {seen[-300:]!r}")
            seen += os.read(fd, 4096)

    try:
        read_until(PROMPT.encode())
        wait_for(lambda: not termios.tcgetattr(fd)[3] & termios.ICANON, what="raw mode")
        os.write(fd, b"\x1d")
        read_until(b"left the console")
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    text = seen.decode(errors="replace")
    replay_end = text.rindex("hello from the guest")
    hint = text.index("Ctrl-] leaves", replay_end)
    # After the whole replay and before the prompt line, which stays the line the cursor is on.
    assert replay_end < hint < text.index(PROMPT, replay_end)
    assert text.index("Ctrl-] leaves") < text.index("hello from the guest")  # and the first one
