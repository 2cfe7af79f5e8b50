"""The guest's serial port: always drained into a size-capped log, fanned out to subscribers.

QEMU's end is a socketpair only the runner holds, so guest output is captured even when nobody is
watching (a socket chardev with no client would drop it) and nobody can steal the port. The port
is drained whatever happens to the log file: a guest whose console output is not read blocks on
it, so a log that cannot be written (disk full, logs directory removed) only costs the log.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maqet_tui.common.coalesce import Coalescer

from .logfile import CappedFile

log = logging.getLogger("runner.console")

TAIL_KEEP = 64 << 10
# Console output goes to subscribers at most once per window (see maqet_tui.common.coalesce).
PUBLISH_WINDOW = 0.01


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
        self._file = CappedFile(log_path, on_error=self._log_failed, on_resume=self._log_resumed)
        self._out = Coalescer(lambda text: self.publish("console", {"text": text}), PUBLISH_WINDOW)

    def _log_failed(self, why: str) -> None:
        log.warning(
            "cannot write the serial log %s (%s); the console is still served, "
            "and logging resumes when the file can be written",
            self.log_path,
            why,
        )

    def _log_resumed(self, gap: str) -> None:
        log.info("serial log %s resumed; %s", self.log_path, gap)

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
                self._out.add(text)
        self.flush()
        self._file.close()

    def flush(self) -> None:
        """Send the output still waiting now (a new subscriber's replay must not repeat it)."""
        self._out.flush()

    def _record(self, chunk: bytes) -> None:
        self._file.write(chunk)  # never raises: see CappedFile
        self._tail += chunk
        if len(self._tail) > TAIL_KEEP:
            del self._tail[: len(self._tail) - TAIL_KEEP]

    async def write(self, data: str) -> int:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("serial port is closed")
        raw = data.encode()
        self._writer.write(raw)
        await self._writer.drain()
        return len(raw)
