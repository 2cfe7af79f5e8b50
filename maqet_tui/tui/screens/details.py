"""The detail tabs under the VM list: which tabs exist, their panes, the keys that move between
them, and the keys that only make sense in one of them (raw console) or nowhere in particular
(the demo VM).

Kept apart from the main screen so that screen is about the list (selection, marks, filter) and
this is about what is shown of the selected VM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent, Tabs

from maqet_tui.common.errors import MaqetError
from maqet_tui.common.vmstate import QEMU_UP, STARTABLE
from maqet_tui.tui.screens.demo import START, DemoScreen
from maqet_tui.tui.screens.snapshot_actions import SNAPSHOT_TAB
from maqet_tui.tui.widgets.console_log import RAW_TOOLTIP, ConsoleLog
from maqet_tui.tui.widgets.console_pane import ConsolePane
from maqet_tui.tui.widgets.event_log import EventLog
from maqet_tui.tui.widgets.log_view import LogView
from maqet_tui.tui.widgets.overview import OverviewPane
from maqet_tui.tui.widgets.qmp_console import QMPConsole, QMPInput
from maqet_tui.tui.widgets.snapshot_pane import SnapshotPane
from maqet_tui.tui.widgets.stats_pane import StatsPane

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]

# The detail tabs, in key order (1, 2, ...), each with its pane in `make_pane()`; keys, [ ] and
# the help screen pick them up from this tuple. Console and Snapshots came last, so the keys of
# the first four stayed what they were.
DETAIL_TABS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("qmp", "QMP"),
    ("events", "Events"),
    ("log", "Log"),
    ("console", "Console"),
    ("snapshots", "Snapshots"),
    ("stats", "Stats"),
)
CONSOLE_TAB = "tab-console"

DETAIL_BINDINGS = [
    Binding("enter", "focus_details", "Into the details pane", show=False),
    *(
        Binding(str(i), f"tab('{tab}')", f"{title} tab", show=False)
        for i, (tab, title) in enumerate(DETAIL_TABS, 1)
    ),
    Binding("left_square_bracket", "tab_step(-1)", "Previous tab", key_display="[", show=False),
    Binding("right_square_bracket", "tab_step(1)", "Next tab", key_display="]", show=False),
]
CONSOLE_BINDINGS = [
    Binding("i", "console_raw", "Type into guest", tooltip=RAW_TOOLTIP),
]


def make_pane(tab: str) -> Widget:
    panes: dict[str, type[Widget]] = {
        "overview": OverviewPane,
        "qmp": QMPConsole,
        "events": EventLog,
        "log": LogView,
        "console": ConsolePane,
        "snapshots": SnapshotPane,
        "stats": StatsPane,
    }
    return panes[tab](id=tab)


if TYPE_CHECKING:  # type-check the mixin as the screen it is mixed into
    _Base = Screen[None]
else:
    _Base = object


class DetailsMixin(_Base):
    want_select: str | None

    if TYPE_CHECKING:

        @property
        def maqet(self) -> MaqetApp: ...

        @property
        def shown_vm(self) -> VM | None: ...

        def vms_changed(self) -> None: ...

    @property
    def detail_tab(self) -> str:
        return str(self.query_one(TabbedContent).active)

    @property
    def snapshot_pane(self) -> SnapshotPane:
        return self.query_one(SnapshotPane)

    @property
    def console(self) -> ConsolePane:
        return self.query_one(ConsolePane)

    def show_details(self, vm: VM | None, events: list[dict[str, Any]]) -> None:
        """The panes that follow the shown VM's row (status, pids) rather than a stream."""
        self.query_one(OverviewPane).show(vm, events, empty=not self.maqet.vms)
        self.query_one(QMPConsole).set_vm(vm)
        self.console.set_vm(vm)
        self.snapshot_pane.set_vm(vm, active=self.detail_tab == SNAPSHOT_TAB)
        self.query_one(StatsPane).show(vm, self.maqet.history.samples(vm["id"] if vm else None))

    def console_is_raw(self) -> bool:
        """Safe before the panes exist (the footer asks early)."""
        try:
            return self.query_one(ConsoleLog).raw
        except NoMatches:
            return False

    def console_raw_ok(self, typing: bool) -> bool:
        return self.detail_tab == CONSOLE_TAB and not typing and self.console.log_widget.connected

    # -- keys --------------------------------------------------------------------------------
    def action_focus_details(self) -> None:
        target: Widget = {
            "tab-overview": self.query_one(OverviewPane),
            "tab-events": self.query_one(EventLog),
            "tab-log": self.query_one(LogView),
            CONSOLE_TAB: self.console.input,
            SNAPSHOT_TAB: self.snapshot_pane.table,
            "tab-stats": self.query_one(StatsPane),
        }.get(self.detail_tab) or self.query_one(QMPInput)
        if target.display:
            target.focus()

    def focus_prompt(self) -> None:
        """A tab with a prompt (QMP, Console) hands it the keys when chosen: a prompt that looks
        ready must be, or `query-status` typed there quits the app from the list. Esc goes back.
        Focus is set at once, not later, so keys typed right behind the tab's key land here."""
        prompt = {"tab-qmp": self.query_one(QMPInput), CONSOLE_TAB: self.console.input}.get(
            self.detail_tab
        )
        # Only for a VM that is up: on a stopped one the list keeps the keys (`s` starts it).
        up = (self.shown_vm or {}).get("status") in QEMU_UP
        if prompt is not None and prompt.display and up:
            self.set_focus(prompt)

    def action_tab(self, tab: str) -> None:
        self.show_tab(tab)
        self.focus_prompt()

    def show_tab(self, tab: str) -> None:
        """Show a tab without moving focus (the demo shows its console; the list keeps keys)."""
        self.query_one(TabbedContent).active = f"tab-{tab}"

    def action_tab_step(self, step: int) -> None:
        names = [f"tab-{t}" for t, _title in DETAIL_TABS]
        tabs = self.query_one(TabbedContent)
        index = names.index(tabs.active) if tabs.active in names else 0
        tabs.active = names[(index + step) % len(names)]
        self.focus_prompt()

    def on_tabbed_content_tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        if self.detail_tab == SNAPSHOT_TAB:
            self.snapshot_pane.set_vm(self.shown_vm, active=True)
        if isinstance(self.focused, Tabs):  # chosen on the tab bar itself (a click)
            self.focus_prompt()
        self.refresh_bindings()

    def action_console_raw(self) -> None:
        self.query_one(ConsoleLog).action_raw()

    # -- the demo VM -------------------------------------------------------------------------
    def action_demo(self) -> None:
        demo = self.maqet.demo
        try:
            demo.start()
        except MaqetError as exc:
            self.maqet.notify(str(exc), severity="error")
            return
        self.maqet.push_screen(DemoScreen(demo.last, demo.result), self._demo_done)

    def _demo_done(self, choice: str | None) -> None:
        """ "Start it": select it, show its console and boot it (unless it is already up)."""
        result = self.maqet.demo.result
        vm = result.vm if result is not None else None
        if choice != START or vm is None:
            return
        self.want_select = str(vm["id"])
        self.show_tab("console")
        current = self.maqet.vms.get(str(vm["id"]), vm)
        if current.get("status") in STARTABLE:
            self.maqet.ops.start([current])
        self.vms_changed()
