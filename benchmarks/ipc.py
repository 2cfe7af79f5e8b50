"""Figures 2 and 3: a QMP command relayed by the runner, and an IPC ping, each on one persistent
connection, against the same exchange done straight (QEMU's own QMP socket; a raw echo server)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .common import (
    TINY_VM,
    BenchEnv,
    Figure,
    bare_argv,
    connect_qmp,
    median,
    pct,
    quit_bare,
    spawn_bare,
    summary,
)

ECHO_SERVER = """
import asyncio, sys
async def serve(reader, writer):
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_unix_server(serve, path=sys.argv[1])
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""
PING = b'{"id":1,"method":"ping","params":{}}\n'


def interleaved(
    a: Callable[[], object], b: Callable[[], object], n: int
) -> tuple[list[float], list[float]]:
    """n timings of `a` (ours) and of `b` (baseline), alternating ABAB / BABA."""
    ta: list[float] = []
    tb: list[float] = []
    clock = time.perf_counter
    for i in range(n):
        first, second = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for fn, out in (first, second):
            t0 = clock()
            fn()
            out.append(clock() - t0)
    return ta, tb


class RawLineClient:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buf = b""

    def roundtrip(self, line: bytes) -> bytes:
        self.sock.sendall(line)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("echo server closed")
            self.buf += chunk
        out, _, self.buf = self.buf.partition(b"\n")
        return out

    def close(self) -> None:
        self.sock.close()


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.core.ipc_client import IPCClient
    from maqet_tui.core.manager import Manager

    n = 100 if quick else 500
    home = env.home("ipc")
    m = Manager(home)
    m.add("q1", TINY_VM)
    vm = m.start("q1")
    client = IPCClient(vm["socket_path"], timeout=10)

    qpath = env.sock("qmp")
    proc = spawn_bare(env, bare_argv(qpath))
    qmp = connect_qmp(qpath, proc)
    qmp.cmd("qmp_capabilities")

    echo_path = env.sock("echo")
    echo = subprocess.Popen(
        [sys.executable, "-c", ECHO_SERVER, str(echo_path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    raw: RawLineClient | None = None
    try:
        assert echo.stdout is not None and echo.stdout.readline().strip() == b"ready"
        raw = RawLineClient(echo_path)

        def ours_qmp() -> None:
            client.call("qmp", {"command": "query-status"})

        def bare_qmp() -> None:
            qmp.cmd("query-status")

        def ours_ping() -> None:
            client.call("ping")

        raw_client = raw

        def bare_ping() -> None:
            raw_client.roundtrip(PING)

        assert client.call("qmp", {"command": "query-status"})["status"] == "running"
        interleaved(ours_qmp, bare_qmp, 30)  # warm-up
        qa, qb = interleaved(ours_qmp, bare_qmp, n)
        interleaved(ours_ping, bare_ping, 30)
        pa, pb = interleaved(ours_ping, bare_ping, n)
    finally:
        client.close()
        if raw is not None:
            raw.close()
        echo.kill()
        echo.wait()
        echo_path.unlink(missing_ok=True)
        quit_bare(proc, qmp)
        m.stop("q1", force=True, timeout=10)

    qmed_a, qmed_b = median(qa) * 1e3, median(qb) * 1e3
    q99_a, q99_b = pct(qa, 99) * 1e3, pct(qb, 99) * 1e3
    q_details = {"ours_ms": summary(qa, 1e3), "baseline_ms": summary(qb, 1e3)}
    ping_a, ping_b = median(pa) * 1e6, median(pb) * 1e6
    return [
        Figure(
            "qmp_median",
            "QMP query-status via runner, median",
            "ms",
            qmed_b,
            qmed_a,
            "< 2x",
            qmed_a < 2 * qmed_b,
            baseline_what="raw QMP socket of a bare qemu",
            details=q_details,
        ),
        Figure(
            "qmp_p99",
            "QMP query-status via runner, p99",
            "ms",
            q99_b,
            q99_a,
            "< 3x",
            q99_a < 3 * q99_b,
            baseline_what="raw QMP socket of a bare qemu",
            details=q_details,
        ),
        Figure(
            "ping",
            "IPC ping round trip, median",
            "us",
            ping_b,
            ping_a,
            "< 200 us",
            ping_a < 200,
            baseline_what="raw asyncio line echo server, raw socket client",
            details={"ours_us": summary(pa, 1e6), "baseline_us": summary(pb, 1e6)},
        ),
    ]
