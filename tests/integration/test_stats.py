"""The runner's `stats` topic against a real (tiny) QEMU: live samples, and history on subscribe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from maqet_tui.core import ipc_client
from maqet_tui.core.manager import Manager
from runner.stats import INTERVAL_ENV

TinyVM = Callable[..., dict[str, Any]]


def next_stats(client: ipc_client.IPCClient) -> dict[str, Any]:
    while True:
        msg = client.read_message(timeout=10)
        if msg.get("event") == "stats":
            data: dict[str, Any] = msg["data"]
            return data


def test_stats_are_published_and_replayed(
    manager: Manager, tiny_vm: TinyVM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0.1")  # read by the runner
    tiny_vm("vm1")
    vm = manager.start("vm1")
    with ipc_client.IPCClient(vm["socket_path"], timeout=10) as sub:
        assert sub.call("subscribe", {"topics": ["stats"]}) == {"topics": ["stats"]}
        first = next_stats(sub)
        assert first["replay"] is True and isinstance(first["samples"], list)
        live = [next_stats(sub) for _ in range(3)]
    for sample in live:
        assert "replay" not in sample
        assert sample["cpu"] >= 0 and sample["rss"] > 1 << 20  # QEMU with 64 MiB of guest
        assert sample["disk_read"] is not None and sample["io_write"] is not None
    with ipc_client.IPCClient(vm["socket_path"], timeout=10) as late:
        late.call("subscribe", {"topics": ["stats"]})
        replay = next_stats(late)
    assert replay["replay"] is True
    times = [s["t"] for s in replay["samples"]]
    assert {s["t"] for s in live} <= set(times) and times == sorted(times)
    # Without `topics`, a subscriber gets what it always did: no stats.
    with ipc_client.IPCClient(vm["socket_path"], timeout=10) as plain:
        assert "stats" not in plain.call("subscribe", {})["topics"]
