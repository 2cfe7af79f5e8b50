"""The other hosts' VMs for the one table: a HostWatch per registered host (fleet/link.py).

Every host has its own threads (its ssh, its agent session, its backoff), so a host that is down
or slow never holds up another, the local VMs or the UI thread; the app only gets messages: a
host's pushed rows, a host lost, the followed VM's log and stats. The hosts come from the store
watcher, at start and whenever the hosts table changes (`sync`): a host added starts its watch, a
host removed (or redefined) has its watch ended on a thread of its own, and its shared ssh
connection closed unless another host still uses it. Actions on a remote VM go through
`backend(host)`, which speaks to the same session. Stopping ends the sessions only: the VMs over
there keep running (they never depended on this connection).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message

from maqet_tui.common.paths import Paths
from maqet_tui.fleet import registry
from maqet_tui.fleet.hostspec import HostSpec, remote_command
from maqet_tui.fleet.link import HostWatch
from maqet_tui.fleet.remote_vms import RemoteVMs
from maqet_tui.fleet.ssh import base_argv, close_master
from maqet_tui.tui.hostrows import host_of, ident, row_id
from maqet_tui.tui.messages import HostDown, HostRows, LogChunk, RunnerEvent

VM = dict[str, Any]
JOIN = 20.0
"""Seconds quitting waits for the hosts being ended (each HostWatch.stop waits up to 15 s)."""


class FleetWatch:
    def __init__(self, paths: Paths, post: Callable[[Message], object]) -> None:
        self.paths = paths
        self.post = post
        self.watches: dict[str, HostWatch] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._enders: list[threading.Thread] = []

    def sync(self, rows: list[dict[str, Any]]) -> set[str]:
        """Watch exactly the hosts of `rows` (the hosts table); returns the names whose view is
        void (removed, or now another definition): their rows and down-line must go."""
        wanted: dict[str, HostSpec] = {}
        for row in rows:
            try:
                wanted[str(row["name"])] = registry.spec_of(row)
            except (KeyError, TypeError):
                continue  # not a host row: nothing to reach
        with self._lock:
            if self._stopped:
                return set()
            void = {n for n, w in self.watches.items() if wanted.get(n) != w.spec}
            ended = [self.watches.pop(n) for n in sorted(void)]
            for name, spec in wanted.items():
                if name not in self.watches:
                    self.watches[name] = self._watch(spec)
                    self.watches[name].start()
            keep = {(w.spec.destination, w.spec.ssh_options) for w in self.watches.values()}
            for watch in ended:
                shared = (watch.spec.destination, watch.spec.ssh_options) in keep
                ender = threading.Thread(
                    target=self._end, args=(watch, not shared), name="host-end", daemon=True
                )
                self._enders = [t for t in self._enders if t.is_alive()] + [ender]
                ender.start()
        return void

    def _watch(self, spec: HostSpec) -> HostWatch:
        """A watch whose messages stop the moment it is no longer the host's (removed)."""
        host = spec.name
        watch = HostWatch(spec, self.paths, lambda rows: None, lambda why: None)

        def current() -> bool:
            return self.watches.get(host) is watch

        def pushed(rows: list[VM]) -> None:
            if current():
                self.post(HostRows(host, rows))

        def lost(why: str) -> None:
            if current():
                self.post(HostDown(host, why, watch.retry_in))

        def followed(event: str, data: dict[str, Any]) -> None:
            vm = data.get("vm")
            if not current() or vm is None or vm != watch.following:
                return  # a VM no longer followed: its last events may still be on the way
            vm_id = row_id(host, str(vm))
            if event == "log":
                self.post(LogChunk(vm_id, str(data.get("text", "")), bool(data.get("reset"))))
            elif isinstance(stats := data.get("stats"), dict):
                self.post(RunnerEvent(vm_id, "stats", stats))

        watch.on_vms, watch.on_down, watch.on_follow = pushed, lost, followed
        return watch

    def _end(self, watch: HostWatch, close_shared: bool) -> None:
        """The session ends (its ssh with it); then the shared connection, which a retry just
        before the end may have opened afresh: nothing of a removed host stays behind."""
        watch.stop()
        if close_shared:
            close_master(watch.spec, self.paths)

    def want(self, vm: VM | None) -> list[HostWatch]:
        """Follow `vm` (a remote row; None or a local one: no VM anywhere). Cheap, on the UI
        thread, so the latest selection always wins; returns the watches whose agent must be
        told (their `send_follow`, a round trip each, belongs on a worker): those that change,
        and `vm`'s own host always (a VM selected again starts again from its log's tail)."""
        host = host_of(vm)
        changed = []
        with self._lock:
            for name, watch in self.watches.items():
                target = ident(vm) if vm is not None and name == host else None
                if watch.following != target or target is not None:
                    watch.following = target
                    changed.append(watch)
        return changed

    def follows(self, host: str) -> bool:
        """Whether `host`'s agent relays a VM's log and stats (protocol 1.2 and later)."""
        watch = self.watches.get(host)
        return watch is None or watch.follows

    def backend(self, host: str) -> RemoteVMs:
        watch = self.watches[host]
        return RemoteVMs(host, watch.call)

    def console_argv(self, host: str, ident: str) -> list[str]:
        """ssh running `console IDENT` on `host`, on the host's shared connection (no tty: the
        bytes go to the TUI's console pane, not to a terminal)."""
        spec = self.watches[host].spec
        return [*base_argv(spec, self.paths), remote_command(spec, "console", ident)]

    def stop(self) -> None:
        """End every session at once (each may take a moment to close its ssh), and wait for
        the hosts already being ended."""
        with self._lock:
            self._stopped = True
            watches = list(self.watches.values())
            pending = list(self._enders)
        enders = [threading.Thread(target=w.stop, daemon=True) for w in watches]
        for t in enders:
            t.start()
        for t in [*enders, *pending]:
            t.join(timeout=JOIN)
