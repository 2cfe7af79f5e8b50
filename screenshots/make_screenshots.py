"""Screenshots for the README: the real app, real tiny VMs and the real demo guest, 120x36.

    .venv/bin/python screenshots/make_screenshots.py [OUTDIR]

Everything happens in a throw-away home and runtime directory; every VM it starts is stopped
before it exits, whatever happens. The demo guest comes from the machine's guest cache
(MAQET_TUI_GUEST_CACHE, else the default one), built there first if needed, never into the
throw-away home. PNGs need `rsvg-convert` (Debian: librsvg2-bin).
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.pilot import Pilot

from maqet_tui.core.definitions import add_with_disks
from maqet_tui.core.demo import ensure_demo
from maqet_tui.core.guest_image import READY_LINE, default_cache_dir
from maqet_tui.core.manager import Manager
from maqet_tui.core.peer_yaml import NewDisk
from maqet_tui.core.snapshots import snapshot
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.help import HelpScreen
from maqet_tui.tui.widgets.console_log import ConsoleLog
from maqet_tui.tui.widgets.snapshot_pane import SnapshotPane
from maqet_tui.tui.widgets.vm_table import VMTable

SIZE = (120, 36)
TINY = {"memory": 64, "accel": "tcg"}
VMS = {"web-1": 2, "web-2": 2, "db": 1, "build": 4}
RUNNING = ("web-1", "web-2", "db", "data", "demo")
HANG = 60.0  # the demo guest boots in ~5 s on an idle host; these hosts are rarely idle
TYPED = "dmesg | head -n 14"  # the kernel's own boot log (the demo boots with `quiet`)


async def until(pilot: Pilot[Any], pred: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + HANG
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def status(app: MaqetApp, name: str) -> str | None:
    return next((vm["status"] for vm in app.vms.values() if vm["name"] == name), None)


async def select(pilot: Pilot[Any], app: MaqetApp, name: str) -> None:
    assert app.main is not None
    table = app.main.query_one(VMTable)
    ident = next(i for i, vm in app.vms.items() if vm["name"] == name)
    while table.selected_id != ident:
        await pilot.press("j" if table.cursor_row < table.ids.index(ident) else "k")


def log_text(log: Any) -> str:
    return "\n".join(line.text for line in log.lines)


TEXT_RUN = re.compile(
    r'(<text [^>]*?x=")([\d.]+)("[^>]*?textLength=")([\d.]+)("[^>]*>)([^<]*)(</text>)'
)
PAD = re.compile(r"^(?:&#160;)+|(?:&#160;)+$")


def _unpad(m: re.Match[str]) -> str:
    """Move a run's leading and trailing padding into its position and length.

    rsvg-convert drops the non-breaking spaces that pad a run (a right-justified number, a
    header cell), which shifts the text left in the PNG though the SVG is right.
    """
    text = m.group(6)
    plain = html.unescape(text)
    body = plain.strip("\xa0")
    if not body or body == plain:
        return m.group(0)
    width = float(m.group(4)) / len(plain)
    x = float(m.group(2)) + (len(plain) - len(plain.lstrip("\xa0"))) * width
    length = len(body) * width
    return f"{m.group(1)}{x:.1f}{m.group(3)}{length:.1f}{m.group(5)}{PAD.sub('', text)}{m.group(7)}"


def save(app: MaqetApp, out: Path, name: str) -> None:
    svg = out / f"{name}.svg"
    text = app.export_screenshot(title="maqet-tui")
    svg.write_text(text)
    if shutil.which("rsvg-convert"):
        with tempfile.NamedTemporaryFile("w", suffix=".svg") as fixed:
            fixed.write(TEXT_RUN.sub(_unpad, text))
            fixed.flush()
            subprocess.run(["rsvg-convert", "-o", str(out / f"{name}.png"), fixed.name], check=True)
    print("wrote", svg)


async def shoot(home: Path, out: Path) -> None:
    app = MaqetApp(str(home))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all(status(app, n) == "running" for n in RUNNING), "VMs")
        # Two stats samples so CPU % is a measured value, not psutil's first 0.
        await until(pilot, lambda: len(app.stats) == len(RUNNING), "stats")
        first = app.samples
        await until(pilot, lambda: app.samples >= first + 2, "two more samples")
        await select(pilot, app, "web-1")
        save(app, out, "01-vm-list")

        await pilot.press("2", "enter")
        for command in ("query-status", "query-cpus-fast"):
            await pilot.press(*command, "enter")
        assert app.main is not None
        qmp_log = app.main.query_one("#qmp-log")
        await until(pilot, lambda: "qom-path" in log_text(qmp_log), "QMP answers")
        save(app, out, "02-qmp")

        await pilot.press("escape", "p")
        await until(pilot, lambda: status(app, "web-1") == "paused", "pause")
        await pilot.press("r")
        await until(pilot, lambda: status(app, "web-1") == "running", "resume")
        await pilot.press("3")
        await until(pilot, lambda: sum(e["name"] == "RESUME" for e in app.main.events) >= 1, "ev")
        save(app, out, "03-events")

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        save(app, out, "04-help")
        await pilot.press("escape")

        # The demo guest's console: its boot, then a command typed into the line prompt.
        await select(pilot, app, "demo")
        await pilot.press("5")
        log = app.main.query_one(ConsoleLog)
        await until(pilot, lambda: READY_LINE in log.plain_text, "the demo's boot")
        # The shell's banner, not a prompt at the very end: the kernel may still print a line or
        # two after the prompt (clocksource, the disk), which the typed command then follows.
        await until(pilot, lambda: "built-in shell" in log.plain_text, "a shell")
        await pilot.press("enter", *TYPED, "enter")
        await until(pilot, lambda: "Command line:" in log.plain_text, "dmesg output")
        await until(pilot, lambda: log.plain_text.rstrip().endswith("#"), "the prompt again")
        await pilot.press("escape")
        save(app, out, "05-console")

        # Snapshots of a VM with a qcow2 disk: one taken stopped, one running.
        await select(pilot, app, "data")
        await pilot.press("6")
        pane = app.main.query_one(SnapshotPane)
        await until(pilot, lambda: len(pane.snapshots or []) == 2, "the snapshot list")
        await pilot.press("enter")
        save(app, out, "06-snapshots")


@contextmanager
def throwaway_home() -> Iterator[Manager]:
    """A manager on a home and runtime directory made for the shots; every VM started in it is
    stopped and both directories removed on the way out, whatever happens."""
    home = Path(tempfile.mkdtemp(prefix="mqs-", dir="/tmp"))
    runtime = Path(tempfile.mkdtemp(prefix="mqsr-", dir="/tmp"))
    cache = default_cache_dir()  # before MAQET_TUI_HOME points at the throw-away home
    os.environ.update(
        MAQET_TUI_HOME=str(home),
        MAQET_TUI_RUNTIME_DIR=str(runtime),
        MAQET_TUI_ACCEL="tcg",
        MAQET_TUI_GUEST_CACHE=str(cache),
    )
    manager = Manager(home)
    try:
        yield manager
    finally:
        for vm in manager.list():
            if vm["status"] not in ("stopped", "crashed"):
                manager.stop(vm["id"], force=True, timeout=10)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with throwaway_home() as manager:
        for name, cpus in VMS.items():
            manager.add(name, {**TINY, "cpus": cpus})
        disk = NewDisk("d0", "256M", None, None, "virtio", "disk")
        add_with_disks(manager, "data", {**TINY, "cpus": 1}, [disk])
        snapshot(manager, "data", "create", "fresh-install")  # stopped: disks only
        ensure_demo(manager, lambda step, _fraction: print("demo guest:", step))
        for name in RUNNING:
            manager.start(name)
        snapshot(manager, "data", "create", "before-upgrade")  # running: RAM and disks
        asyncio.run(shoot(manager.paths.home, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
