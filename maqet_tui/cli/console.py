"""`maqet-tui console NAME`: this terminal becomes the guest's serial console.

Raw mode so every key (Ctrl-C included) goes to the guest; Ctrl-] leaves, as in virsh and telnet.
The terminal is restored whatever happens (exceptions, the VM stopping, the runner dying).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import termios
import tty
from typing import Any, BinaryIO

from maqet_tui.common import unixsock
from maqet_tui.common.errors import IPCError
from maqet_tui.common.vmstate import QEMU_UP
from maqet_tui.protocol import wire as proto

ESCAPE = b"\x1d"  # Ctrl-]


class _Session:
    def __init__(self, path: str, out: BinaryIO, hint: str) -> None:
        try:
            self.sock = unixsock.connected(path, 5.0)
            self.sock.settimeout(None)
        except OSError as exc:
            raise IPCError(
                f"cannot reach the runner at {path}: {exc.strerror or exc}", proto.IPC_ERROR
            ) from None
        self.out = out
        self.hint = hint
        self.buf = b""
        self.ids = 0
        self.ended: str | None = None

    def send(self, method: str, params: dict[str, Any]) -> None:
        self.ids += 1
        self.sock.sendall(proto.encode({"id": self.ids, "method": method, "params": params}))

    def pump(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            self.ended = "the runner closed the connection"
            return
        self.buf += chunk
        while True:
            line, nl, rest = self.buf.partition(b"\n")
            if len(line) > proto.MAX_LINE:  # as the other clients: no line grows memory past this
                self.buf = b""
                self.ended = f"the runner sent a line over {proto.MAX_LINE} bytes"
                return
            if not nl:
                return
            self.buf = rest
            self._handle(json.loads(line))

    def _handle(self, msg: dict[str, Any]) -> None:
        if msg.get("event") == "console":
            text: str = msg["data"]["text"]
            if msg["data"].get("replay"):
                self._replay(text)
                return
            self.out.write(text.encode())
            self.out.flush()
        elif msg.get("event") == "status":
            status = msg["data"]["status"]
            if status not in QEMU_UP:
                self.ended = f"the VM is {status}"
        elif "error" in msg:
            self.ended = proto.error_text(msg["error"])[1]

    def _replay(self, text: str) -> None:
        """The recent output, then the hint again: up to 8 KiB of replay scrolls the first hint
        away. The hint goes before the replay's unfinished last line (a prompt, usually), so that
        line stays the one the cursor is on."""
        done, newline, partial = text.rpartition("\n")
        self.out.write((done + newline).encode())
        self.out.flush()
        sys.stderr.write(self.hint)
        sys.stderr.flush()
        self.out.write(partial.encode())
        self.out.flush()


def attach(path: str, name: str, stdin_fd: int | None = None, out: BinaryIO | None = None) -> int:
    stdin_fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    out = out or sys.stdout.buffer
    hint = f"[{name}'s serial console; Ctrl-] leaves]\r\n"
    session = _Session(path, out, hint)
    session.send("subscribe", {"topics": ["console", "status"], "replay": True})
    is_tty = os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if is_tty else None
    sys.stderr.write(f"Connected to {name}'s serial console. Ctrl-] leaves.\r\n")
    sys.stderr.flush()
    try:
        if saved is not None:
            tty.setraw(stdin_fd)
        _loop(session, stdin_fd, _fileno(out))
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSAFLUSH, saved)
        with contextlib.suppress(OSError):
            session.sock.close()
    sys.stderr.write(
        f"\r\n[left the console of {name}" + (f": {session.ended}]\n" if session.ended else "]\n")
    )
    return 0


def _fileno(out: BinaryIO) -> int | None:
    try:
        return out.fileno()
    except (OSError, ValueError, AttributeError):  # not a file (a test's BytesIO)
        return None


def _loop(session: _Session, stdin_fd: int, out_fd: int | None = None) -> None:
    """Until the VM stops, Ctrl-] is typed, or nobody reads the output any more: `out_fd` is
    watched for POLLERR/POLLHUP only, so a console run over ssh for the TUI ends with its ssh
    channel even while the guest is silent (it would otherwise wait for the guest's next byte
    to find its output gone)."""
    sock_fd = session.sock.fileno()
    poller = select.poll()
    poller.register(sock_fd, select.POLLIN)
    poller.register(stdin_fd, select.POLLIN)
    if out_fd is not None and out_fd not in (sock_fd, stdin_fd):
        poller.register(out_fd, 0)
    while session.ended is None:
        for fd, _mask in poller.poll():
            if fd == out_fd:
                session.ended = "nobody reads the console's output any more"
                return
            if fd == sock_fd:
                session.pump()
            elif fd == stdin_fd:
                data = os.read(stdin_fd, 4096)
                if not data:  # input closed (a pipe): keep showing output until the VM stops
                    poller.unregister(stdin_fd)
                    continue
                before, esc, _ = data.partition(ESCAPE)
                if before:
                    session.send("console-write", {"data": before.decode(errors="replace")})
                if esc:
                    return
