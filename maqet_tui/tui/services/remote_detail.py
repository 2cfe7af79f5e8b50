"""The Events and Log panes of a VM on another host: read through its agent session, on a
worker thread, when the VM is selected and again whenever its host pushes a change.

Local VMs have the store watcher and the log tailer (a file and a PRAGMA away); a remote VM's
events and runner log live on its host, so they come as a whole (the newest EVENT_HISTORY
events, the log's last TAIL_BYTES) in two requests on the session the row pushes already use.
A read that fails says why in the pane instead of the text; the next push tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message

from maqet_tui.tui.hostrows import host_of, ident
from maqet_tui.tui.messages import EventsLoaded, LogChunk
from maqet_tui.tui.ops import error_text
from maqet_tui.tui.services.log_tail import TAIL_BYTES
from maqet_tui.tui.services.store_watch import EVENT_HISTORY
from maqet_tui.tui.services.threads import run_blocking

if TYPE_CHECKING:
    from maqet_tui.fleet.remote_vms import RemoteVMs

VM = dict[str, Any]
Backend = Callable[[VM], "RemoteVMs"]


class RemoteDetail:
    def __init__(
        self, post: Callable[[Message], object], run_worker: Callable[..., Any], backend: Backend
    ) -> None:
        self._post = post
        self._run_worker = run_worker
        self._backend = backend
        self.vm: VM | None = None

    def select(self, vm: VM | None) -> None:
        """Follow `vm` if it is a remote one (None, or a local VM: follow nothing)."""
        self.vm = vm if host_of(vm) is not None else None
        self.refresh()

    def pushed(self, host: str) -> None:
        """`host` pushed its rows: something changed there, the shown VM's panes may be stale."""
        if self.vm is not None and self.vm.get("host") == host:
            self.refresh()

    def refresh(self) -> None:
        vm = self.vm
        if vm is None:
            return

        async def read() -> None:
            await run_blocking(self._read, vm)

        self._run_worker(read, group="remote-detail", exclusive=True, exit_on_error=False)

    def _read(self, vm: VM) -> None:
        name, shown = ident(vm), str(vm["id"])
        try:
            events = self._backend(vm).events(name, 0, EVENT_HISTORY)
        except Exception as exc:
            why = f"events not readable: {error_text(exc)}"
            events = [
                {"id": 0, "ts": 0, "kind": "status", "name": "?", "data": {"last_error": why}}
            ]
        self._post(EventsLoaded(shown, events, reset=True))
        try:
            text = self._backend(vm).log(name)[-TAIL_BYTES:]
        except Exception as exc:
            text = f"the runner log is not readable: {error_text(exc)}\n"
        self._post(LogChunk(shown, text, reset=True))
