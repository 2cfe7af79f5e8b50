"""One IPC subscription per live runner, so status changes show the moment the runner has them.

The store watcher finds runners (and would see every change by itself, a poll later); the
subscriptions make changes immediate. When a runner's stream ends the app re-reads the store (the
row then says stopped or crashed) and, should the VM be live again, subscribes to its new runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from textual.message import Message
from textual.worker import Worker

from maqet_tui.common.errors import IPCError
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.ipc_async import AsyncIPCClient
from maqet_tui.tui.messages import RunnerEvent, RunnerGone

TOPICS = ["status", "qmp-event", "stats"]  # stats: history first, then one sample a pace
GUEST_TOPICS = ["guest"]  # what the guest agent reports: the current state first, then changes
RETRY_AFTER = 1.0

Key = tuple[str, int | None]
RunWorker = Callable[..., Worker[None]]


def subscription_key(vm: dict[str, Any]) -> Key | None:
    """What identifies one runner's stream: its socket and pid (a restart changes the pid)."""
    if vm.get("status") not in LIVE or not vm.get("socket_path"):
        return None
    return (str(vm["socket_path"]), vm.get("runner_pid"))


class Subscriptions:
    def __init__(self, post: Callable[[Message], object], run_worker: RunWorker) -> None:
        self._post = post
        self._run_worker = run_worker
        self._active: dict[str, tuple[Key, Worker[None]]] = {}
        self._failed: dict[str, tuple[Key, float]] = {}

    @property
    def active(self) -> set[str]:
        return set(self._active)

    def sync(self, rows: Iterable[dict[str, Any]]) -> float | None:
        """Follow exactly the live runners in `rows`; returns seconds until a retry is due."""
        want = {str(vm["id"]): k for vm in rows if (k := subscription_key(vm)) is not None}
        for vm_id, (key, worker) in list(self._active.items()):
            if want.get(vm_id) != key:
                worker.cancel()
                del self._active[vm_id]
        retry: float | None = None
        now = time.monotonic()
        for vm_id, key in want.items():
            if vm_id in self._active:
                continue
            failed = self._failed.get(vm_id)
            if failed is not None and failed[0] == key and now - failed[1] < RETRY_AFTER:
                wait = RETRY_AFTER - (now - failed[1])
                retry = wait if retry is None else min(retry, wait)
                continue
            worker = self._run_worker(
                functools.partial(self._follow, vm_id, key),  # no coroutine until it runs
                name=f"subscribe {vm_id}",
                group="subscriptions",
                exit_on_error=False,
            )
            self._active[vm_id] = (key, worker)
        for vm_id in set(self._failed) - set(want):
            del self._failed[vm_id]
        return retry

    def ended(self, vm_id: str, key: Key | None) -> None:
        """The stream of `vm_id` is over; a later `sync` may start a new one (after a pause).

        `key` says which stream ended: a report from an older runner's stream must not drop the
        subscription to its successor.
        """
        entry = self._active.get(vm_id)
        if entry is not None and entry[0] == key:
            del self._active[vm_id]
            self._failed[vm_id] = (key, time.monotonic())

    def cancel_all(self) -> None:
        for _key, worker in self._active.values():
            worker.cancel()
        self._active.clear()

    async def _follow(self, vm_id: str, key: Key) -> None:
        reason = "the runner closed the connection"
        try:
            client = await AsyncIPCClient.connect(key[0])
            async with client:
                await client.subscribe(TOPICS)
                # Asked apart: a runner started by an older version refuses the topic, and
                # that must not cost the rest of the stream.
                with contextlib.suppress(IPCError):
                    await client.subscribe(GUEST_TOPICS)
                async for msg in client.events():
                    data = msg.get("data")
                    if isinstance(data, dict):
                        self._post(RunnerEvent(vm_id, str(msg.get("event")), data))
        except IPCError as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            raise
        self._post(RunnerGone(vm_id, reason, key))
