"""The runner's client of the guest agent (qemu-guest-agent) over its private socketpair.

The agent speaks QMP-like JSON (`{"execute": ..., "arguments": ...}` → `{"return": ...}` or
`{"error": ...}`), one command at a time, with no ids and no greeting: a reply is only known to be
ours because the stream is known to be in step. It is not in step after the runner gave up on an
answer (a late reply would be read as the next command's), nor after the guest opened the port
(the agent may have been restarted mid-reply, and bytes written while the port was closed wait in
QEMU's queue). So every exchange after such a break starts with `guest-sync-delimited`: a 0xFF
byte (which resets the agent's JSON parser), the command with a random id, then everything read is
dropped up to the agent's own 0xFF marker and the reply carrying that id.

Every call has a deadline, covering the wait for the channel (calls are serialised) as well: a
guest that stops answering costs its caller `timeout` seconds, never the runner's other work. A
reply is read with a size cap; a larger one is consumed and discarded, so the stream stays usable
and the runner's memory bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from typing import Any

log = logging.getLogger("runner.agent")

MAX_REPLY = 8 << 20
"""Bytes in one reply line (guest-exec-status carries the command's output, base64)."""
CHUNK = 65536
SYNC_MARKER = b"\xff"


class AgentFailure(Exception):
    """The agent could not be used for a call; the subclass says how."""


class AgentTimeout(AgentFailure):
    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"the guest agent did not answer {command!r} within {timeout:g} s")
        self.command, self.timeout = command, timeout


class AgentError(AgentFailure):
    """The agent answered with an error (`error_class`, `desc` as it gave them)."""

    def __init__(self, command: str, error_class: str, desc: str) -> None:
        super().__init__(f"{command}: {desc}")
        self.command, self.error_class, self.desc = command, error_class, desc


class AgentReplyTooLarge(AgentFailure):
    def __init__(self, command: str, size: int, limit: int) -> None:
        super().__init__(
            f"the guest agent's answer to {command!r} was over {limit} bytes ({size} or more); "
            "it was discarded"
        )
        self.command, self.size, self.limit = command, size, limit


class AgentClosed(AgentFailure):
    """The channel is closed for good (QEMU exited)."""


class _Oversized(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


class GuestAgentLink:
    """One agent channel. `desync()` after anything that may have broken the stream's step."""

    def __init__(self, sock: socket.socket, max_reply: int = MAX_REPLY) -> None:
        self._sock = sock
        self.max_reply = max_reply
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buf = bytearray()
        self._lock = asyncio.Lock()
        self._in_step = False
        self._closed = False

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(sock=self._sock, limit=CHUNK)

    def desync(self) -> None:
        """The next call re-synchronises first (the guest opened or closed the port)."""
        self._in_step = False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        else:
            self._sock.close()

    async def call(
        self, command: str, arguments: dict[str, Any] | None = None, *, timeout: float
    ) -> Any:
        """The agent's `return` value for `command`, within `timeout` seconds (waiting for an
        earlier call included). Raises an AgentFailure."""
        if self._closed:
            raise AgentClosed("the guest agent channel is closed")
        if self._reader is None:
            await self.open()
        try:
            async with asyncio.timeout(timeout), self._lock:
                if not self._in_step:
                    await self._sync()
                self._in_step = False  # until the reply is read in full
                request: dict[str, Any] = {"execute": command}
                if arguments:
                    request["arguments"] = arguments
                await self._send(json.dumps(request).encode() + b"\n")
                try:
                    line = await self._line()
                except _Oversized as exc:
                    self._in_step = True  # the whole line was consumed
                    raise AgentReplyTooLarge(command, exc.size, self.max_reply) from None
                self._in_step = True
        except TimeoutError:
            raise AgentTimeout(command, timeout) from None
        return _reply(command, line)

    async def _sync(self) -> None:
        sync_id = int.from_bytes(os.urandom(4), "big") >> 1 or 1  # 1 .. 2**31 - 1
        self._buf.clear()  # whatever was read before is stale
        request = {"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}
        await self._send(SYNC_MARKER + json.dumps(request).encode() + b"\n")
        while True:
            await self._skip_to_marker()
            try:
                line = await self._line()
            except _Oversized:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("return") == sync_id:
                return
            log.debug("dropped a stale agent reply after a sync marker: %.80r", line)

    async def _send(self, data: bytes) -> None:
        assert self._writer is not None
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self._closed = True
            raise AgentClosed(f"the guest agent channel is closed: {exc}") from None

    async def _fill(self) -> int:
        assert self._reader is not None
        try:
            chunk = await self._reader.read(CHUNK)
        except (ConnectionError, OSError) as exc:
            self._closed = True
            raise AgentClosed(f"the guest agent channel is closed: {exc}") from None
        if not chunk:
            self._closed = True
            raise AgentClosed("the guest agent channel is closed")
        self._buf += chunk
        return len(chunk)

    async def _skip_to_marker(self) -> None:
        while True:
            i = self._buf.find(SYNC_MARKER)
            if i >= 0:
                del self._buf[: i + 1]
                return
            self._buf.clear()
            await self._fill()

    async def _line(self) -> bytes:
        """The next non-blank line; _Oversized (after consuming it) when over max_reply."""
        scanned = 0  # bytes known to hold no newline: a long reply is scanned once, not per chunk
        while True:
            i = self._buf.find(b"\n", scanned)
            if i < 0 and len(self._buf) <= self.max_reply:
                scanned = len(self._buf)
                await self._fill()
                continue
            if i < 0 or i > self.max_reply:
                await self._discard_line()
            line = bytes(self._buf[:i])
            del self._buf[: i + 1]
            scanned = 0
            if line.strip():
                return line

    async def _discard_line(self) -> None:
        """Drop the over-long line being read, up to and including its newline."""
        size = 0
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                size += i
                del self._buf[: i + 1]
                raise _Oversized(size)
            size += len(self._buf)
            self._buf.clear()
            await self._fill()


def _reply(command: str, line: bytes) -> Any:
    try:
        obj = json.loads(line)
    except ValueError:
        raise AgentError(command, "protocol", f"not JSON: {line[:80]!r}") from None
    if isinstance(obj, dict) and "return" in obj:
        return obj["return"]
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        err = obj["error"]
        raise AgentError(command, str(err.get("class", "GenericError")), str(err.get("desc", "")))
    raise AgentError(command, "protocol", f"unexpected reply: {line[:80]!r}")
