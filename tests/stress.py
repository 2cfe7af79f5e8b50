"""CLI loops hammering a few VMs from many processes at once, for the concurrency tests."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.helpers import Env, vm_processes

# Refusals that are correct answers when another loop got there first (e.g. a start whose VM a
# racing stop took down right after it came up says so, exit 1).
EXPECTED = (
    "is not running (status:",
    "is stopping",
    "is starting",
    "by another process while it started",
)


@dataclass
class Outcome:
    ops: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    doubles: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.ops.values())


class Hammer:
    """`loops` threads, each running real `maqet-tui` processes back to back for `seconds`,
    plus a watcher that records any moment a VM has two runner processes."""

    def __init__(self, env: Env, names: list[str], seconds: float, loops: int = 8) -> None:
        self.env = env
        self.names = names
        self.deadline = time.monotonic() + seconds
        self.out = Outcome()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(loops)]
        self.threads.append(threading.Thread(target=self._watch))

    def start(self) -> Hammer:
        for t in self.threads:
            t.start()
        return self

    def done(self) -> bool:
        return not any(t.is_alive() for t in self.threads)

    def join(self, timeout: float) -> Outcome:
        for t in self.threads:
            t.join(timeout)
        return self.out

    def _loop(self, seed: int) -> None:
        rnd = random.Random(seed)
        cli_env = {**os.environ, "MAQET_TUI_HOME": str(self.env.home)}
        while time.monotonic() < self.deadline:
            op = rnd.choice(["start", "start", "stop", "pause", "resume", "qmp", "ls"])
            name = rnd.choice(self.names)
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
            with self.lock:
                self.out.ops[op] += 1
                err = out.stderr.strip()
                if out.returncode != 0 and not any(e in err for e in EXPECTED):
                    self.out.unexpected.append(f"{' '.join(args)} -> {out.returncode}: {err}")

    def _watch(self) -> None:
        while time.monotonic() < self.deadline:
            per_vm: dict[str, list[tuple[str, str]]] = {}
            for pid, cmd in vm_processes({str(self.env.runtime)}).items():
                if " -m runner " not in f" {cmd} ":
                    continue
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        ppid = f.read().rsplit(")", 1)[1].split()[1]
                except OSError:
                    continue
                per_vm.setdefault(cmd.split("--vm ")[1].split()[0], []).append((str(pid), ppid))
            for vm_id, procs in per_vm.items():
                # A runner's own child between fork and exec (QEMU being spawned) still shows
                # the runner's argv: it is not a second runner.
                pids = {p for p, _ in procs}
                real = [p for p, parent in procs if parent not in pids]
                if len(real) > 1:
                    with self.lock:
                        self.out.doubles.append(f"{vm_id} has runners {procs}")
            time.sleep(0.05)
