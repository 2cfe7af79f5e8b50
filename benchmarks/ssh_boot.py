"""Figure: `maqet-tui start` of a VM made from the Debian image until its SSH server greets on the
forwarded port, against a bare QEMU started with the same image and arguments until the same.

Both are first boots of a fresh VM (`add --image debian-12 --net isolated`, untimed), so
cloud-init does the same work in both: the bare QEMU runs the argv our starter builds for its own
freshly added VM, with the runner's inherited-fd monitor and serial port replaced by a QMP socket
and a serial log file. Timed from the command's start (ours: the CLI process; bare: the spawn)
until the banner `SSH-2.0-...` is read on 127.0.0.1 at the VM's SSH forward.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

from .common import BenchEnv, Figure, median, skipped, spawn_bare, summary

IMAGE = "debian-12"
TARGET_RATIO = 1.1
DEADLINE = 600.0


def _images() -> Path:
    env = os.environ.get("MAQET_TUI_IMAGES")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "maqet-tui" / "images"


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _wait_banner(port: int, t0: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    while not _banner(port):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the bare QEMU exited ({proc.returncode}) before its SSH banner")
        if time.perf_counter() - t0 > DEADLINE:
            raise RuntimeError(f"no SSH banner on port {port} within {DEADLINE:g} s")
        time.sleep(0.05)
    return time.perf_counter() - t0


class Pair:
    def __init__(self, env: BenchEnv) -> None:
        self.env = env
        self.home = env.home("sshboot")
        self.cli_env = {**env.env(self.home), "HOME": str(self.home / "user")}
        self.n = 0

    def add(self) -> dict[str, object]:
        self.n += 1
        name = f"v{self.n}"
        args = [self.env.cli, "add", name, "--image", IMAGE, "--net", "isolated"]
        subprocess.run([*args, "--accel", "tcg"], env=self.cli_env, check=True, capture_output=True)
        out = subprocess.run(
            [self.env.cli, "show", name, "--json"],
            env=self.cli_env,
            check=True,
            capture_output=True,
        )
        vm: dict[str, object] = json.loads(out.stdout)
        return vm

    def ours(self) -> float:
        vm = self.add()
        port = vm["network"]["forwards"][0]["host_port"]  # type: ignore[index]
        t0 = time.perf_counter()
        subprocess.run(
            [self.env.cli, "start", str(vm["name"])],
            env=self.cli_env,
            check=True,
            capture_output=True,
        )
        dt = _wait_banner(port, t0)
        subprocess.run(
            [self.env.cli, "stop", "--force", str(vm["name"])],
            env=self.cli_env,
            check=True,
            capture_output=True,
        )
        return dt

    def bare(self) -> float:
        from maqet_tui.core.config import VMConfig, build_argv

        vm = self.add()
        cfg = VMConfig.from_dict(vm["config"])  # type: ignore[arg-type]
        port = cfg.forwards[0]["host_port"]
        qmp = self.env.sock("sb")
        qga = self.env.sock("sg")
        serial = self.home / f"{vm['id']}.serial"
        swap = {  # the runner's inherited fds, as sockets and a file a bare QEMU makes itself
            "socket,id=maqet-qmp,": f"socket,id=maqet-qmp,path={qmp},server=on,wait=off",
            "socket,id=maqet-serial,": f"file,id=maqet-serial,path={serial}",
            "socket,id=maqet-qga,": f"socket,id=maqet-qga,path={qga},server=on,wait=off",
        }
        argv = [
            next((new for old, new in swap.items() if a.startswith(old)), a)
            for a in build_argv(str(vm["id"]), str(vm["name"]), cfg)
        ]
        t0 = time.perf_counter()
        proc = spawn_bare(self.env, argv)
        try:
            return _wait_banner(port, t0, proc)
        finally:
            proc.kill()
            proc.wait()


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    title = "start to SSH banner (Debian image, TCG)"
    images = _images()
    if not (images / IMAGE / "image.json").is_file():
        return [skipped("ssh_boot", title, f"no image: maqet-tui image build {IMAGE}")]
    os.environ["MAQET_TUI_IMAGES"] = str(images)
    p = Pair(env)
    n = 1 if quick else 5
    a: list[float] = []
    b: list[float] = []
    for i in range(n):  # ABAB / BABA: a shared machine's noise falls on both
        if i % 2 == 0:
            b.append(p.bare())
            a.append(p.ours())
        else:
            a.append(p.ours())
            b.append(p.bare())
    base, mine = median(b), median(a)
    return [
        Figure(
            "ssh_boot",
            title,
            "s",
            base,
            mine,
            f"< {TARGET_RATIO:g}x",
            mine < TARGET_RATIO * base,
            baseline_what="bare qemu, the same argv, spawn until the SSH banner",
            details={"ours_s": summary(a), "baseline_s": summary(b)},
        )
    ]
