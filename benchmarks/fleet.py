"""Figures 10a-c: the fleet over a real sshd on 127.0.0.1 (tests/sshd.py), shared connection warm.

10a: `maqet-tui --host lab ls --json` (a whole CLI process: local start-up, one ssh channel on the
     shared connection, the remote maqet-tui's start-up, the agent's answer) against a bare
     `ssh ... true` with the very same ssh options and shared connection.
10b: a `list` request on an open agent session (what a front end pays per refresh) against the
     same bare `ssh ... true`.
10c: a status change made on the host (pause/resume through the runner) until the `vms` event
     with the new status arrives on a subscribed session; the baseline is the call itself.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .common import TINY_VM, BenchEnv, Figure, median, pct, run_alternated, run_timed, summary
from .lab import lab_host

if TYPE_CHECKING:
    from maqet_tui.common.paths import Paths
    from maqet_tui.core.manager import Manager
    from maqet_tui.fleet.client import AgentSession
    from maqet_tui.fleet.hostspec import HostSpec

TARGET_RATIO = 1.5


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.fleet.ssh import base_argv

    with lab_host(env, "fleet") as lab:
        spec, paths = lab.spec, lab.paths
        n = 5 if quick else 20
        cli_env = env.env(lab.home)
        ours_argv = [env.cli, "--host", "lab", "ls", "--json"]
        bare_argv = [*base_argv(spec, paths), "true"]
        run_timed(ours_argv, cli_env)  # warm-up: opens the shared connection, caches bytecode
        run_timed(bare_argv, cli_env)
        a, b = run_alternated(ours_argv, bare_argv, cli_env, n)
        figures = [_ratio("fleet_ls", "remote ls --json (CLI)", a, b, "CLI process")]
        figures += _session(env, spec, paths, bare_argv, cli_env, n * 5, quick)
        return figures


def _ratio(key: str, title: str, a: list[float], b: list[float], what: str) -> Figure:
    ours, base = median(a) * 1e3, median(b) * 1e3
    return Figure(
        key,
        title,
        "ms",
        base,
        ours,
        f"< {TARGET_RATIO:g}x",
        ours < TARGET_RATIO * base,
        baseline_what="ssh HOST true, same options, shared connection",
        details={"ours_ms": summary(a, 1e3), "baseline_ms": summary(b, 1e3), "ours": what},
    )


def _session(
    env: BenchEnv,
    spec: HostSpec,
    paths: Paths,
    bare_argv: list[str],
    cli_env: dict[str, str],
    n: int,
    quick: bool,
) -> list[Figure]:
    from maqet_tui.core.manager import Manager
    from maqet_tui.fleet.client import AgentSession
    from maqet_tui.store import models as store

    a: list[float] = []
    b: list[float] = []
    with AgentSession(spec, paths) as session:
        session.call("list")
        for i in range(n):
            if i % 2 == 0:
                t0 = time.perf_counter()
                session.call("list")
                a.append(time.perf_counter() - t0)
                b.append(run_timed(bare_argv, cli_env)[0])
            else:
                b.append(run_timed(bare_argv, cli_env)[0])
                t0 = time.perf_counter()
                session.call("list")
                a.append(time.perf_counter() - t0)
    figures = [_ratio("fleet_list", "agent list, open session", a, b, "one request")]
    far = env.home("fleet-remote")
    store.close_db()
    m = Manager(far)
    vm = m.add("pushed", TINY_VM)
    m.start(vm["id"])
    store.close_db()
    lat: list[float] = []
    base: list[float] = []
    with AgentSession(spec, paths) as session:
        session.call("subscribe")
        _until(session, "running")
        for i in range(10 if quick else 20):
            want = "paused" if i % 2 == 0 else "running"
            t0 = time.perf_counter()
            _change(m, vm["id"], want)
            base.append(time.perf_counter() - t0)
            _until(session, want)
            lat.append(time.perf_counter() - t0)
    store.close_db()
    figures.append(
        Figure(
            "fleet_push",
            "remote status change pushed (p95)",
            "ms",
            pct(base, 95) * 1e3,
            pct(lat, 95) * 1e3,
            "< 2000 ms",
            pct(lat, 95) * 1e3 < 2000,
            baseline_what="the pause/resume call on the host",
            details={"ours_ms": summary(lat, 1e3), "baseline_ms": summary(base, 1e3)},
        )
    )
    return figures


def _change(m: Manager, vm_id: str, want: str) -> None:
    """Pause or resume in this process, through the runner (as any client on the host would)."""
    if want == "paused":
        m.pause(vm_id)
    else:
        m.resume(vm_id)


def _until(session: AgentSession, status: str) -> None:
    while True:
        event = session.next_event(timeout=30)
        vms = event.get("data", {}).get("vms") or []
        if event.get("event") == "vms" and vms and vms[0]["status"] == status:
            return
