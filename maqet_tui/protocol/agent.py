"""The agent protocol (`maqet-tui agent --stdio`, spoken over SSH): the handshake and the names
both ends share. Requests, results, errors and events have the runner socket's shapes (wire.py).

Each end writes its hello line first, without waiting for the other's: a client can send its hello
and its first request in one write, so the handshake costs no extra round trip. A peer whose major
protocol version differs is refused by both ends, each naming both versions.
"""

from __future__ import annotations

import os
from typing import Any

PROTOCOL = "1.3"
"""MAJOR.MINOR: a new MINOR only adds (methods, fields, events); a new MAJOR breaks."""
HELLO = "maqet-tui"
PROTOCOL_ENV = "MAQET_TUI_AGENT_PROTOCOL"
"""Tests only: makes this process claim another protocol version (to prove a mismatch is
refused on both sides)."""

METHODS = ("ping", "list", "show", "run", "subscribe", "events", "follow", "set")
SINCE = {"events": 1, "follow": 2, "set": 3}
"""The MINOR that added a method: 1.1 `events` (the TUI's Events pane for a VM on another host),
1.2 `follow` (its Log and Stats tabs), 1.3 `set` (its edit form). The others are 1.0's."""
VERSION_MISMATCH = "version-mismatch"
FAILED = "failed"
"""A request that failed for a reason the message gives (a MaqetError on the agent's side)."""
EXIT_MISMATCH = 3
"""The agent's exit status after refusing a peer's major version."""


def my_protocol() -> str:
    return os.environ.get(PROTOCOL_ENV) or PROTOCOL


def methods(protocol: str) -> tuple[str, ...]:
    """The methods an agent speaking `protocol` serves: an agent made to claim an older MINOR
    (PROTOCOL_ENV) refuses what came later, as an older maqet-tui would."""
    _major, _dot, minor = protocol.partition(".")
    mine = int(minor) if minor.isdigit() else 0
    return tuple(m for m in METHODS if SINCE.get(m, 0) <= mine)


def hello(version: str) -> dict[str, Any]:
    return {"hello": HELLO, "protocol": my_protocol(), "version": version}


def major(protocol: object) -> str | None:
    """The MAJOR of a "MAJOR.MINOR" string, None when it is not one."""
    if not isinstance(protocol, str):
        return None
    head, dot, tail = protocol.partition(".")
    return head if head.isdigit() and dot and tail.isdigit() else None


def check_hello(msg: object, mine: str, peer: str) -> str | None:
    """None when `msg` is a hello this end can talk to; otherwise why not, in words naming both
    ends' versions (`peer` says who the other end is: "the agent on host 'lab2'")."""
    if not isinstance(msg, dict) or msg.get("hello") != HELLO:
        return f"{peer} did not answer with a maqet-tui agent hello (got {str(msg)[:80]!r})"
    theirs = msg.get("protocol")
    if major(theirs) is None or major(theirs) != major(mine):
        v = msg.get("version")
        return (
            f"{peer} speaks agent protocol {theirs}"
            + (f" (maqet-tui {v})" if isinstance(v, str) else "")
            + f", this maqet-tui speaks {mine}: upgrade one side so the major versions match"
        )
    return None
