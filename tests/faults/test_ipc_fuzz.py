"""Fuzz a real runner's socket: whatever arrives, it answers or closes as the contract says, keeps
serving ping to others, and its memory stays bounded."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maqet_tui.core import ipc_client
from maqet_tui.core.manager import Manager
from maqet_tui.protocol import wire as proto

TinyVM = Callable[..., dict[str, Any]]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)
# Methods that cannot change the VM's state; stop/pause/resume/qmp get typed garbage params only.
methods = st.sampled_from(
    ["ping", "status", "nope", "", "subscribe", "console-write", "qmp", "stop", "pause", "resume"]
) | st.text(max_size=12)
requests = st.fixed_dictionaries(
    {"method": methods},
    optional={"id": json_values, "params": json_values},
)
lines = (
    st.binary(max_size=200).filter(lambda b: b"\n" not in b)
    | requests.map(lambda r: json.dumps(r).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
)


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _safe(line: bytes) -> bool:
    """Skip only requests that would legitimately change the VM (a real stop, say)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return True
    if not isinstance(obj, dict) or obj.get("method") not in ("stop", "pause", "resume", "qmp"):
        return True
    params = obj.get("params")
    if obj["method"] == "qmp":
        return not (isinstance(params, dict) and isinstance(params.get("command"), str))
    return not (params is None or isinstance(params, dict))


def test_fuzz_runner_socket(manager: Manager, tiny_vm: TinyVM) -> None:
    tiny_vm("fz")
    vm = manager.start("fz")
    path, runner = vm["socket_path"], vm["runner_pid"]
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(path)
    conn.settimeout(10)
    reader = conn.makefile("rb")
    rss_before = _rss_kb(runner)
    cases = 0

    @settings(
        max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(lines)
    def one(line: bytes) -> None:
        nonlocal cases
        if not _safe(line) or not line.strip():
            return
        conn.sendall(line + b"\n")
        msg = json.loads(reader.readline())
        while "event" in msg:  # a fuzzed subscribe may have turned events on
            msg = json.loads(reader.readline())
        assert ("result" in msg) != ("error" in msg)
        if "error" in msg:
            assert isinstance(msg["error"]["code"], str) and isinstance(
                msg["error"]["message"], str
            )
        cases += 1

    one()
    print(f"\n{cases} fuzzed requests answered on one connection")
    assert cases > 1000
    # Over-long line: error, then closed; a second client is served throughout.
    with ipc_client.IPCClient(path) as other:
        conn.sendall(b"{" + b" " * (proto.MAX_LINE + 100))
        msg = json.loads(reader.readline())
        assert msg["error"]["code"] == proto.LINE_TOO_LONG
        assert reader.readline() == b""
        assert other.call("ping") == "pong"
    conn.close()
    # Many connections at once, and half lines then disconnect.
    socks = []
    for i in range(100):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b'{"id": 1, "method": "pi' if i % 2 else b"garbage without end")
        socks.append(s)
    assert ipc_client.call(path, "ping") == "pong"
    for s in socks:
        s.close()
    # A subscriber that never reads while the runner publishes.
    lazy = socket.socket(socket.AF_UNIX)
    lazy.connect(path)
    lazy.sendall(
        b'{"id": 1, "method": "subscribe", "params": {"topics": ["status", "qmp-event"]}}\n'
    )

    def flip() -> None:
        for _ in range(150):  # STOP/RESUME events and status changes nobody reads
            manager.qmp("fz", "stop")
            manager.qmp("fz", "cont")

    flood = threading.Thread(target=flip)
    flood.start()
    flood.join(120)
    assert ipc_client.call(path, "ping") == "pong"
    lazy.close()
    assert manager.qmp("fz", "query-status")["running"] is True
    assert _rss_kb(runner) - rss_before < 30_000, "runner memory grew under fuzzing"
