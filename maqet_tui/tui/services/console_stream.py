"""The shown VM's serial console: one runner connection for its output and for our keystrokes.

Output arrives on a `console` subscription with replay, so a view that (re)connects starts with
the recent tail and misses nothing in between. Keystrokes go back over the same connection
through one queue and one sender, so they reach the guest in the order they were typed (pass-
through mode sends a request per key) and a burst (a paste) goes as one write.

Output is passed on at most once a frame (`FRAME`): a flood arrives as many small events, and one
message each would keep the app busy with messages rather than keys. The first output after a
quiet spell goes at once, so an echo is never held back.

Each stream has a generation number; messages from a stream that was replaced (another VM
selected, the runner restarted) carry an old one and are ignored by the pane.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.worker import Worker

from maqet_tui.common.coalesce import Coalescer
from maqet_tui.common.errors import IPCError, MaqetError
from maqet_tui.core.ipc_async import AsyncIPCClient
from maqet_tui.tui.messages import ConsoleClosed, ConsoleOpened, ConsoleOutput, ConsoleWriteFailed
from maqet_tui.tui.services import remote_console

Key = tuple[str, str, int | None]  # (vm id, socket path, runner pid): one runner's console
RunWorker = Callable[..., Worker[None]]
MAX_WRITE = 60_000  # the runner takes at most 64 KiB per console-write
FRAME = 1 / 30


class ConsoleStream:
    def __init__(
        self,
        post: Callable[[Message], object],
        run_worker: RunWorker,
        remote_argv: remote_console.RemoteArgv | None = None,
    ) -> None:
        self._post = post
        self._run_worker = run_worker
        self._remote_argv = remote_argv
        self.key: Key | None = None
        self.generation = 0
        self.connected = False
        self._worker: Worker[None] | None = None
        self._outbox: asyncio.Queue[str] | None = None

    def follow(self, key: Key | None, *, again: bool = False) -> bool:
        """Stream `key`'s console (None: nothing). True when a new stream was started.

        The same key keeps its stream unless `again` (a retry after the stream ended).
        """
        if key == self.key and not again:
            return False
        self.close()
        self.key = key
        if key is None:
            return False
        self.generation += 1
        self._outbox = asyncio.Queue()
        # A partial, not a coroutine: a worker cancelled before it starts (the cursor moved on)
        # then never leaves an un-awaited coroutine behind.
        self._worker = self._run_worker(
            functools.partial(self._run, self.generation, key, self._outbox),
            name=f"console {key[0]}",
            group="console",
            exit_on_error=False,
        )
        return True

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._worker = None
        self._outbox = None
        self.connected = False

    def send(self, data: str) -> bool:
        """Queue `data` for the guest; False when no console is connected."""
        if self._outbox is None or not self.connected or not data:
            return False
        self._outbox.put_nowait(data)
        return True

    def opened(self, generation: int) -> None:
        if generation == self.generation:
            self.connected = True

    def ended(self, generation: int) -> None:
        if generation == self.generation:
            self.connected = False
            self._worker = None

    async def _run(self, generation: int, key: Key, outbox: asyncio.Queue[str]) -> None:
        vm_id, path, _pid = key
        if path.startswith(remote_console.PREFIX):
            await self._run_remote(generation, vm_id, outbox)
            return
        reason = "the runner closed the connection"
        try:
            client = await AsyncIPCClient.connect(path)
            async with client:
                await client.subscribe(["console"], replay=True)
                self._post(ConsoleOpened(vm_id, generation))
                sender = asyncio.create_task(self._send_loop(client, vm_id, generation, outbox))
                batch = self._coalescer(vm_id, generation)
                try:
                    async for msg in client.events():
                        data: Any = msg.get("data")
                        if msg.get("event") == "console" and isinstance(data, dict):
                            text = str(data.get("text", ""))
                            if data.get("replay") is True:
                                batch.flush()
                                self._post(ConsoleOutput(vm_id, generation, text, True))
                            else:
                                batch.add(text)
                finally:
                    batch.flush()
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sender
        except IPCError as exc:
            reason = str(exc)
        self._post(ConsoleClosed(vm_id, generation, reason))

    async def _run_remote(self, generation: int, vm_id: str, outbox: asyncio.Queue[str]) -> None:
        batch = self._coalescer(vm_id, generation)
        try:
            if self._remote_argv is None:
                raise MaqetError("no console for VMs on other hosts here")
            argv = self._remote_argv(vm_id)
            reason = await remote_console.run_remote(
                argv, vm_id, generation, outbox, self._post, batch.add
            )
        except (MaqetError, OSError) as exc:
            reason = str(exc)
        finally:
            batch.flush()
        self._post(ConsoleClosed(vm_id, generation, reason))

    def _coalescer(self, vm_id: str, generation: int) -> Coalescer:
        """Output joined into at most one message a frame (a flood is many small events)."""
        return Coalescer(
            lambda text: self._post(ConsoleOutput(vm_id, generation, text, False)), FRAME
        )

    async def _send_loop(
        self, client: AsyncIPCClient, vm_id: str, generation: int, outbox: asyncio.Queue[str]
    ) -> None:
        while True:
            data = await outbox.get()
            while not outbox.empty() and len(data) < MAX_WRITE:
                data += outbox.get_nowait()
            for start in range(0, len(data), MAX_WRITE):
                try:
                    await client.call("console-write", {"data": data[start : start + MAX_WRITE]})
                except IPCError as exc:
                    self._post(ConsoleWriteFailed(vm_id, generation, str(exc)))
                    break
