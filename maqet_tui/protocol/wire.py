"""The runner socket's wire format (architecture.md, "IPC contract"), shared by both ends.

One JSON object per line, UTF-8, at most 1 MiB a line. Kept dependency-free so the runner and the
CLI import it for the cost of `json`.
"""

from __future__ import annotations

import json
from typing import Any

# -- limits -------------------------------------------------------------------------------------
MAX_LINE = 1 << 20
"""Bytes in one line, either way; a longer one ends the connection (after LINE_TOO_LONG from the
runner)."""
STOP_TIMEOUT_DEFAULT = 30.0
"""Seconds `stop` waits for the guest to power down when no `timeout` is given."""
STOP_TIMEOUT_MAX = 3600.0
"""The largest `timeout` `stop` accepts (seconds; 0 is the least)."""
CONSOLE_WRITE_MAX = 64 * 1024
"""Characters of `data` in one `console-write`."""
QMP_TIMEOUT_DEFAULT = 10.0
"""Seconds the runner waits for QEMU to answer a `qmp` request without its own `timeout`."""
QMP_TIMEOUT_MAX = 600.0
"""A `qmp` request's own `timeout` is capped here (a live snapshot of a large guest)."""

EXEC_TIMEOUT_DEFAULT = 60.0
"""Seconds a `guest-exec` waits for the command to finish when no `timeout` is given."""
EXEC_TIMEOUT_MAX = 3600.0
EXEC_OUTPUT_MAX = 256 * 1024
"""Bytes of stdout (and of stderr) a `guest-exec` answer carries; more is cut and flagged, which
keeps the answer (base64) well inside one line."""
EXEC_INPUT_MAX = 512 * 1024
"""Characters of base64 `input` a `guest-exec` takes."""
GUEST_QUERY_TIMEOUT = 2.0
"""Seconds `show` waits for a runner's `guest` answer before it reports the agent as absent."""

METHODS = (
    "ping",
    "status",
    "qmp",
    "stop",
    "pause",
    "resume",
    "console-write",
    "subscribe",
    "guest",
    "guest-exec",
)
TOPICS = ("status", "qmp-event", "console", "stats", "guest")
DEFAULT_TOPICS = ("status", "qmp-event", "console")
"""What `subscribe` without `topics` gets: `stats` and `guest` are asked for by name."""

# -- error codes, carried in {"error": {"code": ..., "message": ...}} --------------------------------
BAD_REQUEST = "bad-request"
LINE_TOO_LONG = "line-too-long"
UNKNOWN_METHOD = "unknown-method"
NOT_RUNNING = "not-running"
QMP_ERROR = "qmp-error"  # with "class": QEMU's error class
QEMU_TIMEOUT = "qemu-timeout"  # the runner is fine; QEMU did not answer it in time
PERMISSION_DENIED = "permission-denied"
BUSY = "busy"  # too many clients on the runner's socket
INTERNAL = "internal-error"
# The guest agent (qemu-guest-agent in a VM defined with `agent: true`), not the fleet's agent:
GUEST_AGENT_UNAVAILABLE = "guest-agent-unavailable"  # no agent channel, or nobody on it
GUEST_AGENT_TIMEOUT = "guest-agent-timeout"  # the agent, or the command it runs, missed its time
GUEST_AGENT_ERROR = "guest-agent-error"  # the agent answered an error ("class" as it gave it)
UNKNOWN_ERROR = "error"  # an error response without a code (no runner of ours sends one)

# Client side only (never on the wire): what went wrong on the way to an answer.
TIMEOUT = "timeout"  # no answer (or no accept) within the caller's timeout
CLOSED = "closed"  # the connection ended: the runner went away or closed it
IPC_ERROR = "ipc-error"  # cannot connect for another reason (common.errors.IPCError's default)
# The runner accepted the request but answers not even a ping (SIGSTOPped, wedged); callers that
# must finish (stop) kill it.
UNRESPONSIVE = "unresponsive"
UNREACHABLE = (NOT_RUNNING, CLOSED, TIMEOUT, IPC_ERROR, UNRESPONSIVE)
"""Codes that mean the runner could not be reached, as opposed to an answer that says no."""


def no_guest() -> dict[str, Any]:
    """The `guest` object of a VM whose agent is not connected, or that has none (the runner
    answers it, the CLI prints it)."""
    return {"agent": False, "ips": [], "hostname": None, "os": None}


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def error(req_id: Any, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"id": req_id, "error": {"code": code, "message": message, **extra}}


def error_text(error: object) -> tuple[str, str]:
    """(code, text) of the `error` member of a response, for an exception: QMP errors are
    prefixed with QEMU's error class; anything malformed still gives two strings."""
    if not isinstance(error, dict):
        return UNKNOWN_ERROR, str(error) if error is not None else "error"
    code = error.get("code")
    code = code if isinstance(code, str) and code else UNKNOWN_ERROR
    text = str(error.get("message", "error"))
    cls = error.get("class")
    if code == QMP_ERROR and cls:
        text = f"{cls}: {text}"
    return code, text


def parse_request(line: bytes) -> tuple[Any, str, dict[str, Any]]:
    """Decode one request line; raises ValueError with a message fit for an error response."""
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("a request must be a JSON object")
    method = obj.get("method")
    if not isinstance(method, str):
        raise ValueError("a request needs a string 'method'")
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValueError("'params' must be an object")
    req_id = obj.get("id")
    if not (req_id is None or isinstance(req_id, (int, str))) or isinstance(req_id, bool):
        raise ValueError("'id' must be an integer, a string or null")
    return req_id, method, params
