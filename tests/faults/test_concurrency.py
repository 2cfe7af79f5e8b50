"""Many CLI processes at once on a few VMs: no "database is locked", never two runners for one
VM, and the store agrees with the processes that exist at the end."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from maqet_tui.manager import Manager
from maqet_tui.procs import is_alive
from tests.helpers import Env, vm_processes

TinyVM = Callable[..., dict[str, Any]]
SECONDS = float(os.environ.get("MAQET_TUI_STRESS_SECONDS", "15"))
LOOPS = 8
# Refusals that are correct answers when another loop got there first.
EXPECTED = ("is not running (status:", "is stopping", "is starting")


def test_concurrent_cli_loops(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    names = [f"c{i}" for i in range(4)]
    ids = {tiny_vm(n)["id"]: n for n in names}
    cli_env = {**os.environ, "MAQET_TUI_HOME": str(env.home)}
    deadline = time.monotonic() + SECONDS
    ops: Counter[str] = Counter()
    unexpected: list[str] = []
    lock = threading.Lock()
    doubles: list[str] = []

    def loop(seed: int) -> None:
        rnd = random.Random(seed)
        while time.monotonic() < deadline:
            op = rnd.choice(["start", "start", "stop", "pause", "resume", "qmp", "ls"])
            name = rnd.choice(names)
            args = {
                "ls": ["ls", "--json"],
                "qmp": ["qmp", name, "query-status"],
                "stop": ["stop", name, "--force"],
            }.get(op, [op, name])
            out = subprocess.run(
                [sys.executable, "-m", "maqet_tui", *args],
                env=cli_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            with lock:
                ops[op] += 1
                err = out.stderr.strip()
                if out.returncode != 0 and not any(e in err for e in EXPECTED):
                    unexpected.append(f"{' '.join(args)} -> {out.returncode}: {err}")

    def watch() -> None:
        while time.monotonic() < deadline:
            per_vm: dict[str, list[str]] = {}
            for pid, cmd in vm_processes({str(env.runtime)}).items():
                if " -m runner " in f" {cmd} ":
                    try:
                        with open(f"/proc/{pid}/stat") as f:
                            st = f.read().rsplit(")", 1)[1].split()[:2]
                    except OSError:
                        continue
                    per_vm.setdefault(cmd.split("--vm ")[1].split()[0], []).append(
                        f"{pid} state={st[0]} ppid={st[1]}"
                    )
            with lock:
                for k, procs in per_vm.items():
                    # A runner's own child between fork and exec (QEMU being spawned) still
                    # shows the runner's argv: it is not a second runner.
                    pids = {p.split()[0] for p in procs}
                    real = [p for p in procs if p.split("ppid=")[1] not in pids]
                    if len(real) > 1:
                        doubles.append(f"{ids.get(k, k)} has runners {procs}")
            time.sleep(0.05)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(LOOPS)]
    threads.append(threading.Thread(target=watch))
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 180)
    total = sum(ops.values())
    print(f"\n{total} CLI operations by {LOOPS} loops in {SECONDS:g} s: {dict(ops)}")
    assert not unexpected, "\n".join(unexpected[:20])
    assert not any("database is locked" in u for u in unexpected)
    assert not doubles, doubles[:5]
    assert total >= LOOPS * 3
    # The store matches reality: a VM reads running/paused exactly when its runner lives.
    for vm in manager.list():
        alive = is_alive(vm["runner_pid"], vm["runner_started"])
        assert (vm["status"] in ("running", "paused")) == alive, vm
