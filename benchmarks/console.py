"""Console figures on the booted demo guest, in a child process (Textual stays out of the main
benchmark process), the app driven by Pilot at 100x30 with the Console tab shown.

- keypress during a flood: the guest runs `yes | head -N`; meanwhile keys switch the details
  tab (1: Overview, 5: Console, whose prompt takes the keys, then esc back to the list) and each
  is timed until it has acted. Baseline: the same keys with the guest idle.
- flood end visible: the flood ends with a marker line; the time from the marker reaching the
  runner's serial log (the guest printed it) until the console's screen shows it. Baseline: a
  single short line the same way, no flood.

Not run in --quick (it boots a guest).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import GUEST_CACHE, BenchEnv, Figure, pct, skipped, summary
from .tuikit import Table, until

FLOOD_LINES = 1_000_000
KEYS = 40
TARGET_KEY_MS = 100.0


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    home = env.home("console")
    out = env.root / "console.json"
    argv = [sys.executable, "-m", "benchmarks.console", "--home", str(home), "--out", str(out)]
    cp = subprocess.run(argv, env=env.env(home), timeout=900, stderr=subprocess.PIPE)
    if cp.returncode != 0 or not out.exists():
        sys.stderr.write(cp.stderr.decode(errors="replace")[-4000:])
        raise RuntimeError(f"console benchmark child failed with status {cp.returncode}")
    data = json.loads(out.read_text())
    if data.get("skipped"):
        return [skipped("console", "console figures", data["skipped"])]
    return [Figure(**{k: v for k, v in f.items() if k != "ratio"}) for f in data["figures"]]


# -- in the child ------------------------------------------------------------------------------
def _marker_in(path: Path, marker: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            return marker in f.read()
    except OSError:
        return False


async def _printed_then_shown(app: Any, log: Any, serial: Path, command: str, marker: str) -> float:
    """Run `command` (it ends by printing `marker`); seconds from the serial log having the
    marker to the console's screen showing it."""
    pane = app.main.console
    pane.stream.send(command + "\n")
    printed = await until(lambda: _marker_in(serial, marker.encode()), 600, marker, 0.002)
    shown = await until(lambda: marker in log.screen_text, 600, f"{marker} shown", 0.002)
    return max(0.0, shown - printed)


async def _key(pilot: Any, key: str, acted: Any, what: str) -> float:
    t0 = time.monotonic()
    # Not awaited first: press() returns only once the app is idle, which a flood never lets it.
    press = asyncio.ensure_future(pilot.press(key))
    t1 = await until(acted, 30, what, 0.002)
    await press
    return t1 - t0


async def _keys(pilot: Any, screen: Any, n: int, done: Any = None) -> list[float]:
    """`1` (Overview), `5` (Console, which hands its prompt the keys), `esc` (back to the list,
    so the next `1` switches tabs rather than being typed): each timed until it has acted."""
    from maqet_tui.tui.widgets.vm_table import VMTable

    steps = [
        ("1", lambda: screen.detail_tab == "tab-overview", "the Overview tab"),
        ("5", lambda: screen.detail_tab == "tab-console", "the Console tab"),
        ("escape", lambda: isinstance(screen.focused, VMTable), "the list focused"),
    ]
    times = []
    for i in range(n):
        if done is not None and done():
            break
        key, acted, what = steps[i % len(steps)]
        times.append(await _key(pilot, key, acted, what))
        await asyncio.sleep(0.05)
    return times


async def figures(home: Path) -> dict[str, list[float]]:
    from maqet_tui.core.demo import ensure_demo
    from maqet_tui.core.manager import Manager
    from maqet_tui.tui.app import MaqetApp
    from maqet_tui.tui.widgets.console_log import ConsoleLog

    m = Manager(home)
    vm, _ = ensure_demo(m)
    serial = m.paths.serial_log(vm["id"])
    app = MaqetApp(home=str(home))
    res: dict[str, list[float]] = {"key": [], "key_idle": [], "end": [], "end_idle": []}
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(lambda: Table(app).row_of("demo") is not None, 30, "the VM table", 0.05)
            table = Table(app)
            table.widget.move_cursor(row=table.row_of("demo"))
            await pilot.press("5", "s")
            assert app.main is not None
            screen = app.main
            log = screen.query_one(ConsoleLog)
            await until(lambda: "/ #" in log.screen_text, 120, "the shell prompt", 0.05)
            res["key_idle"] = await _keys(pilot, screen, KEYS)
            for i in range(3):
                line = f"echo q{i}''mark"  # the echoed command does not hold the marker
                res["end_idle"].append(
                    await _printed_then_shown(app, log, serial, line, f"q{i}mark")
                )
            flood = f"yes | head -{FLOOD_LINES}; echo flood''end"
            pane = app.main.console
            pane.stream.send(flood + "\n")
            printed = asyncio.ensure_future(
                until(lambda: _marker_in(serial, b"floodend"), 600, "flood end", 0.002)
            )
            await until(lambda: log.screen_text.count("\ny") > 5, 60, "the flood", 0.01)
            # Keys for as long as the app has flood to show (the guest may be done sooner).
            res["key"] = await _keys(pilot, screen, KEYS, lambda: "floodend" in log.screen_text)
            shown = await until(lambda: "floodend" in log.screen_text, 600, "end shown", 0.002)
            res["end"].append(max(0.0, shown - await printed))
    finally:
        if m.get("demo")["status"] != "stopped":
            m.stop("demo", True, 10)
    return res


def child(home: Path, out: Path) -> int:
    os.environ.setdefault("MAQET_TUI_GUEST_CACHE", str(GUEST_CACHE))
    r = asyncio.run(figures(home))
    figs = [
        Figure("console_flood_key_p95", "keypress during a console flood, p95", "ms",
               pct(r["key_idle"], 95) * 1e3, pct(r["key"], 95) * 1e3,
               f"< {TARGET_KEY_MS:g} ms", pct(r["key"], 95) * 1e3 < TARGET_KEY_MS,
               baseline_what="the same tab keys, guest idle",
               details={"ours_ms": summary(r["key"], 1e3),
                        "baseline_ms": summary(r["key_idle"], 1e3),
                        "flood": f"yes | head -{FLOOD_LINES}"}),
        Figure("console_flood_end", "flood end visible after the guest printed it", "ms",
               max(r["end_idle"]) * 1e3, max(r["end"]) * 1e3, "< 1000 ms",
               max(r["end"]) < 1.0,
               baseline_what="one short line, no flood (worst of 3)",
               details={"baseline_ms": summary(r["end_idle"], 1e3)}),
    ]  # fmt: skip
    out.write_text(json.dumps({"figures": [f.to_json() for f in figs]}))
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    return child(args.home, args.out)


if __name__ == "__main__":
    sys.exit(main())
