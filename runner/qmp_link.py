"""The runner's QMP client over its private socketpair, with an event stream that cannot grow.

qemu.qmp's listeners keep every event in a `_history` list forever, which a long-lived runner cannot
afford; the default listener (which cannot be removed) gets a history that keeps nothing, and its
queue is drained continuously by `events()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from qemu.qmp import EventListener, ExecInterruptedError, ExecuteError, QMPClient, QMPError

__all__ = ["ExecInterruptedError", "ExecuteError", "QMPError", "QmpLink"]


class QmpLink:
    def __init__(self, name: str) -> None:
        self.client = QMPClient(name)
        self._listener: EventListener = self.client.events
        self._listener._history = deque(maxlen=0)  # type: ignore[assignment]

    async def connect(self, sock: socket.socket) -> None:
        await self.client.connect(sock)

    async def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        return await self.client.execute(command, arguments or None)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            ev = await self._listener.get()
            yield dict(ev)

    async def close(self) -> None:
        # After `quit` or QEMU's exit, disconnect() re-raises what killed the stream (EOFError).
        with contextlib.suppress(EOFError, OSError, QMPError, asyncio.CancelledError):
            await asyncio.wait_for(self.client.disconnect(), 2.0)
