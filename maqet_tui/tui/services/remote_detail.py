"""The Events, Log and Stats panes of a VM on another host, through its host's agent session.

Local VMs have the store watcher, the log tailer and runner subscriptions (a file, a PRAGMA and a
socket away); a remote VM's live on its host. Its host's agent is asked to `follow` the VM
shown (FleetWatch.want, sent on a worker thread): it then pushes the runner log as this app's Log
pane follows a local one (the tail, then appended lines only) and relays the runner's `stats`
samples, both arriving as the local services' messages. The events (the newest EVENT_HISTORY)
are read on selection and again whenever the host pushes a change. A host whose maqet-tui is
older (no `follow`) gets its runner log's last TAIL_BYTES re-read at each push instead. A read
that fails says why in the pane instead of the text; the next push tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message

from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.logfile import cut_to_line
from maqet_tui.tui.hostrows import host_of, ident
from maqet_tui.tui.messages import EventsLoaded, LogChunk
from maqet_tui.tui.ops import error_text
from maqet_tui.tui.services.store_watch import EVENT_HISTORY
from maqet_tui.tui.services.threads import run_blocking

if TYPE_CHECKING:
    from maqet_tui.fleet.link import HostWatch
    from maqet_tui.fleet.remote_vms import RemoteVMs
    from maqet_tui.tui.services.fleet_watch import FleetWatch

VM = dict[str, Any]
Backend = Callable[[VM], "RemoteVMs"]


class RemoteDetail:
    def __init__(
        self,
        post: Callable[[Message], object],
        run_worker: Callable[..., Any],
        backend: Backend,
        fleet: Callable[[], FleetWatch | None],
    ) -> None:
        self._post = post
        self._run_worker = run_worker
        self._backend = backend
        self._fleet = fleet
        self.vm: VM | None = None

    def select(self, vm: VM | None) -> None:
        """Follow `vm` if it is a remote one (None, or a local VM: follow nothing remote)."""
        self.vm = vm if host_of(vm) is not None else None
        fleet = self._fleet()
        tell = fleet.want(self.vm) if fleet is not None else []
        self._start(tell, log=True)

    def pushed(self, host: str) -> None:
        """`host` pushed its rows: something changed there, the shown VM's events may be stale
        (its log is pushed by itself, unless the host cannot)."""
        if self.vm is not None and self.vm.get("host") == host:
            self._start([], log=True)

    def live_ids(self, vms: dict[str, VM]) -> set[str]:
        """The remote VM whose stats samples are kept: the one followed, while it is live."""
        vm = vms.get(str(self.vm["id"])) if self.vm is not None else None
        return {str(vm["id"])} if vm is not None and vm.get("status") in LIVE else set()

    def _start(self, tell: list[HostWatch], log: bool) -> None:
        vm = self.vm
        if vm is None and not tell:
            return

        async def read() -> None:
            await run_blocking(self._read, vm, tell, log)

        self._run_worker(read, group="remote-detail", exclusive=True, exit_on_error=False)

    def _read(self, vm: VM | None, tell: list[HostWatch], log: bool) -> None:
        """`log`: read the whole log tail if the host does not push it (`tell` first: sending
        `follow` is how an older agent shows that it cannot)."""
        for watch in tell:
            watch.send_follow()
        if vm is None:
            return
        name, shown = ident(vm), str(vm["id"])
        try:
            events = self._backend(vm).events(name, 0, EVENT_HISTORY)
        except Exception as exc:
            why = f"events not readable: {error_text(exc)}"
            events = [
                {"id": 0, "ts": 0, "kind": "status", "name": "?", "data": {"last_error": why}}
            ]
        self._post(EventsLoaded(shown, events, reset=True))
        if not (log and self._cannot_follow(vm)):
            return
        try:
            text = cut_to_line(self._backend(vm).log(name))
        except Exception as exc:
            text = f"the runner log is not readable: {error_text(exc)}\n"
        self._post(LogChunk(shown, text, reset=True))

    def _cannot_follow(self, vm: VM) -> bool:
        fleet, host = self._fleet(), host_of(vm)
        return fleet is not None and host is not None and not fleet.follows(host)
