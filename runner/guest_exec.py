"""The runner's guest IPC methods: `guest` (the agent's view of the guest) and `guest-exec`.

`guest-exec` starts the command through the agent (`guest-exec`, output captured), then polls
`guest-exec-status` until it has exited or the caller's timeout passes. Each agent exchange has
its own short deadline and the channel is shared fairly: the runner's interface polling goes on
between two polls of a long command. Output comes back base64 (the bytes as the guest wrote
them), cut at EXEC_OUTPUT_MAX bytes a stream so the answer stays one bounded line.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from typing import TYPE_CHECKING, Any

from maqet_tui.protocol import wire as proto

from .guest_agent_link import (
    AgentClosed,
    AgentError,
    AgentFailure,
    AgentReplyTooLarge,
    AgentTimeout,
)
from .guest_watch import CALL_TIMEOUT
from .ipc_server import RequestError

if TYPE_CHECKING:
    from .guest_watch import GuestWatch

POLL_FIRST = 0.05  # a short command is usually done by the first or second status poll
POLL_MAX = 0.5
MAX_ARGS = 1024


def _exec_params(params: dict[str, Any]) -> tuple[str, list[str], str | None, float]:
    path, args = params.get("path"), params.get("args", [])
    if not isinstance(path, str) or not path or "\0" in path:
        raise RequestError(proto.BAD_REQUEST, "'path' must be a non-empty string")
    if (
        not isinstance(args, list)
        or len(args) > MAX_ARGS
        or not all(isinstance(a, str) and "\0" not in a for a in args)
    ):
        raise RequestError(
            proto.BAD_REQUEST, f"'args' must be a list of at most {MAX_ARGS} strings"
        )
    data = params.get("input")
    if data is not None:
        if not isinstance(data, str) or len(data) > proto.EXEC_INPUT_MAX:
            raise RequestError(
                proto.BAD_REQUEST,
                f"'input' must be base64 text of at most {proto.EXEC_INPUT_MAX} characters",
            )
        try:
            base64.b64decode(data, validate=True)
        except binascii.Error:
            raise RequestError(proto.BAD_REQUEST, "'input' is not valid base64") from None
    timeout = params.get("timeout", proto.EXEC_TIMEOUT_DEFAULT)
    if (
        not isinstance(timeout, (int, float))
        or isinstance(timeout, bool)
        or not 0 < timeout <= proto.EXEC_TIMEOUT_MAX
        or math.isnan(timeout)
    ):
        raise RequestError(
            proto.BAD_REQUEST,
            f"'timeout' must be a number of seconds (0..{proto.EXEC_TIMEOUT_MAX:g})",
        )
    return path, args, data, float(timeout)


async def guest_exec(watch: GuestWatch | None, vm_name: str, params: dict[str, Any]) -> Any:
    """The IPC method: {path, args?, input?, timeout?} → {exitcode, signal, out, err,
    out_truncated, err_truncated} (out and err base64)."""
    path, args, data, timeout = _exec_params(params)
    if watch is None:
        raise RequestError(
            proto.GUEST_AGENT_UNAVAILABLE,
            f"VM {vm_name!r} has no guest agent channel (define it with agent: true, e.g. "
            f"maqet-tui set {vm_name} agent=true, and restart it)",
        )
    if not watch.connected:
        raise RequestError(
            proto.GUEST_AGENT_UNAVAILABLE,
            f"the guest agent of {vm_name!r} is not connected "
            "(is qemu-guest-agent installed and running?)",
        )
    try:
        return await run_command(watch, path, args, data, timeout)
    except AgentTimeout as exc:
        late = " (the guest may still run the command)" if exc.command == "guest-exec" else ""
        raise RequestError(proto.GUEST_AGENT_TIMEOUT, f"{vm_name!r}: {exc}{late}") from None
    except CommandTimeout as exc:
        raise RequestError(proto.GUEST_AGENT_TIMEOUT, f"{vm_name!r}: {exc}") from None
    except AgentClosed:
        raise RequestError(proto.NOT_RUNNING, f"VM {vm_name!r} stopped") from None
    except AgentError as exc:
        if exc.command == "guest-exec":
            raise RequestError(
                proto.GUEST_AGENT_ERROR,
                f"cannot run {path!r} in {vm_name!r}: {_plain(exc.desc)}",
                **{"class": exc.error_class},
            ) from None
        raise RequestError(
            proto.GUEST_AGENT_ERROR, f"{vm_name!r}: {exc}", **{"class": exc.error_class}
        ) from None
    except AgentReplyTooLarge as exc:
        raise RequestError(
            proto.GUEST_AGENT_ERROR,
            f"{vm_name!r}: the output of {path!r} was too large to collect ({exc.size} bytes of "
            f"agent reply, at most {exc.limit}); redirect it to a file in the guest",
        ) from None
    except AgentFailure as exc:
        raise RequestError(proto.GUEST_AGENT_ERROR, f"{vm_name!r}: {exc}") from None


def _plain(desc: str) -> str:
    """The agent wraps the spawn error: keep GLib's own words, which say what was wrong."""
    prefix = "Guest agent command failed, error was '"
    if desc.startswith(prefix) and desc.endswith("'"):
        return desc[len(prefix) : -1]
    return desc


class CommandTimeout(AgentFailure):
    """The command was started and is still running when its time is up."""

    def __init__(self, path: str, timeout: float, pid: int) -> None:
        super().__init__(
            f"{path!r} did not finish within {timeout:g} s (it may still run in the guest, "
            f"pid {pid})"
        )


async def run_command(
    watch: GuestWatch, path: str, args: list[str], data: str | None, timeout: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    arguments: dict[str, Any] = {"path": path, "arg": args, "capture-output": True}
    if data:
        arguments["input-data"] = data
    started = await watch.link.call("guest-exec", arguments, timeout=min(CALL_TIMEOUT, timeout))
    pid = started.get("pid") if isinstance(started, dict) else None
    if not isinstance(pid, int):
        raise AgentError("guest-exec", "protocol", f"no pid in {started!r}")
    delay = POLL_FIRST
    while True:
        remaining = deadline - loop.time()
        status = await watch.link.call(
            "guest-exec-status", {"pid": pid}, timeout=max(min(CALL_TIMEOUT, remaining), 1.0)
        )
        if isinstance(status, dict) and status.get("exited"):
            return exec_result(status)
        if loop.time() + delay > deadline:
            raise CommandTimeout(path, timeout, pid)
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_MAX)


def _stream(status: dict[str, Any], key: str) -> tuple[str, bool]:
    raw = status.get(f"{key}-data")
    try:
        data = base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
    except binascii.Error:
        data = b""
    cut = len(data) > proto.EXEC_OUTPUT_MAX
    truncated = cut or bool(status.get(f"{key}-truncated"))
    return base64.b64encode(data[: proto.EXEC_OUTPUT_MAX]).decode(), truncated


def exec_result(status: dict[str, Any]) -> dict[str, Any]:
    """guest-exec-status of an exited command as the IPC answer."""
    out, out_cut = _stream(status, "out")
    err, err_cut = _stream(status, "err")
    code, sig = status.get("exitcode"), status.get("signal")
    return {
        "exitcode": code if isinstance(code, int) else None,
        "signal": sig if isinstance(sig, int) else None,
        "out": out,
        "err": err,
        "out_truncated": out_cut,
        "err_truncated": err_cut,
    }
