"""Screenshots for the README: the real app, real tiny VMs, 120x36, SVG and PNG.

    .venv/bin/python screenshots/make_screenshots.py [OUTDIR]

Everything happens in a throw-away home and runtime directory; every VM it starts is stopped
before it exits, whatever happens. PNGs need `rsvg-convert` (Debian: librsvg2-bin).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.pilot import Pilot

from maqet_tui.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.help import HelpScreen
from maqet_tui.tui.widgets.vm_table import VMTable

SIZE = (120, 36)
TINY = {"memory": 64, "accel": "tcg"}
VMS = {"web-1": 2, "web-2": 2, "db": 1, "build": 4}
RUNNING = ("web-1", "web-2", "db")
HANG = 30.0


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


def save(app: MaqetApp, out: Path, name: str) -> None:
    svg = out / f"{name}.svg"
    svg.write_text(app.export_screenshot(title="maqet-tui"))
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", str(out / f"{name}.png"), str(svg)], check=True)
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


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent).resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="mqs-", dir="/tmp"))
    runtime = Path(tempfile.mkdtemp(prefix="mqsr-", dir="/tmp"))
    os.environ.update(
        MAQET_TUI_HOME=str(home), MAQET_TUI_RUNTIME_DIR=str(runtime), MAQET_TUI_ACCEL="tcg"
    )
    manager = Manager(home)
    try:
        for name, cpus in VMS.items():
            manager.add(name, {**TINY, "cpus": cpus})
        for name in RUNNING:
            manager.start(name)
        asyncio.run(shoot(home, out))
    finally:
        for vm in manager.list():
            if vm["status"] not in ("stopped", "crashed"):
                manager.stop(vm["id"], force=True, timeout=10)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
