"""The runner socket's wire format (architecture.md, "IPC contract"), shared by both ends.

One JSON object per line, UTF-8, at most 1 MiB a line. Kept dependency-free so the runner and the
CLI import it for the cost of `json`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_LINE = 1 << 20
METHODS = ("ping", "status", "qmp", "stop", "pause", "resume", "console-write", "subscribe")
TOPICS = ("status", "qmp-event", "console")

# Error codes carried in {"error": {"code": ...}}.
BAD_REQUEST = "bad-request"
LINE_TOO_LONG = "line-too-long"
UNKNOWN_METHOD = "unknown-method"
NOT_RUNNING = "not-running"
QMP_ERROR = "qmp-error"
QEMU_TIMEOUT = "qemu-timeout"  # the runner is fine; QEMU did not answer it in time
PERMISSION_DENIED = "permission-denied"
INTERNAL = "internal-error"
# Client side only (never on the wire): the runner accepted the request but answers not even a
# ping (SIGSTOPped, wedged); callers that must finish (stop) kill it.
UNRESPONSIVE = "unresponsive"


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def error(req_id: Any, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"id": req_id, "error": {"code": code, "message": message, **extra}}


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
