"""The main screen: host line, VM table, detail tabs for the selected VM, footer.

Layout follows lazydocker/nEMU (list, then tabbed details, key hints at the bottom) stacked
vertically so it works at 80x24. The screen owns selection, marks and the filter; the app owns
the data (rows, stats) and the services, and calls the `*_changed` hooks below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from maqet_tui.common.vmstate import LIVE, QEMU_UP
from maqet_tui.tui.messages import EventsLoaded, LogChunk
from maqet_tui.tui.screens.details import (
    CONSOLE_BINDINGS,
    DETAIL_BINDINGS,
    DETAIL_TABS,
    DetailsMixin,
    make_pane,
)
from maqet_tui.tui.screens.guest_actions import GUEST_ACTIONS, GUEST_WHY, GuestActionsMixin
from maqet_tui.tui.screens.snapshot_actions import SNAPSHOT_ACTIONS, SnapshotActionsMixin
from maqet_tui.tui.screens.vm_actions import VMActionsMixin
from maqet_tui.tui.services.history import spark
from maqet_tui.tui.vmview import matches, natural_key
from maqet_tui.tui.widgets.event_log import EventLog
from maqet_tui.tui.widgets.fitting_footer import FittingFooter
from maqet_tui.tui.widgets.host_header import HostHeader
from maqet_tui.tui.widgets.log_view import LogView
from maqet_tui.tui.widgets.overview import RECENT, OverviewPane
from maqet_tui.tui.widgets.stats_pane import StatsPane
from maqet_tui.tui.widgets.vm_table import TREND_WIDTH, VMTable

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]

EVENTS_KEPT = 200
HOSTS_DOWN_ROWS = 3  # rows under the table for hosts out of reach (maqet.tcss: #hostsdown)


LIST_BINDINGS = [
    Binding("space", "mark", "Mark VM", tooltip="Mark (start/stop use marks)", show=False),
    Binding("slash", "filter", "Filter", key_display="/"),
    Binding("escape", "back", "Back", key_display="esc", tooltip="Back; clear filter, marks"),
    Binding("N", "demo", "Demo VM", key_display="N", show=False, tooltip="Make the demo VM"),
]


class MainScreen(
    VMActionsMixin, SnapshotActionsMixin, GuestActionsMixin, DetailsMixin, Screen[None]
):
    BINDINGS = [
        *VMActionsMixin.ACTION_BINDINGS,
        *GuestActionsMixin.GUEST_BINDINGS,
        *GuestActionsMixin.GUEST_WHY_BINDINGS,
        *SnapshotActionsMixin.SNAPSHOT_BINDINGS,
        *SnapshotActionsMixin.SNAPSHOT_WHY_BINDINGS,
        *CONSOLE_BINDINGS,
        *LIST_BINDINGS,
        *DETAIL_BINDINGS,
    ]

    # The footer is recomputed whenever the selected VM's status changes (check_action below).
    selected_status: reactive[str | None] = reactive(None, bindings=True)

    def __init__(self) -> None:
        super().__init__()
        # The VM the detail panes show; follows the cursor through SelectionChanged. Actions use
        # `selected_id` (the cursor itself), so a key typed right after j/k hits the right VM.
        self.shown_id: str | None = None
        self.marks: set[str] = set()
        self.filter_text = ""
        self.events: list[dict[str, Any]] = []
        self.want_select: str | None = None
        self._bindings_shown: tuple[Any, ...] | None = None
        self._statuses: dict[str, str] | None = None  # as last seen, to notice crashes

    def refresh_bindings(self) -> None:
        """Tell the footer only when what it would show has changed.

        The footer rebuilds all its key widgets on every refresh; done on each cursor move and
        status event it was about a third of the UI thread's time (profiled with py-spy), which
        showed up as keypress-to-repaint latency.
        """
        try:
            shown = tuple(
                (
                    key,
                    id(b.node),
                    b.binding.action,
                    b.binding.description,
                    b.enabled,
                    b.binding.show,
                )
                for key, b in self.active_bindings.items()
            )
        except NoMatches:  # the screen is being torn down (a stream closing as the app quits)
            return
        if shown != self._bindings_shown:
            self._bindings_shown = shown
            super().refresh_bindings()

    @property
    def maqet(self) -> MaqetApp:
        return self.app  # type: ignore[return-value]

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield HostHeader(frozen=self.maqet.frozen_host, id="host")
        yield Input(
            placeholder="filter: name, status or id  (esc clears)", id="filter", compact=True
        )
        yield VMTable(id="vms")
        yield Static(id="nomatch")
        yield Static(id="hostsdown")
        with TabbedContent(id="details"):
            for i, (tab, title) in enumerate(DETAIL_TABS, 1):
                with TabPane(f"{i} {title}", id=f"tab-{tab}"):
                    yield make_pane(tab)
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(VMTable).focus()
        if self.maqet.loaded:  # rows may have arrived before this screen was up
            self.vms_changed()
        if self.maqet.boot_error:
            self.boot_failed(self.maqet.boot_error)
        self.call_after_refresh(self.maqet.boot_demo_when_ready)  # the store may be open already

    def boot_failed(self, error: str) -> None:
        self.query_one(OverviewPane).show_error(f"Cannot open the VM store: {error}")

    @property
    def table(self) -> VMTable:
        return self.query_one(VMTable)

    @property
    def selected_id(self) -> str | None:
        # Asked from binding checks too, which can run while the screen is being torn down
        # (a console stream closing as the app quits): no table then, nothing selected.
        tables = self.query(VMTable)
        return tables.first().selected_id if tables else None

    @property
    def shown_vm(self) -> VM | None:
        return self.maqet.vms.get(self.shown_id) if self.shown_id else None

    def rows(self) -> list[VM]:
        """The VMs the table shows: those the filter lets through, in natural name order."""
        vms = [vm for vm in self.maqet.vms.values() if matches(vm, self.filter_text)]
        return sorted(vms, key=natural_key)

    # -- data hooks (called by the app) ------------------------------------------------------
    def vms_changed(self) -> None:
        vms = self.maqet.vms
        self._tell_crashes(vms)
        self.marks &= set(vms)
        rows = self.rows()
        self.table.hosts = bool(self.maqet.hosts)
        self.table.set_guests(self.maqet.guests)
        self.table.show(rows, self.maqet.stats, self.marks)
        self._show_no_match(bool(vms) and not rows)
        self.show_hosts_down(self.maqet.hosts_down_now())
        if self.want_select and self.table.select_id(self.want_select):
            self.want_select = None
        running = sum(1 for vm in vms.values() if vm.get("status") in QEMU_UP)
        header = self.query_one(HostHeader)
        header.set_counts(running, len(vms), len(self.marks))
        header.set_host(self.maqet.host)
        selected = self.maqet.vms.get(self.selected_id or "")
        self.selected_status = selected.get("status") if selected else None
        self.show_details(self.shown_vm, self.events[-RECENT:])
        self.refresh_bindings()

    def _tell_crashes(self, vms: dict[str, VM]) -> None:
        """A VM that crashed is said out loud: it may not be the one selected, or even listed."""
        before = self._statuses
        self._statuses = {i: str(vm.get("status")) for i, vm in vms.items()}
        if before is None:  # the first load: crashes from before are history, not news
            return
        for i, vm in vms.items():
            if vm.get("status") == "crashed" and before.get(i, "crashed") != "crashed":
                reason = vm.get("last_error") or "no reason recorded"
                self.maqet.notify(f"{vm['name']} crashed: {reason}", severity="error", timeout=10)

    def stats_changed(self) -> None:
        self.query_one(HostHeader).set_host(self.maqet.host)
        history = self.maqet.history
        self.table.set_trends(
            {
                i: spark(history.series(i, "cpu", last=TREND_WIDTH), TREND_WIDTH)
                for i in history.vm_ids()
            }
        )
        self.table.show(self.rows(), self.maqet.stats, self.marks)
        vm = self.shown_vm
        if vm is not None and vm.get("status") in LIVE:
            self.query_one(OverviewPane).show(vm, self.events[-RECENT:])

    def history_changed(self, vm_id: str) -> None:
        """A `stats` sample (or a replay) of `vm_id` came: the Stats tab, if it shows `vm_id`.
        The table's trends follow at the next stats repaint, so samples cost no repaint each."""
        if vm_id == self.shown_id and self.detail_tab == "tab-stats":
            self.query_one(StatsPane).show(self.shown_vm, self.maqet.history.samples(vm_id))

    def events_loaded(self, msg: EventsLoaded) -> None:
        if msg.vm_id != self.shown_id:
            return
        log = self.query_one(EventLog)
        if msg.reset:
            self.events = list(msg.events)
            log.reset(self.events)
        else:
            self.events = (self.events + msg.events)[-EVENTS_KEPT:]
            log.append(msg.events)
        self.query_one(OverviewPane).show(self.shown_vm, self.events[-RECENT:])

    def log_chunk(self, msg: LogChunk) -> None:
        if msg.vm_id != self.shown_id:
            return
        view = self.query_one(LogView)
        if msg.reset:
            view.reset(msg.text)
        else:
            view.append(msg.text)

    @on(VMTable.SelectionChanged)
    def _selection_changed(self, event: VMTable.SelectionChanged) -> None:
        self.shown_id = event.vm_id
        vm = self.shown_vm
        self.selected_status = vm.get("status") if vm else None
        self.events = []
        self.query_one(EventLog).reset([], "loading…" if vm else "no VM selected")
        self.query_one(LogView).reset("", "loading…" if vm else "no VM selected")
        self.show_details(vm, [])
        self.maqet.follow(event.vm_id)
        self.refresh_bindings()

    # -- keys --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide what cannot apply now, so the footer only offers what would work."""
        if self.console_is_raw():
            return False  # every key belongs to the guest until ctrl+]
        if action in SNAPSHOT_ACTIONS:
            return self.snapshot_action_ok(action)
        if action == "snapshot_why":
            return self.snapshot_refusal() is not None
        if action == "console_raw":
            return self.console_raw_ok(isinstance(self.focused, Input))
        if action in GUEST_ACTIONS:
            return not isinstance(self.focused, Input) and self.guest_action_ok(action)
        if action in GUEST_WHY:
            typing = isinstance(self.focused, Input)
            return not typing and self.guest_refusal(GUEST_WHY[action]) is not None
        if action in self.VM_ACTIONS:
            if isinstance(self.focused, Input):
                return False
            return bool(self.applicable(action))
        if action in self.REFUSALS:
            refused = self.REFUSALS[action]
            return not isinstance(self.focused, Input) and not self.check_action(refused, ())
        typing = isinstance(self.focused, Input)
        if action == "mark":
            return self.selected_id is not None and not typing
        if action in ("filter", "demo"):
            return not typing
        if action == "back":  # offered only when there is something to go back from
            return self.focused is not self.table or bool(self.filter_text or self.marks)
        return True

    def action_mark(self) -> None:
        vm_id = self.selected_id
        if vm_id is None:
            return
        self.marks ^= {vm_id}
        self.vms_changed()
        self.table.action_cursor_down()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def _show_no_match(self, none: bool) -> None:
        note = self.query_one("#nomatch", Static)
        if none:
            note.update(f"no VM matches '{self.filter_text}'  (esc clears the filter)")
        note.set_class(none, "-shown")

    def show_hosts_down(self, down: list[tuple[str, str]]) -> None:
        """One row per host out of reach, under the table (cut to the width, never wrapped);
        past `HOSTS_DOWN_ROWS` the last row counts and names the rest. Nothing while none is."""
        note = self.query_one("#hostsdown", Static)
        lines = [line for _host, line in down]
        if len(down) > HOSTS_DOWN_ROWS:
            rest = [host for host, _line in down[HOSTS_DOWN_ROWS - 1 :]]
            lines[HOSTS_DOWN_ROWS - 1 :] = [
                f"{len(rest)} more hosts unreachable: {', '.join(rest)}"
            ]
        if lines:
            note.update("\n".join(lines))
        note.set_class(bool(lines), "-shown")

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.vms_changed()
        self.table.select_row(0)  # a new filter starts at its first match

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            event.input.remove_class("-shown")
        self.table.focus()

    def clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-shown")
        if self.filter_text:
            self.filter_text = ""
            self.vms_changed()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box or (self.focused is self.table and self.filter_text):
            self.clear_filter()
        elif self.focused is self.table and self.marks:
            self.marks.clear()
            self.vms_changed()
        self.table.focus()

    @on(DataTable.RowSelected, "#vms")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_focus_details()
