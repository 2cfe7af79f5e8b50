"""TUI figures, measured on the app's public behaviour in a child process (Textual stays out of
the main benchmark process). 50 VMs: a000..a039 stopped, z000..z009 running (tiny, TCG).

- start: from the `s` keypress (App.run_test Pilot) until the VM table shows `running`; baseline is
  the same start through the Python API (`Manager.start`), no UI.
- status: another process pauses/resumes a VM over IPC; time until the table shows it; baseline is
  that process's own call returning (the status is recorded by then).
- idle CPU and keypress → repaint: the real `maqet-tui` on a pseudo-terminal, next to a bare
  Textual DataTable app with the same rows (`tuikit.mini_app`); repaint = the first terminal bytes
  that show the newly highlighted row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import BenchEnv, Figure, median, pct, skipped, summary
from .tuikit import DOWN, UP, PtyApp, Table, Unavailable, until

STOPPED = [f"a{i:03d}" for i in range(40)]
RUNNING = [f"z{i:03d}" for i in range(10)]
HELPER = """
import sys, time
from maqet_tui.core.ipc_client import call
for line in sys.stdin:
    method, path = line.split()
    t0 = time.monotonic(); call(path, method, {}, timeout=10); t1 = time.monotonic()
    print(t0, t1, flush=True)
