"""The front ends' side of the guest agent (core.guest_agent): exec's request and answer, and the
`guest` object kept to its documented shape whatever a runner sends."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from maqet_tui.common.errors import MaqetError
from maqet_tui.core.guest_agent import ExecResult, _checked, exec_params, exec_result, guest_info

NO_GUEST = {"agent": False, "ips": [], "hostname": None, "os": None}


def result(**kw: Any) -> ExecResult:
    base: dict[str, Any] = {
        "exitcode": None,
        "signal": None,
        "out": b"",
        "err": b"",
        "out_truncated": False,
        "err_truncated": False,
    }
    return ExecResult(**{**base, **kw})


def test_the_exit_status_is_the_commands_or_128_plus_the_signal() -> None:
    assert result(exitcode=0).status == 0
    assert result(exitcode=3).status == 3
    assert result(signal=15).status == 143
    assert result().status == 1  # neither: a failure all the same


def test_exec_params() -> None:
    assert exec_params(["sh", "-c", "exit 3"], 5) == {
        "path": "sh",
        "args": ["-c", "exit 3"],
        "timeout": 5,
    }
    assert exec_params(["cat"], 5, b"\x00\xff")["input"] == base64.b64encode(b"\x00\xff").decode()
    for argv, timeout in (([], 5.0), ([""], 5.0), (["a\0b"], 5.0), (["ls"], 0.0), (["ls"], 1e9)):
        with pytest.raises(MaqetError):
            exec_params(argv, timeout)


def test_exec_result_decodes_the_output_bytes() -> None:
    answer = {
        "exitcode": 0,
        "signal": None,
        "out": base64.b64encode(b"\xff\xferaw").decode(),
        "err": "",
        "out_truncated": True,
        "err_truncated": False,
    }
    r = exec_result(answer)
    assert (r.exitcode, r.out, r.err, r.out_truncated, r.err_truncated) == (
        0,
        b"\xff\xferaw",
        b"",
        True,
        False,
    )
    assert exec_result({"out": "not base64!", "exitcode": "3"}) == result()
    with pytest.raises(MaqetError):
        exec_result(["not", "an", "object"])


def test_the_guest_object_keeps_its_shape() -> None:
    good = {"agent": True, "ips": ["10.0.2.15"], "hostname": "h", "os": "Debian"}
    assert _checked(good) == good
    assert _checked(None) == NO_GUEST
    assert _checked({"agent": 1, "ips": [1, "a"], "hostname": 5, "os": []}) == {
        **NO_GUEST,
        "ips": ["a"],
    }


def test_guest_info_asks_no_runner_for_a_vm_without_an_agent_or_not_running() -> None:
    # No socket exists at this path: an attempt to ask would fail the call, not return defaults.
    vm = {"status": "running", "socket_path": "/nonexistent/x.sock", "config": {"agent": False}}
    assert guest_info(vm) == NO_GUEST
    stopped = {**vm, "status": "stopped", "config": {"agent": True}}
    assert guest_info(stopped) == NO_GUEST
    # A running VM whose socket is gone: the runner cannot answer, so no agent.
    assert guest_info({**vm, "config": {"agent": True}}) == NO_GUEST
