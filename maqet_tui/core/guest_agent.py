"""The guest agent seen from the front ends: the `guest` object of `show --json`, and `exec`.

The runner owns the agent's channel (runner/guest_guest_agent_link.py) and keeps what the agent reports
current; the front ends only ask the runner. `show` asks with a short deadline, because it must
answer whatever a guest or a runner does: a runner that does not answer in time reads as "no
agent", which is what its caller could observe anyway.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from maqet_tui.common.errors import IPCError, MaqetError
from maqet_tui.common.vmstate import QEMU_UP
from maqet_tui.core import ipc_client
from maqet_tui.protocol import wire as proto


def guest_info(vm: dict[str, Any], timeout: float = proto.GUEST_QUERY_TIMEOUT) -> dict[str, Any]:
    """`{agent, ips, hostname, os}` for a VM as `show --json` prints it (`vm` from Manager.get)."""
    if not (vm.get("config") or {}).get("agent"):
        return proto.no_guest()
    if vm.get("status") not in QEMU_UP or not vm.get("socket_path"):
        return proto.no_guest()
    try:
        answer = ipc_client.call(str(vm["socket_path"]), "guest", timeout=timeout)
    except (IPCError, OSError, ValueError):
        return proto.no_guest()
    return _checked(answer)


def _checked(answer: object) -> dict[str, Any]:
    """The runner's answer, kept to the documented shape whatever it holds."""
    if not isinstance(answer, dict):
        return proto.no_guest()
    ips = answer.get("ips")
    host, os_ = answer.get("hostname"), answer.get("os")
    return {
        "agent": answer.get("agent") is True,
        "ips": [ip for ip in ips if isinstance(ip, str)] if isinstance(ips, list) else [],
        "hostname": host if isinstance(host, str) else None,
        "os": os_ if isinstance(os_, str) else None,
    }


@dataclass(frozen=True)
class ExecResult:
    """A command run in the guest: its status and its output as the guest wrote it."""

    exitcode: int | None
    signal: int | None
    out: bytes
    err: bytes
    out_truncated: bool
    err_truncated: bool

    @property
    def status(self) -> int:
        """A shell's view of how it ended: the exit code, or 128 + the signal that ended it."""
        if self.exitcode is not None:
            return self.exitcode
        if self.signal is not None:
            return 128 + self.signal
        return 1


def exec_params(argv: list[str], timeout: float, data: bytes | None = None) -> dict[str, Any]:
    """The `guest-exec` request for `argv` (the first word is the program, looked up on the
    guest's PATH)."""
    if not argv or not argv[0]:
        raise MaqetError("exec: no command given (maqet-tui exec NAME -- COMMAND [ARG]...)")
    if any("\0" in a for a in argv):
        raise MaqetError("exec: the command must not contain NUL characters")
    if not 0 < timeout <= proto.EXEC_TIMEOUT_MAX:
        raise MaqetError(f"exec: --timeout must be 0..{proto.EXEC_TIMEOUT_MAX:g} seconds")
    params: dict[str, Any] = {"path": argv[0], "args": argv[1:], "timeout": timeout}
    if data:
        params["input"] = base64.b64encode(data).decode()
    return params


def exec_result(answer: object) -> ExecResult:
    if not isinstance(answer, dict):
        raise MaqetError(f"exec: the runner gave an unexpected answer: {answer!r:.80}")

    def raw(key: str) -> bytes:
        try:
            return base64.b64decode(str(answer.get(key) or ""), validate=True)
        except binascii.Error:
            return b""

    code, sig = answer.get("exitcode"), answer.get("signal")
    return ExecResult(
        exitcode=code if isinstance(code, int) else None,
        signal=sig if isinstance(sig, int) else None,
        out=raw("out"),
        err=raw("err"),
        out_truncated=answer.get("out_truncated") is True,
        err_truncated=answer.get("err_truncated") is True,
    )
