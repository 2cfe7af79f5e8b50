"""MaqetApp: owns the data (rows, stats) and the background services; the main screen shows them.

Data flow: services (store watcher, runner subscriptions, stats sampler, log tail) post messages;
the handlers here update `vms`/`stats` and call the main screen's `*_changed` hooks. Nothing
blocking ever runs on this thread, and quitting stops only our own threads: VMs belong to their
runners and keep running.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.binding import Binding

from maqet_tui.common.errors import MaqetError
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.manager import Manager
from maqet_tui.tui import workers
from maqet_tui.tui.commands import VMCommands
from maqet_tui.tui.demo_builder import DemoBuilder
from maqet_tui.tui.fleet_app import FleetMixin
from maqet_tui.tui.keys import KeyGate
from maqet_tui.tui.messages import (
    BootFailed,
    BulkFinished,
    DemoFinished,
    DemoProgress,
    EventsLoaded,
    HostSample,
    LogChunk,
    ManagerReady,
    OpFinished,
    RowsLoaded,
    RunnerEvent,
    RunnerGone,
    StatsSampled,
)
from maqet_tui.tui.ops import Ops, error_text
from maqet_tui.tui.screens.demo import START, DemoScreen
from maqet_tui.tui.screens.details import CONSOLE_BINDINGS, DETAIL_BINDINGS
from maqet_tui.tui.screens.help import HelpScreen
from maqet_tui.tui.screens.main import LIST_BINDINGS, MainScreen
from maqet_tui.tui.screens.snapshot_actions import SnapshotActionsMixin
from maqet_tui.tui.screens.vm_actions import VMActionsMixin
from maqet_tui.tui.services.fleet_watch import FleetWatch
from maqet_tui.tui.services.history import StatsHistory
from maqet_tui.tui.services.log_tail import LogTailer
from maqet_tui.tui.services.remote_detail import RemoteDetail
from maqet_tui.tui.services.stats import StatsSampler
from maqet_tui.tui.services.store_watch import StoreWatcher
from maqet_tui.tui.services.subscriptions import Subscriptions
from maqet_tui.tui.services.threads import run_blocking
from maqet_tui.tui.widgets.console_log import ConsoleLog
from maqet_tui.tui.widgets.qmp_console import QMPInput

VM = dict[str, Any]
ManagerFactory = Callable[[str | None], Manager]
STATUS_FIELDS = (
    "status",
    "last_error",
    "qemu_pid",
    "runner_pid",
    "socket_path",
    "started_at",
)
# App keys that raw console mode hands to the guest (ctrl+q and ctrl+p are priority bindings,
# which would otherwise fire before the console sees the key).
GUEST_KEEPS = frozenset({"quit", "help", "command_palette"})
FROZEN_ENV = "MAQET_TUI_FROZEN_HOST"


class MaqetApp(FleetMixin, App[None]):
    CSS_PATH = Path(__file__).with_name("maqet.tcss")  # absolute: subclasses live elsewhere
    TITLE = "maqet-tui"
    COMMANDS = App.COMMANDS | {VMCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(
        self,
        home: str | None = None,
        manager_factory: ManagerFactory = Manager,
        *,
        frozen_host: bool | None = None,
        live_stats: bool = True,
        boot_demo: bool = False,
    ) -> None:
        """`frozen_host` (or MAQET_TUI_FROZEN_HOST=1) shows a fixed host line, for snapshots.
        `boot_demo` (`maqet-tui --demo`, what ./scripts/run passes on a first run) makes the demo
        VM if needed, then boots it with its Console in view: a first screen with a live guest."""
        super().__init__()
        self.home = home
        self.manager_factory = manager_factory
        self.frozen_host = (
            frozen_host if frozen_host is not None else os.environ.get(FROZEN_ENV) == "1"
        )
        self.live_stats = live_stats
        self.boot_demo = boot_demo
        self._demo_asked = False
        self.manager: Manager | None = None
        self.boot_error: str | None = None
        self.loaded = False
        self.vms: dict[str, VM] = {}
        self.stats: dict[str, tuple[float, int]] = {}
        self.host: HostSample | None = None
        self.samples = 0  # stats samples received (screenshots wait for a measured CPU %)
        self._pids: dict[str, int] = {}
        self.ops = Ops(self)
        self.demo = DemoBuilder(self)
        self.subs = Subscriptions(self.post_message, self.run_worker)
        self.history = StatsHistory()
        self.guests: dict[str, dict[str, Any]] = {}  # the guest agent's reports, by VM id
        self.watcher: StoreWatcher | None = None
        self.sampler: StatsSampler | None = None
        self.tailer: LogTailer | None = None
        self._main: MainScreen | None = None
        self.init_fleet()
        self.remote_detail = RemoteDetail(
            self.post_message, self.run_worker, self.remote, lambda: self.fleet
        )
        self.keys = KeyGate(self, super().on_event)

    # -- plumbing ----------------------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        self._main = MainScreen()
        return self._main

    @property
    def main(self) -> MainScreen | None:
        return self._main

    def require_manager(self) -> Manager:
        if self.manager is None:
            raise MaqetError(self.boot_error or "still starting up; try again in a moment")
        return self.manager

    async def on_event(self, event: events.Event) -> None:
        """Keys go through the gate (one at a time, see keys.py); everything else as usual."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            await self.keys.arrived(event)
        else:
            await super().on_event(event)

    def on_mount(self) -> None:
        workers.start(self, self._boot, name="boot", exit_on_error=False)

    async def _boot(self) -> None:
        """The manager reconciles the store on creation: disk work, so not on this thread."""
        try:
            manager = await run_blocking(self.manager_factory, self.home)
        except Exception as exc:
            self.post_message(BootFailed(error_text(exc)))
        else:
            self.manager = manager
            self.post_message(ManagerReady())

    def on_manager_ready(self, _msg: ManagerReady) -> None:
        manager = self.require_manager()
        self.watcher = StoreWatcher(manager.paths.db, self.post_message)
        self.tailer = LogTailer(self.post_message)
        self.sampler = StatsSampler(self.post_message, self.pids, sample_host=not self.frozen_host)
        services = [self.watcher, self.tailer] + ([self.sampler] if self.live_stats else [])
        for service in services:
            service.start()
        self.fleet = FleetWatch(manager.paths, self.post_message)  # hosts: from the watcher
        self.boot_demo_when_ready()

    def boot_demo_when_ready(self) -> None:
        """`--demo`: ask for the demo once both the store is open and the main screen is up.
        Either may come first (the store opens on a worker), so both call this."""
        ready = self.boot_demo and not self._demo_asked and self.watcher is not None
        if ready and (main := self.live_main()):
            self._demo_asked = True
            main.action_demo()

    def on_boot_failed(self, msg: BootFailed) -> None:
        self.boot_error = msg.error
        self.notify(msg.error, title="cannot open the VM store", severity="error", timeout=30)
        if main := self.live_main():
            main.boot_failed(msg.error)

    def on_unmount(self) -> None:
        self.subs.cancel_all()
        services = [s for s in (self.watcher, self.sampler, self.tailer) if s is not None]
        for service in services:
            service.stop()
        if self.fleet is not None:  # the sessions end; the VMs on the hosts do not
            self.fleet.stop()
        for service in services:  # short loops: none touches the home after the app is gone
            service.join(1.0)

    def pids(self) -> dict[str, int]:
        """For the stats thread: replaced (never mutated) on each change, so safe to read."""
        return self._pids

    def poke_store(self) -> None:
        if self.watcher is not None:
            self.watcher.poke()

    def follow(self, vm_id: str | None) -> None:
        """The selection changed: stream that VM's events and runner log (a remote VM's come
        through its host's agent, with its stats: RemoteDetail)."""
        vm = self.vms.get(vm_id) if vm_id else None
        self.remote_detail.select(vm)
        if vm is not None and vm.get("host"):
            vm_id = None  # nothing local to follow
        if self.watcher is not None:
            self.watcher.select(vm_id)
        if self.tailer is not None:
            manager = self.manager
            path = manager.paths.runner_log(vm_id) if manager and vm_id else None
            self.tailer.select(vm_id, path)

    def live_main(self) -> MainScreen | None:
        """The main screen if it can take updates (not before mount, not while shutting down:
        service messages keep arriving while the DOM is being torn down)."""
        m = self._main
        if m is None or not self.is_running or not m.is_mounted or not m.is_attached:
            return None
        return m

    def refresh_main(self) -> None:
        if main := self.live_main():
            main.vms_changed()

    def _set_vms(self, vms: dict[str, VM]) -> None:
        self.vms = vms
        self._pids = {i: int(vm["qemu_pid"]) for i, vm in vms.items() if vm.get("qemu_pid")}
        # A VM's history ends with its QEMU (a remote one's: with its runner, or when not shown).
        self.history.keep_only(set(self._pids) | self.remote_detail.live_ids(vms))
        # ... and what its guest agent said ends with its runner (whose stream is then cancelled).
        self.guests = {k: g for k, g in self.guests.items() if vms.get(k, {}).get("status") in LIVE}
        if self.sampler is not None:
            self.sampler.poke()
        self.refresh_main()

    # -- messages from the services ----------------------------------------------------------
    def on_rows_loaded(self, msg: RowsLoaded) -> None:
        self.loaded = True
        self.local_vms = {str(vm["id"]): vm for vm in msg.rows}
        self.merge_rows()
        self._sync_subscriptions()

    def _sync_subscriptions(self) -> None:
        retry = self.subs.sync(self.local_vms.values())  # remote rows: pushed by their agents
        if retry is not None:
            self.set_timer(retry + 0.05, self._sync_subscriptions)

    def on_runner_event(self, msg: RunnerEvent) -> None:
        if msg.topic == "stats":  # no store poke: the runner records no event for a sample
            self.history.add(msg.vm_id, msg.data)
            if main := self.live_main():
                main.history_changed(msg.vm_id)
            return
        if msg.topic == "guest":  # the agent's view changed (or a first report): no store event
            self.guests = {**self.guests, msg.vm_id: msg.data}
            self.refresh_main()
            return
        vm = self.local_vms.get(msg.vm_id)
        if msg.topic == "status" and vm is not None:
            changes = {k: msg.data[k] for k in STATUS_FIELDS if k in msg.data}
            if any(vm.get(k) != v for k, v in changes.items()):
                self.local_vms = {**self.local_vms, msg.vm_id: {**vm, **changes}}
                self.merge_rows()
        self.poke_store()  # the runner has recorded (or is recording) an event: fetch it

    def on_runner_gone(self, msg: RunnerGone) -> None:
        self.subs.ended(msg.vm_id, msg.key)
        self.guests = {k: g for k, g in self.guests.items() if k != msg.vm_id}
        if msg.vm_id in self.vms:
            self.ops.reconcile(msg.vm_id)

    def on_stats_sampled(self, msg: StatsSampled) -> None:
        self.stats = msg.vms
        self.host = msg.host or self.host
        self.samples += 1
        if main := self.live_main():
            main.stats_changed()

    def on_events_loaded(self, msg: EventsLoaded) -> None:
        if main := self.live_main():
            main.events_loaded(msg)

    def on_log_chunk(self, msg: LogChunk) -> None:
        if main := self.live_main():
            main.log_chunk(msg)

    def on_demo_progress(self, msg: DemoProgress) -> None:
        self.demo.progressed(msg)
        if isinstance(self.screen, DemoScreen):
            self.screen.show_progress(msg)

    def on_demo_finished(self, msg: DemoFinished) -> None:
        """Tell the dialog if it is open; otherwise (it was hidden) a notification says it."""
        self.demo.finished(msg)
        if msg.vm is not None:
            if main := self.live_main():
                main.want_select = str(msg.vm["id"])
            self.poke_store()
        if self.boot_demo and msg.vm is not None:
            self.boot_demo = False  # once: a later N goes through the dialog as usual
            if isinstance(self.screen, DemoScreen):
                self.screen.dismiss(START)  # its callback boots it and shows the Console
            elif main := self.live_main():
                main._demo_done(START)
            return
        if isinstance(self.screen, DemoScreen):
            self.screen.finish(msg)
        elif msg.error is not None:
            self.notify(f"demo VM: {msg.error}", severity="error", timeout=15)
        elif msg.vm is not None:
            self.notify(f"the demo VM {msg.vm['name']} is ready: s starts it", timeout=8)

    def on_op_finished(self, msg: OpFinished) -> None:
        if msg.error is None:
            self.notify(msg.done, timeout=3)
        else:
            self.notify(f"{msg.what} failed: {msg.error}", severity="error", timeout=10)
        self.poke_store()

    def on_bulk_finished(self, msg: BulkFinished) -> None:
        if msg.failed:
            self.notify(msg.text, severity="error", timeout=10)
        else:
            self.notify(msg.text, timeout=4)
        self.poke_store()

    # -- app-wide keys -----------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Keys typed behind `q` (`qa`, `q?`) would open screens on an app already going."""
        self.keys.close()
        self.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.keys.closed:
            return False
        main = self.live_main()
        return not (action in GUEST_KEEPS and main is not None and main.console_is_raw())

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(
                [
                    # Most used first: at 80x24 these are what shows without scrolling.
                    ("VM actions", VMActionsMixin.ACTION_BINDINGS),
                    ("VM list", LIST_BINDINGS),
                    ("Details", DETAIL_BINDINGS),
                    ("General", self.BINDINGS),
                    ("QMP pane", QMPInput.BINDINGS),
                    ("Console pane", [*CONSOLE_BINDINGS, *ConsoleLog.BINDINGS]),
                    ("Snapshots pane", SnapshotActionsMixin.SNAPSHOT_BINDINGS),
                ]
            )
        )
