"""The serial reader against a log it cannot write: the port is drained and fanned out anyway.

A socketpair stands in for QEMU's end of the serial port, so these run in milliseconds; the same
behaviour with a real guest is in tests/integration/test_serial_log.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from runner.console import Console

MiB = 1 << 20


class Port:
    """Our side of a fake serial port: a Console reads the other end in an event loop."""

    def __init__(self, log_path: Path) -> None:
        self.guest, theirs = socket.socketpair()
        self.published: list[str] = []
        self.seen = ""
        self.console = Console(theirs, log_path, self._publish)
        self._waiters: list[tuple[str, asyncio.Future[None]]] = []

    def _publish(self, topic: str, data: dict[str, Any]) -> None:
        assert topic == "console"
        self.published.append(data["text"])
        self.seen = (self.seen + data["text"])[-4096:]
        for marker, fut in self._waiters:
            if marker in self.seen and not fut.done():
                fut.set_result(None)

    async def say(self, data: bytes, marker: str, timeout: float = 20.0) -> None:
        """Send `data` from the 'guest' (on a thread: it may exceed the socket buffer) and wait
        until `marker` has been published."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((marker, fut))
        sender = threading.Thread(target=self._send, args=(data,))
        sender.start()
        try:
            await asyncio.wait_for(fut, timeout)
        except BaseException:
            self.guest.shutdown(socket.SHUT_RDWR)  # nobody drains the port: unblock the sender
            raise
        finally:
            await asyncio.to_thread(sender.join)
            self._waiters.remove((marker, fut))

    def _send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.guest.sendall(data)


async def test_reader_keeps_serving_while_its_log_cannot_be_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAQET_TUI_LOG_CAP", str(64 << 10))
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    log_path = logs / "vm.serial.log"
    port = Port(log_path)
    reader = asyncio.ensure_future(port.console.run())
    caplog.set_level(logging.INFO, logger="runner.console")
    try:
        await port.say(b"booting\n", "booting")
        # The logs directory is removed and a file put in its place: neither the log nor a
        # rotation can be written, and the directory cannot be recreated.
        shutil.rmtree(logs)
        logs.write_text("in the way\n")
        # More than the default cap, so the log must rotate (and fail to) whatever the cap is.
        await port.say(b"x" * (3 * MiB) + b"\nSTILL-SERVED\n", "STILL-SERVED")
        assert port.console.tail().endswith("STILL-SERVED\n")
        failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(failures) == 1 and str(log_path) in failures[0].getMessage()

        logs.unlink()  # the way is clear: logging resumes within a few seconds
        n = 0

        def logged() -> bool:
            return log_path.exists() and b"AGAIN-" in log_path.read_bytes()

        deadline = asyncio.get_running_loop().time() + 15
        while not logged():
            assert asyncio.get_running_loop().time() < deadline, "logging never resumed"
            n += 1
            await port.say(f"AGAIN-{n}\n".encode(), f"AGAIN-{n}")
            await asyncio.sleep(0.05)  # poll step: the reader retries on its own clock
        assert stat.S_IMODE(os.stat(logs).st_mode) == 0o700
        text = log_path.read_bytes()
        assert b"not logged" in text  # the gap is marked, not silently spliced
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
        assert any("resumed" in r.getMessage() for r in caplog.records)
    finally:
        port.guest.close()
        await asyncio.wait_for(reader, 10)


async def test_reader_rotates_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 64 << 10
    monkeypatch.setenv("MAQET_TUI_LOG_CAP", str(cap))
    log_path = tmp_path / "vm.serial.log"
    port = Port(log_path)
    reader = asyncio.ensure_future(port.console.run())
    try:
        for i in range(10):
            await port.say(b"y" * (cap // 3) + f"\nLINE-{i}\n".encode(), f"LINE-{i}")
    finally:
        port.guest.close()
        await asyncio.wait_for(reader, 10)
    old = log_path.with_name(log_path.name + ".1")
    assert log_path.stat().st_size <= cap and old.stat().st_size <= cap
    assert log_path.read_bytes().endswith(b"LINE-9\n")
    for p in (log_path, old):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
