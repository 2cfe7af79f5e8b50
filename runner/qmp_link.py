"""The runner's QMP client over its private socketpair, with an event stream that cannot grow.

qemu.qmp's listeners keep every event in a `_history` list forever, which a long-lived runner cannot
afford; the default listener (which cannot be removed) gets a history that keeps nothing, and its
queue is drained continuously by `events()`.

`call` gives a command a deadline. A command that misses it leaves QEMU "unresponsive" until its
answer arrives: later calls are refused at once rather than queued behind it, and when the late
answer does arrive, the command can be undone (a timed-out `stop` must not pause the VM behind
the back of a caller who was told it failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from qemu.qmp import EventListener, ExecInterruptedError, ExecuteError, QMPClient, QMPError

__all__ = [
    "ExecInterruptedError",
    "ExecuteError",
    "QMPError",
    "QemuNotAnswering",
    "QemuTimeout",
    "QemuUnresponsive",
    "QmpLink",
]

log = logging.getLogger("runner")

UNDO_TIMEOUT = 10.0


class QemuNotAnswering(Exception):
    """QEMU did not answer in time (QemuTimeout) or still owes an earlier answer (QemuUnresponsive)."""

    command: str


class QemuTimeout(QemuNotAnswering):
    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"QEMU did not answer {command!r} within {timeout:g} s")
        self.command, self.timeout = command, timeout


class QemuUnresponsive(QemuNotAnswering):
    def __init__(self, command: str, pending: str, waited: float) -> None:
        super().__init__(f"QEMU has not answered {pending!r} for {waited:.0f} s")
        self.command, self.pending, self.waited = command, pending, waited


class QmpLink:
    def __init__(self, name: str) -> None:
        self.client = QMPClient(name)
        self._listener: EventListener = self.client.events
        self._listener._history = deque(maxlen=0)  # type: ignore[assignment]
        self._overdue: tuple[str, float] | None = None  # (command, sent at) of a timed-out call
        self._settled = asyncio.Event()
        self._settled.set()
        self._undoing: set[asyncio.Task[None]] = set()

    @property
    def unresponsive(self) -> str | None:
        """The command QEMU missed its deadline for and has not answered yet, if any."""
        return self._overdue[0] if self._overdue else None

    async def settled(self) -> None:
        """Wait until QEMU owes no overdue answer."""
        await self._settled.wait()

    async def connect(self, sock: socket.socket) -> None:
        await self.client.connect(sock)

    async def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        return await self.client.execute(command, arguments or None)

    async def call(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: float,
        undo: str | None = None,
    ) -> Any:
        """`execute` with a deadline: QemuTimeout if QEMU has not answered within `timeout`, and
        QemuUnresponsive at once while an earlier call is still unanswered. If a timed-out command
        succeeds late, `undo` (a command without arguments) is run to cancel its effect."""
        if self._overdue is not None:
            pending, sent = self._overdue
            raise QemuUnresponsive(command, pending, time.monotonic() - sent)
        sent = time.monotonic()
        task = asyncio.ensure_future(self.client.execute(command, arguments or None))
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if done:
            return task.result()
        log.warning(
            "QEMU did not answer %r within %g s; refusing commands until it does", command, timeout
        )
        self._overdue = (command, sent)
        self._settled.clear()
        task.add_done_callback(functools.partial(self._answered_late, command, sent, undo))
        raise QemuTimeout(command, timeout)

    def _answered_late(
        self, command: str, sent: float, undo: str | None, task: asyncio.Future[Any]
    ) -> None:
        self._overdue = None
        self._settled.set()
        late = time.monotonic() - sent
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.warning("QEMU answered %r after %.1f s, with an error: %s", command, late, exc)
        elif undo is None:
            log.warning(
                "QEMU ran %r after %.1f s (its caller was told it timed out)", command, late
            )
        else:
            log.warning(
                "QEMU ran %r after %.1f s, past its deadline: undoing it with %r",
                command,
                late,
                undo,
            )
            t = asyncio.ensure_future(self._undo(command, undo))
            self._undoing.add(t)
            t.add_done_callback(self._undoing.discard)

    async def _undo(self, command: str, undo: str) -> None:
        try:
            await asyncio.wait_for(self.client.execute(undo), UNDO_TIMEOUT)
        except (QMPError, TimeoutError, OSError) as exc:
            log.error("could not undo the late %r with %r: %s", command, undo, exc)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            ev = await self._listener.get()
            yield dict(ev)

    async def close(self) -> None:
        # After `quit` or QEMU's exit, disconnect() re-raises what killed the stream (EOFError).
        with contextlib.suppress(EOFError, OSError, QMPError, asyncio.CancelledError):
            await asyncio.wait_for(self.client.disconnect(), 2.0)
