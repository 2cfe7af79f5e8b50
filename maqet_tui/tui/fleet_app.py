"""The app's side of the other hosts: their rows merged with the local ones, which hosts are
down, and which backend (the local Manager or a host's RemoteVMs) acts on a given row.

The local rows come from the store watcher, each host's from its agent's pushes; the table sees
one dict of rows (`vms`), rebuilt from both on every change of either. The hosts themselves come
from the store watcher too, whenever the hosts table changes: a host removed takes its rows and
its down-line with it at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from maqet_tui.common.errors import MaqetError
from maqet_tui.tui import hostrows
from maqet_tui.tui.messages import HostDown, HostRows, HostsLoaded

if TYPE_CHECKING:
    from textual.app import App

    from maqet_tui.core.manager import Manager
    from maqet_tui.fleet.remote_vms import RemoteVMs
    from maqet_tui.tui.screens.main import MainScreen
    from maqet_tui.tui.services.fleet_watch import FleetWatch
    from maqet_tui.tui.services.remote_detail import RemoteDetail

    _Base = App[None]
else:
    _Base = object

VM = dict[str, Any]


class FleetMixin(_Base):
    fleet: FleetWatch | None
    hosts: list[str]
    local_vms: dict[str, VM]
    remote_vms: dict[str, dict[str, VM]]
    hosts_down: dict[str, tuple[str, float]]
    """host -> (why, time.monotonic() of the next try)."""
    remote_detail: RemoteDetail

    if TYPE_CHECKING:

        def _set_vms(self, vms: dict[str, VM]) -> None: ...

        def require_manager(self) -> Manager: ...

        def live_main(self) -> MainScreen | None: ...

    def init_fleet(self) -> None:
        self.fleet = None
        self.hosts = []
        self.local_vms = {}
        self.remote_vms = {}
        self.hosts_down = {}
        self._countdown = False

    def merge_rows(self) -> None:
        merged = dict(self.local_vms)
        for host in self.hosts:
            merged.update(self.remote_vms.get(host, {}))
        self._set_vms(merged)

    def backend(self, vm: VM) -> Manager | RemoteVMs:
        """What acts on `vm`: this machine's Manager, or its host's agent session."""
        return self.require_manager() if hostrows.host_of(vm) is None else self.remote(vm)

    def remote(self, vm: VM) -> RemoteVMs:
        host = hostrows.host_of(vm)
        if host is None or self.fleet is None or host not in self.fleet.watches:
            raise MaqetError(f"{vm.get('name')} is not a VM of a registered host")
        return self.fleet.backend(host)

    def hosts_down_now(self) -> list[tuple[str, str]]:
        """(host, its line under the table), by host name."""
        now = time.monotonic()
        return [
            (host, hostrows.down_line(host, why, at - now))
            for host, (why, at) in sorted(self.hosts_down.items())
        ]

    def relays(self, vm: VM) -> bool:
        """Whether a remote VM's host relays its log and stats (an older maqet-tui there does
        not); True for a local VM."""
        host = hostrows.host_of(vm)
        return host is None or self.fleet is None or self.fleet.follows(host)

    def on_hosts_loaded(self, msg: HostsLoaded) -> None:
        if self.fleet is None:
            return
        void = self.fleet.sync(msg.hosts)
        self.hosts = [str(h["name"]) for h in msg.hosts if str(h.get("name")) in self.fleet.watches]
        for host in void | (set(self.remote_vms) - set(self.hosts)):
            self.remote_vms.pop(host, None)
            self.hosts_down.pop(host, None)
        if self.hosts and not self._countdown:
            self._countdown = True
            self.set_interval(1.0, self._tick_down)  # the "retrying in N s" countdown
        self.merge_rows()

    def _tick_down(self) -> None:
        # Only the line under the table counts down: nothing else changed.
        if self.hosts_down and (main := self.live_main()):
            main.show_hosts_down(self.hosts_down_now())

    def on_host_rows(self, msg: HostRows) -> None:
        if msg.host not in self.hosts:
            return  # removed meanwhile: what it sent last is void
        self.hosts_down.pop(msg.host, None)
        self.remote_vms[msg.host] = {
            vm["id"]: vm for vm in (hostrows.remote_row(msg.host, r) for r in msg.rows)
        }
        self.merge_rows()
        self.remote_detail.pushed(msg.host)

    def on_host_down(self, msg: HostDown) -> None:
        if msg.host not in self.hosts:
            return
        self.hosts_down[msg.host] = (msg.why, time.monotonic() + msg.retry_in)
        self.remote_vms[msg.host] = hostrows.lost(self.remote_vms.get(msg.host, {}))
        self.merge_rows()
