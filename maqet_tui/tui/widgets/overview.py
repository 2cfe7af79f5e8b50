"""The Overview tab: everything about one VM on one page, the QEMU command line included.

The command line is copy-paste ready (nEMU's `m` key, user ask #11 in tui-anchors.md): for a live
VM it is read from /proc, otherwise built from the definition.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from maqet_tui.common.vmstate import QEMU_UP
from maqet_tui.core.accel import accel_in_use
from maqet_tui.core.net_spec import network_json
from maqet_tui.tui.vmview import (
    STATUS_STYLE,
    command_line,
    event_text,
    fmt_mib,
    fmt_time,
    fmt_uptime,
    ssh_port,
)

VM = dict[str, Any]
RECENT = 8
EMPTY = (
    "No VMs yet.\n\n"
    "Press [b]N[/b] to make the demo VM, a real Linux guest that boots in seconds,\n"
    "or [b]a[/b] to define your own."
)


def _dash(value: object) -> str:
    if value is None or value == [] or value == "":
        return "-"
    if isinstance(value, list):
        sep = "\n" if any(isinstance(v, dict) for v in value) else " "
        return sep.join(_entry(v) for v in value)
    return str(value)


def _entry(value: object) -> str:
    """A list item: a plain value, or a mapping (a disk, a share) as `main (k=v, ...)`."""
    if not isinstance(value, dict):
        return str(value)
    main_key = next((k for k in ("file", "path") if k in value), None)
    rest = ", ".join(f"{k}={v}" for k, v in value.items() if k != main_key and v is not None)
    head = str(value[main_key]) if main_key else ""
    return f"{head} ({rest})" if head and rest else head or rest


def _accel(vm: VM) -> str:
    """The definition's accel, and what QEMU runs with when that says more (`auto`)."""
    asked = str((vm.get("config") or {}).get("accel"))
    running = accel_in_use(vm)
    return f"{asked} (running {running})" if running and running != asked else asked


def guest_text(vm: VM, guest: dict[str, Any] | None) -> Text:
    """What the guest agent reports (VMs defined with `agent: true`)."""
    if vm.get("status") not in QEMU_UP:
        return Text("agent channel (the VM is not running)", style="dim")
    if not guest or not guest.get("agent"):
        return Text("agent not connected", style="yellow")
    line = Text("agent connected", style="green")
    ips = [str(ip) for ip in guest.get("ips") or []]
    line.append(" · " + (" ".join(ips) if ips else "no address yet"), style="bold" if ips else "")
    for key in ("hostname", "os"):
        if guest.get(key):
            line.append(f" · {guest[key]}")
    return line


def forwards_text(forwards: list[dict[str, Any]]) -> str:
    """`tcp 127.0.0.1:2222→22 · udp …`, or `-`."""
    return (
        " · ".join(
            f"{f['proto']} {f['host_addr']}:{f['host_port']}→{f['guest_port']}" for f in forwards
        )
        or "-"
    )


def network_text(vm: VM) -> Text:
    """The network line: mode, MAC, and how to reach the guest's sshd (`x` opens it)."""
    net = network_json(vm.get("config") or {}, str(vm["id"]))
    line = Text()
    line.append(net["mode"], style="bold")
    if net["mac"]:
        line.append(f" · mac {net['mac']}")
    port = ssh_port(vm)
    if port is not None:
        line.append(f" · ssh 127.0.0.1:{port}")
        if vm.get("status") == "running":
            line.append("  (x opens it)", style="dim")
    return line


def render_overview(
    vm: VM, events: list[dict[str, Any]], guest: dict[str, Any] | None = None
) -> RenderableType:
    cfg = vm.get("config") or {}
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    status = str(vm.get("status"))
    line = Text(status, style=STATUS_STYLE.get(status, ""))
    if status in QEMU_UP:
        line.append(f"  up {fmt_uptime(vm)}", style="")
    grid.add_row("name", f"{vm['name']}  (id {vm['id']})")
    grid.add_row("status", line)
    if vm.get("last_error"):
        grid.add_row(Text("last error", style="bold red"), Text(str(vm["last_error"]), "red"))
    if vm.get("host"):  # pids and socket are the host's (hostrows.py moved them aside)
        grid.add_row("host", f"{vm['host']}  (id there {vm.get('remote_id')})")
        pids = (
            f"qemu {_dash(vm.get('remote_qemu_pid'))} · runner {_dash(vm.get('remote_runner_pid'))}"
        )
        grid.add_row("pids", pids + f"  (on {vm['host']})")
        grid.add_row("socket", _dash(vm.get("remote_socket_path")))
    else:
        pids = f"qemu {_dash(vm.get('qemu_pid'))} · runner {_dash(vm.get('runner_pid'))}"
        grid.add_row("pids", pids)
        grid.add_row("socket", _dash(vm.get("socket_path")))
    if cfg.get("net"):
        grid.add_row("network", network_text(vm))
        grid.add_row("forwards", forwards_text(cfg.get("forwards") or []))
    if cfg.get("agent"):
        grid.add_row("guest", guest_text(vm, guest))
    grid.add_row(
        "hardware",
        f"{fmt_mib(int(cfg.get('memory', 0)))} · {cfg.get('cpus')} vCPU · "
        f"accel {_accel(vm)} · machine {cfg.get('machine')}",
    )
    for key in ("kernel", "initrd", "append", "disks", "shares", "qemu_args"):
        if cfg.get(key):
            grid.add_row(key.replace("_", " "), _dash(cfg.get(key)))
    argv, live = command_line(vm)
    grid.add_row("command" if live else "command*", Text(argv, style="green"))
    parts: list[RenderableType] = [grid]
    if not live:
        fds = "fds 3, 4 and 5 stand" if cfg.get("agent") else "fds 3 and 4 stand"
        parts.append(Text(f"* built from the definition; {fds} for the runner's", "dim"))
    if events:
        parts.append(Text("\nrecent events", style="bold cyan"))
        for ev in events[-RECENT:]:
            parts.append(Text(f"  {fmt_time(ev['ts'])}  {event_text(ev)}", overflow="ellipsis"))
    return Group(*parts)


class OverviewPane(VerticalScroll):
    """Scrolls (the command line and events can be long at 80x24); focusable for the keys."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("No VM selected. Press a to add one.", id="overview-body")

    def show_error(self, text: str) -> None:
        self.query_one("#overview-body", Static).update(Text(text, style="bold red"))

    def show(self, vm: VM | None, events: list[dict[str, Any]], empty: bool = False) -> None:
        """`empty`: the store has no VM at all, so say how to get one (a newcomer's first view)."""
        body = self.query_one("#overview-body", Static)
        if vm is None and empty:
            body.update(EMPTY)
        elif vm is None:
            body.update("No VM selected. Press [b]a[/b] to add one.")
        else:
            # What the guest agent reports comes from the app (runner `guest` events), not the row.
            guests: dict[str, dict[str, Any]] = getattr(self.app, "guests", {})
            body.update(render_overview(vm, events, guests.get(str(vm["id"]))))
