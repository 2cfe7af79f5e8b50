"""The VM list: one row per VM, keyed by id, updated cell by cell so the cursor never jumps.

Rows are rebuilt only when the set or order of VMs changes (add, delete, filter); status and
stats changes update single cells, which keeps the table cheap at one update a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from maqet_tui.tui.vmview import (
    STATUS_STYLE,
    fmt_bytes,
    fmt_cpu,
    fmt_mib,
    fmt_uptime,
    guest_ip,
    ssh_port,
)

VM = dict[str, Any]
Stats = Mapping[str, tuple[float, int]]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", " "),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("cpus", "vCPU"),
    ("mem", "MEM"),
    ("cpu", "CPU%"),
    ("rss", "RSS"),
    ("uptime", "UPTIME"),
)
MARK = "*"
# What the columns other than NAME take at most, padding included ("stopping", "99:59:59"...),
# and room for the vertical scrollbar: NAME gets the rest, so a long name never pushes STATUS,
# MEM, CPU% or UPTIME off an 80-column terminal.
OTHER_COLUMNS = 52
SCROLLBAR = 2
NAME_MIN, NAME_MAX = 8, 40
# A sparkline of recent CPU % (from the runner's `stats` topic), only in a table this wide: at 80
# columns the figures matter more than the trend.
TREND = ("trend", "CPU TREND")
TREND_WIDTH = 10
TREND_MIN_TABLE = 100
# Where to reach a guest, only while some VM has it (a table of VMs without networks keeps its
# layout): SSH, the host port forwarded to the guest's sshd (`ssh -p PORT`, or `x`); IP, what
# the guest agent reports, in a wide table only.
SSH = ("ssh", "SSH")
SSH_WIDTH = 5
IP = ("ip", "GUEST IP")
IP_WIDTH = 15
Guests = Mapping[str, Mapping[str, Any]]
# Which host a VM is on (after NAME), only once a host is registered: a table of one machine's
# VMs keeps its layout.
HOST = ("host", "HOST")
HOST_WIDTH = 10


def wide(table_width: int) -> bool:
    return table_width >= TREND_MIN_TABLE


@dataclass(frozen=True)
class Extras:
    """The optional columns a table shows, as decided by its width and its VMs."""

    ssh: bool = False
    ip: bool = False
    trend: bool = False
    host: bool = False  # placed after NAME, not with the others after UPTIME

    @classmethod
    def of(cls, table_width: int, vms: list[VM], guests: Guests, hosts: bool = False) -> Extras:
        is_wide = wide(table_width)
        return cls(
            ssh=any(ssh_port(vm) is not None for vm in vms),
            ip=is_wide and any(guest_ip(guests.get(str(vm["id"]))) for vm in vms),
            trend=is_wide,
            host=hosts,
        )

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        return (
            *((SSH,) if self.ssh else ()),
            *((IP,) if self.ip else ()),
            *((TREND,) if self.trend else ()),
        )

    @property
    def width(self) -> int:
        return (
            (SSH_WIDTH + 2 if self.ssh else 0)
            + (IP_WIDTH + 2 if self.ip else 0)
            + (TREND_WIDTH + 2 if self.trend else 0)
            + (HOST_WIDTH + 2 if self.host else 0)
        )


def name_width(table_width: int, extras: Extras | None = None) -> int:
    """How wide NAME may be in a table `table_width` cells wide."""
    if extras is None:
        extras = Extras(trend=wide(table_width))
    other = OTHER_COLUMNS + extras.width
    return max(NAME_MIN, min(NAME_MAX, table_width - other - SCROLLBAR))


def fit_name(name: str, width: int) -> str:
    """`name` cut to `width` cells, the cut shown by an ellipsis."""
    return name if len(name) <= width else name[: max(1, width - 1)] + "…"


def extra_cells(vm: VM, extras: Extras, guest: Mapping[str, Any] | None) -> list[Text]:
    """The optional cells of `vm`'s row (before the trend, which `row_cells` takes apart)."""
    cells = []
    if extras.ssh:
        port = ssh_port(vm)
        cells.append(Text(str(port) if port is not None else "-", justify="right"))
    if extras.ip:
        ip = guest_ip(guest) if vm.get("qemu_pid") else None
        cells.append(Text(ip or "-"))
    return cells


def row_cells(
    vm: VM,
    stats: Stats,
    marked: bool,
    now: float | None = None,
    width: int = NAME_MAX,
    trend: str | None = None,
    extra: list[Text] | None = None,
) -> list[Text]:
    """The row of `vm`; `extra` cells (SSH, IP) after UPTIME; with `trend` (a sparkline, "" for
    none), the trend column last."""
    cfg = vm.get("config") or {}
    status = str(vm.get("status", "?"))
    sample = stats.get(vm["id"]) if vm.get("qemu_pid") else None
    return [
        Text(MARK if marked else " ", style="bold magenta"),
        Text(fit_name(str(vm["name"]), width), style="bold" if marked else ""),
        Text(status, style=STATUS_STYLE.get(status, "")),
        Text(str(cfg.get("cpus", "?")), justify="right"),
        Text(fmt_mib(int(cfg.get("memory", 0))), justify="right"),
        Text(fmt_cpu(sample[0] if sample else None), justify="right"),
        Text(fmt_bytes(sample[1] if sample else None), justify="right"),
        Text(fmt_uptime(vm, now), justify="right"),
        *(extra or []),
        *([Text(trend.rjust(TREND_WIDTH), style="green")] if trend is not None else []),
    ]


