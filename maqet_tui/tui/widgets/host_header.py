"""The top line: which host this is and how loaded it is, how many VMs run, how many are marked.

Over SSH on a lab host, "where am I and how busy is it" is the first question; the line answers it
without a keypress.
"""

from __future__ import annotations

import socket

from rich.text import Text
from textual.widgets import Static

from maqet_tui.tui.messages import HostSample
from maqet_tui.tui.vmview import fmt_bytes

# What a frozen header shows (tests and snapshots must not depend on the machine they run on).
FROZEN = HostSample(cores=4, load=(0.25, 0.2, 0.15), mem_used=2 << 30, mem_total=8 << 30)
FROZEN_HOSTNAME = "labhost"


class HostHeader(Static):
    def __init__(self, frozen: bool = False, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.frozen = frozen
        self.hostname = FROZEN_HOSTNAME if frozen else socket.gethostname().split(".")[0]
        self.host: HostSample | None = FROZEN if frozen else None
        self.running = 0
        self.total: int | None = None
        self.marked = 0

    def on_mount(self) -> None:
        self._render_line()

    def on_resize(self) -> None:
        self._render_line()

    def set_host(self, host: HostSample | None) -> None:
        if host is not None and not self.frozen:
            self.host = host
            self._render_line()

    def set_counts(self, running: int, total: int, marked: int = 0) -> None:
        if (running, total, marked) != (self.running, self.total, self.marked):
            self.running, self.total, self.marked = running, total, marked
            self._render_line()

    def _variants(self) -> list[Text]:
        """The line from most to least detailed; the widest that fits is shown."""
        head = Text(" maqet-tui", style="bold")
        head.append(f"@{self.hostname}", style="")
        if self.total is None:
            vms = Text("loading…", style="dim")
        else:
            vms = Text(f"VMs {self.running}/{self.total} running", style="bold")
            if self.marked:  # in every variant: what a bulk action will reach matters most
                vms.append(f" · {self.marked} marked", style="bold magenta")
        h = self.host
        if h is None:
            return [Text(" │ ").join([head, vms])]
        mem = f"mem {fmt_bytes(h.mem_used)}/{fmt_bytes(h.mem_total)}"
        loads = " ".join(f"{x:.2f}" for x in h.load)
        sep = Text(" │ ")
        return [
            sep.join([head, vms, Text(f"{h.cores} cores"), Text(f"load {loads}"), Text(mem)]),
            sep.join([head, vms, Text(f"{h.cores} cores · load {h.load[0]:.2f} · {mem}")]),
            sep.join([head, vms, Text(f"load {h.load[0]:.2f} · {mem}")]),
            sep.join([head, vms]),
        ]

    def _render_line(self) -> None:
        width = self.size.width or 80
        variants = self._variants()
        line = next((v for v in variants if v.cell_len <= width), variants[-1])
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.update(line)
