"""What the runner answers when asked to act on a QEMU that is not up: the same words the CLI uses
when the store already says so, whichever of the two notices first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from maqet_tui.protocol import wire as proto
from runner.api import RunnerAPI
from runner.ipc_server import Connection, RequestError


@pytest.mark.parametrize("status", ["stopped", "crashed", "stopping", "starting"])
@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("pause", {}),
        ("resume", {}),
        ("qmp", {"command": "query-status"}),
        ("console-write", {"data": "x"}),
        ("guest-exec", {"argv": ["true"]}),
    ],
)
async def test_a_runner_whose_qemu_is_not_up_says_not_running_with_the_status(
    status: str, method: str, params: dict[str, Any]
) -> None:
    runner = SimpleNamespace(name="t1", status=status, console=object(), guest=None)
    api = RunnerAPI(cast(Any, runner))
    with pytest.raises(RequestError) as info:
        await api.handle(cast(Connection, None), method, params)
    assert info.value.code == proto.NOT_RUNNING
    assert str(info.value) == f"VM 't1' is not running (status: {status})"


async def test_a_vm_without_an_agent_channel_answers_the_empty_guest() -> None:
    runner = SimpleNamespace(name="t1", status="running", console=None, guest=None)
    api = RunnerAPI(cast(Any, runner))
    assert await api.handle(cast(Connection, None), "guest", {}) == proto.no_guest()
