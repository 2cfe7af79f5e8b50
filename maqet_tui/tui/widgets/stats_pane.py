"""The Stats tab: the selected VM's recent CPU, memory, disk and I/O as sparklines, with the
latest figure of each, from its runner's `stats` topic (five minutes of history on selection);
a VM on another host gets the same samples relayed by its host's agent (`follow`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from maqet_tui.common.vmstate import LIVE
from maqet_tui.tui.services.history import StatsHistory
from maqet_tui.tui.vmview import fmt_bytes, fmt_cpu

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

Sample = dict[str, Any]

# (id, title, keys summed into the plotted series, how the latest value reads)
PLOTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cpu", "CPU", ("cpu",)),
    ("mem", "Memory (RSS)", ("rss",)),
    ("disk", "Disk read+write", ("disk_read", "disk_write")),
    ("io", "QEMU I/O (network and host-side files)", ("io_read", "io_write")),
)


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{fmt_bytes(int(value))}/s"


def latest(plot: str, sample: Sample | None) -> str:
    if sample is None:
        return "-"
    if plot == "cpu":
        return fmt_cpu(sample.get("cpu"))
    if plot == "mem":
        return fmt_bytes(sample.get("rss"))
    rd, wr = ("disk_read", "disk_write") if plot == "disk" else ("io_read", "io_write")
    return f"read {fmt_rate(sample.get(rd))}  write {fmt_rate(sample.get(wr))}"


def series(samples: list[Sample], keys: tuple[str, ...]) -> list[float]:
    return [float(sum(s.get(k) or 0 for k in keys)) for s in samples]


class StatsPane(VerticalScroll):
    can_focus = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vm: dict[str, Any] | None = None
        self.points = 0  # samples shown (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Static("no VM selected", id="stats-status")
        for plot, title, _keys in PLOTS:
            yield Static(title, id=f"stats-{plot}-title", classes="stats-title")
            yield Sparkline([], id=f"stats-{plot}", summary_function=max)

    def on_show(self) -> None:
        """Samples that came while another tab showed (they are not plotted unseen)."""
        history = getattr(self.app, "history", None)
        if isinstance(history, StatsHistory):
            self.show(self.vm, history.samples(str(self.vm["id"]) if self.vm else None))

    def _relayed(self, vm: dict[str, Any]) -> bool:
        return cast("MaqetApp", self.app).relays(vm)

    def show(self, vm: dict[str, Any] | None, samples: list[Sample]) -> None:
        """Plot `samples` of `vm` (all of them: the pane is shown afresh on each change)."""
        self.vm = vm
        self.points = len(samples)
        if vm is None:
            status = "no VM selected"
        elif vm.get("host") and not self._relayed(vm):
            status = (
                f"{vm['name']} is on {vm['host']}, whose maqet-tui does not relay stats "
                "(upgrade it there)"
            )
        elif vm.get("status") not in LIVE:
            status = f"{vm['name']} is {vm.get('status')}: no samples"
        elif not samples:
            status = f"{vm['name']}: waiting for the first samples…"
        else:
            span = samples[-1]["t"] - samples[0]["t"] if len(samples) > 1 else 0
            status = f"{vm['name']}: last {span:.0f} s, {len(samples)} samples"
        self.query_one("#stats-status", Static).update(status)
        last = samples[-1] if samples else None
        for plot, title, keys in PLOTS:
            self.query_one(f"#stats-{plot}-title", Static).update(f"{title}: {latest(plot, last)}")
            self.query_one(f"#stats-{plot}", Sparkline).data = series(samples, keys)