class VMTable(DataTable[Text]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "First VM", show=False),
        Binding("G,end", "last", "Last VM", show=False),
    ]

    @dataclass
    class SelectionChanged(Message):
        """The VM under the cursor changed (None: the table is empty)."""

        vm_id: str | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._ids: list[str] = []
        self._cells: dict[str, list[Text]] = {}
        self._reported: str | None = None
        self._name_width = NAME_MAX
        self._last: tuple[list[VM], Stats, set[str]] | None = None
        self._extras = Extras()
        self._trends: dict[str, str] = {}
        self._guests: Guests = {}
        self.hosts = False  # set by the screen: show the HOST column

    @property
    def columns_shown(self) -> tuple[tuple[str, str], ...]:
        cols = (*COLUMNS[:2], HOST, *COLUMNS[2:]) if self._extras.host else COLUMNS
        return (*cols, *self._extras.columns)

    def set_guests(self, guests: Guests) -> None:
        """What each VM's guest agent reports (the IP column), shown by the next `show`."""
        self._guests = guests

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def _trend(self, vm: VM) -> str | None:
        if not self._extras.trend:
            return None
        return self._trends.get(str(vm["id"]), "") if vm.get("qemu_pid") else ""

    def set_trends(self, trends: dict[str, str]) -> None:
        """The CPU sparklines by VM id, shown by the next `show` (which changes only the cells
        that differ, in the same pass as the CPU and RSS figures)."""
        self._trends = trends

    @property
    def selected_id(self) -> str | None:
        if not self._ids or not 0 <= self.cursor_row < len(self._ids):
            return None
        return self._ids[self.cursor_row]

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def show(self, vms: Iterable[VM], stats: Stats, marks: set[str]) -> None:
        """Make the table show exactly `vms`, in order, keeping the cursor on the same VM."""
        vms = list(vms)
        self._last = (vms, stats, set(marks))
        now = time.time()
        ids = [str(vm["id"]) for vm in vms]
        extras = Extras.of(self.size.width, vms, self._guests, self.hosts)
        width = name_width(self.size.width, extras) if self.size.width else NAME_MAX
        if ids != self._ids or width != self._name_width or extras != self._extras:
            self._name_width = width
            keep = self.selected_id
            index = self.cursor_row
            with self.prevent(DataTable.RowHighlighted):
                self.clear(columns=extras != self._extras)
                if extras != self._extras:
                    self._extras = extras
                    for key, label in self.columns_shown:
                        self.add_column(label, key=key)
                for column in self.columns.values():  # measured afresh: a gone VM's long
                    column.content_width = column.label.cell_len  # name no longer counts
                self._cells = {}
                for vm in vms:
                    cells = self._row(vm, stats, marks, now, width)
                    self._cells[vm["id"]] = cells
                    self.add_row(*cells, key=vm["id"])
                self._ids = ids
                if keep in ids:
                    index = ids.index(keep)
                if ids:
                    self.move_cursor(row=max(0, min(index, len(ids) - 1)), animate=False)
        else:
            for vm in vms:
                cells = self._row(vm, stats, marks, now, width)
                old = self._cells.get(vm["id"], [])
                for (key, _label), new, before in zip(self.columns_shown, cells, old, strict=False):
                    if (new.plain, new.style) != (before.plain, before.style):
                        # Re-measuring a column costs a pass over all its cells: only when the
                        # cell grew (uptime/CPU/RSS change every sample but rarely widen).
                        grew = len(new.plain) > len(before.plain)
                        self.update_cell(vm["id"], key, new, update_width=grew)
                self._cells[vm["id"]] = cells
        self._report()

    def _row(self, vm: VM, stats: Stats, marks: set[str], now: float, width: int) -> list[Text]:
        extra = extra_cells(vm, self._extras, self._guests.get(str(vm["id"])))
        cells = row_cells(vm, stats, vm["id"] in marks, now, width, self._trend(vm), extra)
        if self._extras.host:
            host = str(vm.get("host") or "local")
            cells.insert(2, Text(fit_name(host, HOST_WIDTH), style="" if vm.get("host") else "dim"))
        return cells

    def on_resize(self, _event: events.Resize) -> None:
        if self._last is not None:
            extras = Extras.of(self.size.width, self._last[0], self._guests, self.hosts)
            if name_width(self.size.width, extras) != self._name_width or extras != self._extras:
                self.show(*self._last)
        self.call_after_refresh(self.keep_cursor_visible)

    def visible_rows(self) -> range:
        """The row indices the viewport shows now."""
        first = round(self.scroll_y)
        return range(first, first + max(1, self.scrollable_content_region.height - 1))

    def keep_cursor_visible(self) -> None:
        """Scroll so the selected row is on screen (a smaller window can hide it)."""
        row, rows = self.cursor_row, self.visible_rows()
        if self._ids and row not in rows:
            top = row if row < rows.start else row - len(rows) + 1
            self.scroll_to(y=max(0, top), animate=False)

    def select_id(self, vm_id: str) -> bool:
        if vm_id not in self._ids:
            return False
        self.move_cursor(row=self._ids.index(vm_id))
        self._report()
        return True

    def select_row(self, index: int) -> None:
        """Put the cursor on row `index` (clamped); nothing when the table is empty."""
        if self._ids:
            self.move_cursor(row=max(0, min(index, len(self._ids) - 1)), animate=False)
            self._report()

    def action_first(self) -> None:
        self.select_row(0)

    def action_last(self) -> None:
        self.select_row(len(self._ids) - 1)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._report()

    def _report(self) -> None:
        current = self.selected_id
        if current != self._reported:
            self._reported = current
            self.post_message(self.SelectionChanged(current))
