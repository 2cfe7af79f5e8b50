"""What the runner's fake QEMUs share: QEMU's greeting, and the requests read off the stream
(qemu.qmp writes JSON without newlines, so they are stream-parsed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}


def send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write(json.dumps(obj).encode() + b"\r\n")


async def requests(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """Each request a client sends, until it closes the connection."""
    buf, dec = "", json.JSONDecoder()
    while chunk := await reader.read(4096):
        buf += chunk.decode()
        while buf.strip():
            try:
                req, end = dec.raw_decode(buf.lstrip())
            except json.JSONDecodeError:
                break
            buf = buf.lstrip()[end:]
            yield req