"""


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    """In the benchmark process: run the child, turn its JSON into figures."""
    import importlib.util

    if importlib.util.find_spec("maqet_tui.tui.app") is None:
        return [skipped("tui", "TUI figures", "TUI not available: no maqet_tui.tui.app")]
    home = env.home("tui")
    out = env.root / "tui.json"
    argv = [sys.executable, "-m", "benchmarks.tui", "--home", str(home), "--out", str(out)]
    cp = subprocess.run(
        argv + (["--quick"] if quick else []),
        env=env.env(home),
        timeout=600,
        stderr=subprocess.PIPE,
    )
    errors = cp.stderr.decode(errors="replace")
    if cp.returncode != 0 or not out.exists():
        sys.stderr.write(errors[-4000:])
        raise RuntimeError(f"TUI benchmark child failed with status {cp.returncode}")
    data = json.loads(out.read_text())
    if data.get("skipped"):
        return [skipped("tui", "TUI figures", f"TUI not available: {data['skipped']}")]
    figs = [Figure(**{k: v for k, v in f.items() if k != "ratio"}) for f in data["figures"]]
    # What the app printed on stderr (e.g. asyncio's "exception was never retrieved"): kept for
    # the record, since it points at product bugs, not at the benchmark.
    lines = [ln for ln in errors.splitlines() if ln.strip()]
    if lines:
        figs[0].details["child_stderr"] = {"lines": len(lines), "first": lines[:6]}
    return figs


# -- in the child ------------------------------------------------------------------------------
def _check() -> str | None:
    try:
        from textual.widgets import DataTable  # noqa: F401

        from maqet_tui.tui.app import MaqetApp
    except Exception as exc:
        return f"cannot import maqet_tui.tui.app: {type(exc).__name__}: {exc}"
    if not hasattr(MaqetApp, "run_test"):
        return "MaqetApp is not a Textual App"
    return None


async def pilot_figures(home: Path, quick: bool, m: Any) -> dict[str, list[float]]:
    from maqet_tui.tui.app import MaqetApp

    app = MaqetApp(home=str(home))
    res: dict[str, list[float]] = {"start": [], "start_api": [], "status": [], "status_call": []}
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await until(lambda: Table(app).widget is not None, 15, "the VM table", 0.05)
        except TimeoutError:
            raise Unavailable("no DataTable with NAME and STATUS columns on the screen") from None
        table = Table(app)
        await until(table.shows(RUNNING[-1], "running"), 30, "the table", 0.01)
        for i in range(2 if quick else 7):
            for mine in (i % 2 == 0, i % 2 == 1):
                if mine:  # keypress on a000 until the table says running
                    row = table.row_of("a000")
                    table.widget.move_cursor(row=row)
                    await pilot.pause()
                    t0 = time.monotonic()
                    # Not awaited first: press() returns only once the screen is idle, which
                    # can be long after the table changed.
                    press = asyncio.ensure_future(pilot.press("s"))
                    t1 = await until(table.shows("a000", "running"), 30, "start")
                    res["start"].append(t1 - t0)
                    await press
                    await asyncio.to_thread(m.stop, "a000", True, 10)
                    await until(table.shows("a000", "stopped"), 30, "stopped")
                else:
                    t0 = time.monotonic()
                    await asyncio.to_thread(m.start, "a001")
                    res["start_api"].append(time.monotonic() - t0)
                    await asyncio.to_thread(m.stop, "a001", True, 10)
        helper = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HELPER, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert helper.stdin is not None and helper.stdout is not None
        sockets = {n: m.get(n)["socket_path"] for n in RUNNING}
        for i in range(6 if quick else 40):
            name = RUNNING[i % len(RUNNING)]
            before = table.status(name, [])
            method, want = ("pause", "paused") if before == "running" else ("resume", "running")
            helper.stdin.write(f"{method} {sockets[name]}\n".encode())
            await helper.stdin.drain()
            seen = await until(table.shows(name, want), 10, want)
            t0, t1 = (float(x) for x in (await helper.stdout.readline()).split())
            res["status"].append(seen - t0)
            res["status_call"].append(t1 - t0)
            await asyncio.sleep(0.05)
        helper.stdin.close()
        await helper.wait()
        await pilot.press("q")
    for name in RUNNING:  # leave every VM running for the next part
        if m.get(name)["status"] == "paused":
            m.resume(name)
    return res


def pty_figures(home: Path, quick: bool) -> dict[str, Any]:
    import os

    env = {**os.environ, "MAQET_TUI_HOME": str(home)}
    cli = str(Path(sys.executable).parent / "maqet-tui")
    ours = PtyApp([cli], env)
    mini = PtyApp([sys.executable, "-m", "benchmarks.tui", "--mini-app"], env)
    apps = {"ours": ours, "mini": mini}
    res: dict[str, Any] = {"key": [], "key_mini": [], "timeouts": {"ours": 0, "mini": 0}}
    try:
        for app in apps.values():  # the first row on screen, then let start-up settle
            if app.wait_for(STOPPED[0].encode(), 0, 30) is None:
                raise TimeoutError("the TUI did not draw its table")
        time.sleep(3.0)
        window = 3.0 if quick else 10.0
        c0 = {k: a.cpu_seconds() for k, a in apps.items()}
        time.sleep(window)
        res["idle_cpu"] = {k: (a.cpu_seconds() - c0[k]) / window * 100 for k, a in apps.items()}
        row = {"ours": 0, "mini": 0}
        step = {"ours": 1, "mini": 1}
        for i in range(12 if quick else 100):
            for k in ("ours", "mini") if i % 2 == 0 else ("mini", "ours"):
                app = apps[k]
                if not 0 <= row[k] + step[k] < len(STOPPED):
                    step[k] = -step[k]
                row[k] += step[k]
                since, t0 = app.press(DOWN if step[k] > 0 else UP)
                t1 = app.wait_for(STOPPED[row[k]].encode(), since, 2.0)
                if t1 is None:
                    res["timeouts"][k] += 1
                    t1 = t0 + 2.0
                res["key" if k == "ours" else "key_mini"].append(t1 - t0)
                time.sleep(0.12)
    finally:
        for app in apps.values():
            app.close()
    return res


def child(home: Path, out: Path, quick: bool) -> int:
    why = _check()
    if why:
        out.write_text(json.dumps({"skipped": why}))
        return 0
    from maqet_tui.core.manager import Manager

    m = Manager(home)
    for name in STOPPED + RUNNING:
        m.add(name, {"memory": 64, "accel": "tcg"})
    try:
        for name in RUNNING:
            m.start(name)
        p = asyncio.run(pilot_figures(home, quick, m))
        t = pty_figures(home, quick)
    except Unavailable as exc:
        out.write_text(json.dumps({"skipped": str(exc)}))
        return 0
    finally:
        for vm in m.list():
            if vm["status"] != "stopped":
                m.stop(vm["id"], True, 10)
    figs = [
        Figure("tui_start", "TUI start: key until table shows running", "ms",
               median(p["start_api"]) * 1e3, median(p["start"]) * 1e3, "-", None,
               baseline_what="Manager.start() in-process, no UI",
               details={"ours_ms": summary(p["start"], 1e3),
                        "baseline_ms": summary(p["start_api"], 1e3)}),
        Figure("tui_idle_cpu", "TUI idle CPU, 50 VMs / 10 running", "%",
               t["idle_cpu"]["mini"], t["idle_cpu"]["ours"], "< 2 %",
               t["idle_cpu"]["ours"] < 2.0,
               baseline_what="bare Textual DataTable app, same rows"),
        Figure("tui_status_p95", "status change by another process shown, p95", "ms",
               pct(p["status_call"], 95) * 1e3, pct(p["status"], 95) * 1e3, "< 100 ms",
               pct(p["status"], 95) * 1e3 < 100,
               baseline_what="the other process's pause/resume call returning",
               details={"ours_ms": summary(p["status"], 1e3),
                        "baseline_ms": summary(p["status_call"], 1e3)}),
        Figure("tui_key_p95", "keypress to repaint, 50 VMs, p95", "ms",
               pct(t["key_mini"], 95) * 1e3, pct(t["key"], 95) * 1e3, "< 50 ms",
               pct(t["key"], 95) * 1e3 < 50,
               baseline_what="bare Textual DataTable app, same rows, same pty",
               details={"ours_ms": summary(t["key"], 1e3),
                        "baseline_ms": summary(t["key_mini"], 1e3),
                        "timeouts": t["timeouts"]}),
    ]  # fmt: skip
    out.write_text(json.dumps({"figures": [f.to_json() for f in figs]}))
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--home", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--mini-app", action="store_true")
    args = p.parse_args()
    if args.mini_app:
        from .tuikit import mini_app

        mini_app([(n, "stopped") for n in STOPPED] + [(n, "running") for n in RUNNING])
        return 0
    return child(args.home, args.out, args.quick)


if __name__ == "__main__":
    sys.exit(main())
