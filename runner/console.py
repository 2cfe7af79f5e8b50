"""The guest's serial port: always drained into a size-capped log, fanned out to subscribers.

QEMU's end is a socketpair only the runner holds, so guest output is captured even when nobody is
watching (a socket chardev with no client would drop it) and nobody can steal the port.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("runner.console")

LOG_CAP = 2 << 20  # bytes per serial log file; one rotated generation (.1) is kept
TAIL_KEEP = 64 << 10


class Console:
    def __init__(
        self, sock: socket.socket, log_path: Path, publish: Callable[[str, dict[str, Any]], None]
    ) -> None:
        self.sock = sock
        self.log_path = log_path
        self.publish = publish
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = bytearray()
        self._writer: asyncio.StreamWriter | None = None
        self._file = open(log_path, "ab")  # noqa: SIM115 - lives as long as the runner
        self._size = self._file.tell()

    def tail(self) -> str:
        return bytes(self._tail).decode(errors="replace")

    async def run(self) -> None:
        reader, self._writer = await asyncio.open_connection(sock=self.sock)
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionError:
                break
            if not chunk:
                break
            self._record(chunk)
            text = self._decoder.decode(chunk)
            if text:
                self.publish("console", {"text": text})
        self._file.close()

    def _record(self, chunk: bytes) -> None:
        if self._size + len(chunk) > LOG_CAP:
            self._rotate()
        self._file.write(chunk)
        self._file.flush()
        self._size += len(chunk)
        self._tail += chunk
        if len(self._tail) > TAIL_KEEP:
            del self._tail[: len(self._tail) - TAIL_KEEP]

    def _rotate(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        self._file = open(self.log_path, "ab")  # noqa: SIM115
        self._size = 0

    async def write(self, data: str) -> int:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("serial port is closed")
        raw = data.encode()
        self._writer.write(raw)
        await self._writer.drain()
        return len(raw)
