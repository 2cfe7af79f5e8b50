"""The other hosts' VMs for the one table: a HostWatch per registered host (fleet/link.py).

Every host has its own threads (its ssh, its agent session, its backoff), so a host that is down
or slow never holds up another, the local VMs or the UI thread; the app only gets messages: the
hosts known, a host's pushed rows, a host lost. Actions on a remote VM go through `backend(host)`,
which speaks to the same session. Stopping ends the sessions only: the VMs over there keep
running (they never depended on this connection).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message

from maqet_tui.common.paths import Paths
from maqet_tui.fleet import registry
from maqet_tui.fleet.hostspec import remote_command
from maqet_tui.fleet.link import HostWatch
from maqet_tui.fleet.remote_vms import RemoteVMs
from maqet_tui.fleet.ssh import base_argv
from maqet_tui.tui.messages import HostDown, HostRows, HostsKnown


class FleetWatch:
    def __init__(self, paths: Paths, post: Callable[[Message], object]) -> None:
        self.paths = paths
        self.post = post
        self.watches: dict[str, HostWatch] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="fleet-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        """Reading the hosts opens the store: on this thread, like every other disk access."""
        try:
            specs = registry.all_hosts(self.paths)
        except Exception:  # no hosts table readable: a local-only view, as before hosts existed
            specs = []
        with self._lock:
            if self._stopped:
                return
            for spec in specs:
                watch = HostWatch(spec, self.paths, self._rows(spec.name), lambda why: None)
                watch.on_down = self._down(spec.name, watch)
                self.watches[spec.name] = watch
            self.post(HostsKnown([s.name for s in specs]))
            for watch in self.watches.values():
                watch.start()

    def _rows(self, host: str) -> Callable[[list[dict[str, Any]]], None]:
        def pushed(rows: list[dict[str, Any]]) -> None:
            self.post(HostRows(host, rows))

        return pushed

    def _down(self, host: str, watch: HostWatch) -> Callable[[str], None]:
        def lost(why: str) -> None:
            self.post(HostDown(host, why, watch.retry_in))

        return lost

    def backend(self, host: str) -> RemoteVMs:
        watch = self.watches[host]
        return RemoteVMs(host, watch.call)

    def console_argv(self, host: str, ident: str) -> list[str]:
        """ssh running `console IDENT` on `host`, on the host's shared connection (no tty: the
        bytes go to the TUI's console pane, not to a terminal)."""
        spec = self.watches[host].spec
        return [*base_argv(spec, self.paths), remote_command(spec, "console", ident)]

    def stop(self) -> None:
        """End every session at once (each may take a moment to close its ssh)."""
        with self._lock:
            self._stopped = True
            watches = list(self.watches.values())
        enders = [threading.Thread(target=w.stop, daemon=True) for w in watches]
        for t in enders:
            t.start()
        for t in enders:
            t.join(timeout=15)
