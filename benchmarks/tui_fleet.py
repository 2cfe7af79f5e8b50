"""Figure 10d: a status change of a VM on another host until the TUI's table repaints its row,
against the same for a VM on this host.

Two running tiny VMs: `near` in this home, `far` in the home of the host `lab` (a real sshd on
127.0.0.1, tests/sshd.py). A helper process pauses/resumes one of them straight through its
runner's socket (as any client on its host would), alternating near and far; the Pilot app (in a
child process: Textual stays out of the main benchmark process) is polled every 2 ms until the
row shows the new status; a random pause between changes keeps them from locking onto the
agent's probe. The far row's change travels: runner → its store → the agent's store
probe (every 0.2 s) → the `vms` push over ssh → the app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import TINY_VM, BenchEnv, Figure, pct, summary
from .lab import lab_host
from .tui import HELPER
from .tuikit import Table, until

TARGET_MS = 2000.0


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.core.manager import Manager
    from maqet_tui.store import models as store

    managers: list[tuple[Path, str]] = []
    with lab_host(env, "tuifleet") as lab:
        home = lab.home
        try:
            sockets = {}
            for name, where in (("near", home), ("far", lab.far)):
                store.close_db()
                m = Manager(where)
                vm = m.add(name, TINY_VM)
                sockets[name] = str(m.start(vm["id"])["socket_path"])
                managers.append((where, str(vm["id"])))
            store.close_db()
            out = env.root / "tui_fleet.json"
            argv = [sys.executable, "-m", "benchmarks.tui_fleet", "--home", str(home), "--out"]
            argv += [str(out), "--near", sockets["near"], "--far", sockets["far"]]
            cp = subprocess.run(
                argv + (["--quick"] if quick else []),
                env=env.env(home),
                timeout=600,
                stderr=subprocess.PIPE,
            )
            if cp.returncode != 0 or not out.exists():
                sys.stderr.write(cp.stderr.decode(errors="replace")[-4000:])
                raise RuntimeError(f"TUI fleet benchmark child failed with status {cp.returncode}")
            res = json.loads(out.read_text())
        finally:
            for where, vm_id in managers:
                store.close_db()
                Manager(where).stop(vm_id, True, 10)
    far, near = pct(res["far"], 95) * 1e3, pct(res["near"], 95) * 1e3
    return [
        Figure("tui_fleet_status_p95", "remote status change to TUI repaint, p95", "ms",
               near, far, f"< {TARGET_MS:g} ms", far < TARGET_MS,
               baseline_what="the same for a VM on this host (same app, same table)",
               details={"ours_ms": summary(res["far"], 1e3),
                        "baseline_ms": summary(res["near"], 1e3)}),
    ]  # fmt: skip


# -- in the child ------------------------------------------------------------------------------
async def figures(home: Path, sockets: dict[str, str], quick: bool) -> dict[str, list[float]]:
    from maqet_tui.tui.app import MaqetApp

    app = MaqetApp(home=str(home), live_stats=False)
    res: dict[str, list[float]] = {"near": [], "far": []}
    async with app.run_test(size=(120, 40)) as pilot:
        # Table() reads the column positions once: only after the HOST column has come (it comes
        # with the hosts, read on a thread after the table is up), or STATUS would be misread.
        await until(lambda: Table(app).widget is not None and app.hosts, 30, "the table", 0.05)
        await until(lambda: "host" in Table(app).widget.columns, 30, "the HOST column", 0.05)
        table = Table(app)
        for name in sockets:
            await until(table.shows(name, "running"), 60, f"{name} running", 0.01)
        helper = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HELPER, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert helper.stdin is not None and helper.stdout is not None
        for i in range(8 if quick else 40):
            name = ("near", "far")[i % 2]
            before = table.status(name, [])
            method, want = ("pause", "paused") if before == "running" else ("resume", "running")
            helper.stdin.write(f"{method} {sockets[name]}\n".encode())
            await helper.stdin.drain()
            seen = await until(table.shows(name, want), 30, want)
            t0, _t1 = (float(x) for x in (await helper.stdout.readline()).split())
            res[name].append(seen - t0)
            # A random pause: a fixed pace would lock onto the agent's 0.2 s store probe and
            # measure one phase of it only.
            await asyncio.sleep(0.05 + random.random() * 0.25)
        helper.stdin.close()
        await helper.wait()
        await pilot.press("q")
    return res


def child(args: argparse.Namespace) -> int:
    sockets = {"near": args.near, "far": args.far}
    res: dict[str, Any] = asyncio.run(figures(args.home, sockets, args.quick))
    args.out.write_text(json.dumps(res))
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--home", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--near")
    p.add_argument("--far")
    p.add_argument("--quick", action="store_true")
    t0 = time.monotonic()
    status = child(p.parse_args())
    print(f"tui_fleet child: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
