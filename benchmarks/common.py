"""Shared pieces: the isolated environment, results, statistics, bare QEMU and leak scanning.

Every run gets its own home root and a short runtime directory under /tmp; both are exported in
this process's environment (so runners and bare QEMUs inherit MAQET_TUI_RUNTIME_DIR, which is how
the final leak scan recognises them) and removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

QEMU = os.environ.get("MAQET_BENCH_QEMU", "qemu-system-x86_64")
TINY_VM: dict[str, Any] = {"memory": 64, "accel": "tcg"}
GUEST_CACHE = Path(os.environ.get("MAQET_BENCH_GUEST_CACHE", "/tmp/gi-cache"))


@dataclass
class Figure:
    """One row of the table. `met` is None when the figure has no target (informational)."""

    key: str
    title: str
    unit: str
    baseline: float | None
    ours: float | None
    target: str
    met: bool | None
    baseline_what: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.ours is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def skipped(key: str, title: str, why: str) -> Figure:
    return Figure(key, title, "", None, None, "-", None, skipped=why)


# -- statistics --------------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return pct(values, 50)


def summary(values: Sequence[float], scale: float = 1.0) -> dict[str, Any]:
    """n, min, median, p95, p99, max of `values` times `scale` (e.g. 1e3 for ms); the samples
    themselves too when there are few."""
    if not values:
        return {"n": 0}
    raw = {"samples": [round(v * scale, 3) for v in values]} if len(values) <= 20 else {}
    return {
        **raw,
        "n": len(values),
        "min": min(values) * scale,
        "median": median(values) * scale,
        "p95": pct(values, 95) * scale,
        "p99": pct(values, 99) * scale,
        "max": max(values) * scale,
    }


# -- the environment -----------------------------------------------------------------------------
class BenchEnv:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mqb-", dir="/tmp"))
        self.runtime = Path(tempfile.mkdtemp(prefix="mqbr-", dir="/tmp"))
        os.environ["MAQET_TUI_RUNTIME_DIR"] = str(self.runtime)
        os.environ["MAQET_TUI_ACCEL"] = "tcg"
        os.environ["MAQET_TUI_HOME"] = str(self.root / "default")
        os.environ.pop("MAQET_TUI_DEBUG", None)
        # Measure processes as an installed product runs them: with cached bytecode. A session
        # may set PYTHONDONTWRITEBYTECODE, which makes every process recompile every module
        # (~20-30 ms a process); the cache lives under this run's root and goes with it.
        self.no_bytecode = os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None
        os.environ["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
        self.homes: list[Path] = []
        self.bare: list[subprocess.Popen[bytes]] = []
        self._n = 0
        bindir = Path(sys.executable).parent
        cli = bindir / "maqet-tui"
        self.cli = str(cli) if cli.exists() else (shutil.which("maqet-tui") or str(cli))

    def home(self, name: str) -> Path:
        h = self.root / name
        h.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.homes.append(h)
        return h

    def env(self, home: Path | None = None) -> dict[str, str]:
        e = dict(os.environ)
        if home is not None:
            e["MAQET_TUI_HOME"] = str(home)
        return e

    def sock(self, stem: str) -> Path:
        self._n += 1
        return self.runtime / f"{stem}{self._n}.s"

    def stop_all(self) -> list[str]:
        """Stop every VM of every home through the product's own stop path, kill bare QEMUs."""
        problems: list[str] = []
        for p in self.bare:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)
        from maqet_tui.common.vmstate import LIVE
        from maqet_tui.core.manager import Manager
        from maqet_tui.store import models as store

        for home in self.homes:
            if not (home / "maqet.db").exists():
                continue
            try:
                m = Manager(home)
                for vm in m.list():
                    if vm["status"] in LIVE:
                        m.stop(vm["id"], force=True, timeout=10)
            except Exception as exc:
                problems.append(f"stopping the VMs of {home}: {type(exc).__name__}: {exc}")
        store.close_db()
        return problems

    def cleanup(self) -> list[str]:
        """Stop everything, then prove nothing of ours is left; returns the problems found."""
        problems = self.stop_all()
        deadline = time.monotonic() + 5
        leaked = leaked_processes(str(self.runtime))
        while leaked and time.monotonic() < deadline:
            time.sleep(0.05)
            leaked = leaked_processes(str(self.runtime))
        for pid, cmd in leaked.items():
            problems.append(f"leaked process {pid}: {cmd}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.runtime, ignore_errors=True)
        return problems


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def leaked_processes(runtime: str) -> dict[int, str]:
    """Live QEMU and runner processes (zombies excluded) whose environment names `runtime`."""
    found: dict[int, str] = {}
    marker = b"MAQET_TUI_RUNTIME_DIR=" + runtime.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        cmd = _read(f"/proc/{entry}/cmdline").replace(b"\0", b" ").decode(errors="replace")
        if "qemu-system" not in cmd and " -m runner " not in f" {cmd} ":
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat or stat.rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
            continue
        if marker in _read(f"/proc/{entry}/environ").split(b"\0"):
            found[int(entry)] = cmd
    return found


# -- bare QEMU with a raw QMP socket ---------------------------------------------------------------
class RawQMP:
    """QMP over a plain socket, one JSON object per line (events before a reply are skipped)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.f = sock.makefile("rwb", buffering=0)
        self.greeting = json.loads(self.f.readline())

    def cmd(self, execute: str, **arguments: Any) -> dict[str, Any]:
        msg: dict[str, Any] = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self.f.write(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("QMP closed")
            reply: dict[str, Any] = json.loads(line)
            if "event" not in reply:
                return reply

    def close(self) -> None:
        self.f.close()
        self.sock.close()


def connect_qmp(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> RawQMP:
    """Connect as soon as QEMU listens (polling every 1 ms) and read the greeting."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
            return RawQMP(s)
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if proc.poll() is not None:
                raise RuntimeError(f"bare QEMU exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"no QMP on {path}") from None
            time.sleep(0.001)


def bare_argv(qmp: Path, memory: int = 64, extra: Sequence[str] = ()) -> list[str]:
    return [
        QEMU,
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-m",
        str(memory),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-qmp",
        f"unix:{qmp},server=on,wait=off",
        *extra,
    ]


def spawn_bare(env: BenchEnv, argv: list[str]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    env.bare.append(p)
    return p


def quit_bare(proc: subprocess.Popen[bytes], qmp: RawQMP | None) -> None:
    if qmp is not None:
        with contextlib.suppress(OSError, ValueError, ConnectionError):
            qmp.cmd("quit")
        qmp.close()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_timed(
    argv: list[str], env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    cp = subprocess.run(argv, env=env, capture_output=True)
    dt = time.perf_counter() - t0
    if cp.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({cp.returncode}): {cp.stderr.decode()[-300:]}"
        )
    return dt, cp


def run_alternated(
    ours: list[str], base: list[str], env: dict[str, str], n: int
) -> tuple[list[float], list[float]]:
    """`n` timed runs of each command, taking turns at going first (so a drift in the machine's
    load falls on both alike); the seconds of ours, then of the baseline."""
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        pair = ((ours, a), (base, b)) if i % 2 == 0 else ((base, b), (ours, a))
        for argv, out in pair:
            out.append(run_timed(argv, env)[0])
    return a, b
