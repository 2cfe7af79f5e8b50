"""The long-lived side a front end uses: calls from several threads on one session, and a watch
that reports a lost host and comes back by itself once it can."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

from maqet_tui.common.paths import Paths
from maqet_tui.fleet import registry
from maqet_tui.fleet.client import RemoteError
from maqet_tui.fleet.hostspec import make_spec
from maqet_tui.fleet.link import AgentLink, HostWatch
from tests.fleet.conftest import Lab
from tests.helpers import Env, run_cli, ssh_processes, wait_for


def test_calls_from_many_threads_share_one_session(lab: Lab) -> None:
    run_cli(lab.env, "--host", "lab", "add", "vm1", "--memory", "64", check=True)
    paths = Paths.resolve(lab.env.home)
    closed: list[str] = []
    link = AgentLink(registry.get(paths, "lab"), paths, lambda msg: None, closed.append)
    results: list[Any] = []

    def worker(i: int) -> None:
        if i % 2:
            results.append(link.call("list")[0]["name"])
        else:
            results.append(link.call("show", {"name": "vm1"})["accel_in_use"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [None] * 4 + ["vm1"] * 4
    try:
        link.call("show", {"name": "nosuch"})
        raise AssertionError("no error")
    except RemoteError as exc:
        assert exc.code == "failed" and "no VM named 'nosuch'" in str(exc)
    link.close()
    assert closed == ["closed"]


def test_a_watch_reports_a_lost_host_and_recovers(lab: Lab) -> None:
    run_cli(lab.env, "--host", "lab", "add", "vm1", "--memory", "64", "--accel", "tcg", check=True)
    assert run_cli(lab.env, "--host", "lab", "start", "vm1").returncode == 0
    paths = Paths.resolve(lab.env.home)
    seen: list[list[dict[str, Any]]] = []
    downs: list[str] = []
    watch = HostWatch(registry.get(paths, "lab"), paths, seen.append, downs.append)
    watch.start()
    try:
        wait_for(lambda: seen and seen[-1][0]["status"] == "running", 30, "the first push")
        qemu_pid = seen[-1][0]["qemu_pid"]
        (master,) = [p for p, c in ssh_processes({str(lab.env.runtime)}).items() if "[mux]" in c]
        os.kill(master, signal.SIGKILL)
        wait_for(lambda: downs, 15, "the loss to be reported")
        assert downs[0].startswith("host 'lab'")
        count = len(seen)
        wait_for(lambda: len(seen) > count, 30, "the watch to come back by itself")
        assert seen[-1][0]["status"] == "running" and seen[-1][0]["qemu_pid"] == qemu_pid
        out = watch.call("run", {"argv": ["pause", "vm1"]})  # actions go through the watch
        assert out == {"exit": 0}
        wait_for(lambda: seen[-1][0]["status"] == "paused", 10, "the pushed pause")
    finally:
        watch.stop()
    shown = json.loads(run_cli(lab.env, "--host", "lab", "show", "vm1", "--json").stdout)
    assert shown["status"] == "paused"  # the view came and went; the VM was never touched


def test_a_host_that_is_down_is_retried_and_stops_promptly(env: Env) -> None:
    paths = Paths.resolve(env.home)
    spec = make_spec("down", "u@127.0.0.1", None, ["Port=1"])
    downs: list[str] = []
    watch = HostWatch(spec, paths, lambda rows: None, downs.append)
    watch.start()
    wait_for(lambda: len(downs) >= 2, 15, "two attempts (1 s apart)")
    assert downs[0] == (
        "host 'down' (u@127.0.0.1): ssh: connect to host 127.0.0.1 port 1: Connection refused"
    )
    watch.stop()
    assert not watch._thread.is_alive()
