"""The Snapshots tab: the shown VM's internal qcow2 snapshots, and the state of any change to them.

Listing runs `qemu-img info` per disk and a snapshot can take seconds (savevm writes the guest's
RAM), so both run on daemon threads; one change at a time, and the list is re-read after each,
since what is on the disks is the only truth. A VM that cannot hold snapshots (no disk, a raw
disk) shows the manager's own explanation where the list would be.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from maqet_tui.common.vmstate import QEMU_UP, SETTLED
from maqet_tui.core.snapshots import list_snapshots, snapshot
from maqet_tui.tui import workers
from maqet_tui.tui.hostrows import ident
from maqet_tui.tui.ops import error_text
from maqet_tui.tui.services.threads import run_blocking
from maqet_tui.tui.vmview import fmt_bytes

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]
VERBS = {"create": "taking", "revert": "reverting to", "delete": "deleting"}
DONE = {
    "create": "took snapshot {tag} of {name}",
    "revert": "{name} reverted to snapshot {tag}",
    "delete": "deleted snapshot {tag} of {name}",
}


def fmt_date(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def fmt_state(size: int) -> str:
    """Offline snapshots hold disks only; saying so beats a bare 0. A tiny guest's RAM state
    can be under a MiB, which must not read as 0M."""
    if not size:
        return "disks only"
    return f"{max(1, size >> 10)}K" if size < 1 << 20 else fmt_bytes(size)


class SnapshotTable(DataTable[Text]):
    """The list of snapshots; j/k move as they do in the VM list."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class SnapshotPane(Vertical):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vm: VM | None = None
        self.snapshots: list[dict[str, Any]] | None = None  # None: not read, or cannot have any
        self.error: str | None = None
        self.busy: str | None = None  # what is being done, while a change runs
        self._stale = True
        self._filled: list[dict[str, Any]] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="snap-status")
        yield SnapshotTable(id="snap-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        table = self.table
        table.add_column("TAG", key="tag")
        table.add_column("DATE", key="date")
        table.add_column("VM STATE", key="state")
        table.add_column("VM CLOCK", key="clock")
        self._redraw()

    @property
    def table(self) -> SnapshotTable:
        return self.query_one("#snap-table", SnapshotTable)

    @property
    def app_(self) -> MaqetApp:
        return cast("MaqetApp", self.app)

    @property
    def selected_tag(self) -> str | None:
        """The tag under the table's cursor (read from the row, not from the list, which may
        already be newer than the table)."""
        table = self.table
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except CellDoesNotExist:
            return None

    @property
    def selected(self) -> dict[str, Any] | None:
        tag = self.selected_tag
        return next((s for s in self.snapshots or [] if s["tag"] == tag), None)

    def can(self, action: str) -> bool:
        """Whether a change makes sense now (the footer offers only these)."""
        vm = self.vm
        if vm is None or self.busy or self.snapshots is None:
            return False
        if vm.get("status") not in SETTLED:
            return False
        return action == "create" or self.selected_tag is not None

    # -- reading -----------------------------------------------------------------------------
    def set_vm(self, vm: VM | None, active: bool) -> None:
        """Follow the shown VM; the list is read only while the tab is visible."""
        if (vm or {}).get("id") != (self.vm or {}).get("id"):
            self.snapshots, self.error, self._stale = None, None, True
            self.table.clear()
            self._filled = None
        self.vm = vm
        if active and self._stale:
            self.reload()
        else:
            self._redraw()

    def reload(self) -> None:
        self._stale = False
        if self.vm is not None:
            vm_id = str(self.vm["id"])

            async def load() -> None:
                # A coroutine function, not a coroutine: `exclusive` may cancel this worker
                # before it starts, and then no coroutine is left un-awaited (see tui/workers).
                await self._load(vm_id)

            workers.start(self, load, group="snap-list", exclusive=True)
        self._redraw()

    def _list(self, vm: VM) -> list[dict[str, Any]]:
        """On a worker thread: through the VM's host's agent for a remote VM."""
        if vm.get("host"):
            return self.app_.remote(vm).snapshots(ident(vm))
        return list_snapshots(self.app_.require_manager(), str(vm["id"]))

    def _change(self, vm: VM, action: str, tag: str) -> dict[str, Any]:
        if vm.get("host"):
            return self.app_.remote(vm).snapshot(ident(vm), action, tag)
        return snapshot(self.app_.require_manager(), str(vm["id"]), action, tag)

    async def _load(self, vm_id: str) -> None:
        try:
            vm = self.vm if self._is_shown(vm_id) else None
            if vm is None:
                return
            snaps = await run_blocking(self._list, vm)
        except Exception as exc:
            if self._is_shown(vm_id):
                self.snapshots, self.error = None, error_text(exc)
        else:
            if self._is_shown(vm_id):
                self.snapshots, self.error = snaps, None
        self._redraw()

    def _is_shown(self, vm_id: str) -> bool:
        return self.vm is not None and self.vm["id"] == vm_id

    def _redraw(self) -> None:
        status = self.query_one("#snap-status", Static)
        vm, snaps = self.vm, self.snapshots
        if vm is None:
            status.update(Text("No VM selected.", style="dim"))
        elif self.busy:
            status.update(Text(f"{self.busy}…", style="bold yellow"))
        elif self.error:
            status.update(Text(self.error, style="yellow"))
        elif snaps is None:
            status.update(Text(f"reading the snapshots of {vm['name']}…", style="dim"))
        elif not snaps:
            status.update(Text(f"{vm['name']} has no snapshots yet: t takes one.", style="dim"))
        else:
            how = "RAM + disks" if vm.get("status") in QEMU_UP else "disks only"
            status.update(
                Text(f"{len(snaps)} snapshot(s) of {vm['name']} · t takes one ({how})", "dim")
            )
        self._fill(snaps or [])
        self.table.display = bool(snaps)
        self.screen.refresh_bindings()

    def _fill(self, snaps: list[dict[str, Any]]) -> None:
        """Rows for `snaps`, rebuilt only when they differ (the pane is told about every store
        change, and a rebuild would move the cursor under the user's feet)."""
        if snaps == self._filled:
            return
        self._filled = list(snaps)
        table = self.table
        keep = self.selected_tag
        table.clear()
        for snap in snaps:
            clock = int(snap.get("vm_clock_ns") or 0) // 1_000_000_000
            table.add_row(
                Text(str(snap["tag"]), style="bold"),
                Text(fmt_date(snap.get("date"))),
                Text(fmt_state(int(snap.get("vm_state_size") or 0)), justify="right"),
                Text(f"{clock // 3600}:{clock // 60 % 60:02d}:{clock % 60:02d}", justify="right"),
                key=str(snap["tag"]),
            )
        tags = [str(s["tag"]) for s in snaps]
        if keep in tags:
            table.move_cursor(row=tags.index(keep), animate=False)

    # -- changing ----------------------------------------------------------------------------
    def run_op(self, action: str, tag: str) -> None:
        vm = self.vm
        if vm is None or self.busy:
            return
        self.busy = f"{VERBS[action]} snapshot {tag} of {vm['name']}"
        self._redraw()
        workers.start(self, partial(self._op, vm, action, tag), group="snap-op")

    async def _op(self, vm: VM, action: str, tag: str) -> None:
        vm_id, name = str(vm["id"]), str(vm["name"])
        try:
            result = await run_blocking(self._change, vm, action, tag)
        except Exception as exc:
            self.app.notify(
                f"snapshot {action} {tag} on {name} failed: {error_text(exc)}",
                severity="error",
                timeout=10,
            )
        else:
            self.app.notify(DONE[action].format(tag=tag, name=name), timeout=4)
            if self._is_shown(vm_id):
                self.snapshots, self.error = list(result["snapshots"]), None
                if action == "create" and tag in [s["tag"] for s in self.snapshots]:
                    self._fill(self.snapshots)
                    self.table.move_cursor(row=self.table.get_row_index(tag), animate=False)
        self.busy = None
        if self._is_shown(vm_id):
            self.reload()  # re-read: a failure may have happened half-way
