"""A fake qemu-guest-agent on the far end of a socketpair, for the runner's agent client.

It behaves as the real agent does where the runner depends on it: a 0xFF byte resets its JSON
parser; `guest-sync-delimited` is answered with 0xFF before the reply; commands are answered one
at a time, in order, and not at all while `running` is clear (a hung guest); `guest-exec` output
comes back base64 from `guest-exec-status` once the command has "exited".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], Any]


class FakeAgent:
    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.running.set()
        self.seen: list[str] = []
        self.before_sync_reply = b""  # written just before a sync's own marker (stale output)
        self.handlers: dict[str, Handler] = {
            "guest-ping": lambda a: {},
            "guest-info": lambda a: {"version": "7.2.0", "supported_commands": []},
            "guest-get-host-name": lambda a: {"host-name": "vm1"},
            "guest-get-osinfo": lambda a: {"pretty-name": "Debian GNU/Linux 12 (bookworm)"},
            "guest-network-get-interfaces": lambda a: INTERFACES,
            "guest-exec": self._exec,
            "guest-exec-status": self._exec_status,
        }
        self.exec_runs: dict[int, dict[str, Any]] = {}
        self.polls_until_exit = 2
        self.exec_outcome: dict[str, Any] = {"exitcode": 0, "out": b"hello\n", "err": b""}
        self._writer: asyncio.StreamWriter | None = None

    def _exec(self, args: dict[str, Any]) -> Any:
        path = args["path"]
        if path == "nosuch":
            return Error(
                "GenericError",
                "Guest agent command failed, error was 'Failed to execute child process "
                "\u201cnosuch\u201d (No such file or directory)'",
            )
        pid = 1000 + len(self.exec_runs)
        self.exec_runs[pid] = {"args": args, "polls": 0}
        return {"pid": pid}

    def _exec_status(self, args: dict[str, Any]) -> Any:
        run = self.exec_runs[args["pid"]]
        run["polls"] += 1
        if run["polls"] <= self.polls_until_exit:
            return {"exited": False}
        out = self.exec_outcome
        reply: dict[str, Any] = {"exited": True}
        if "exitcode" in out:
            reply["exitcode"] = out["exitcode"]
        if "signal" in out:
            reply["signal"] = out["signal"]
        reply["out-data"] = base64.b64encode(out["out"]).decode()
        if out["err"]:
            reply["err-data"] = base64.b64encode(out["err"]).decode()
        return reply

    async def write(self, data: bytes) -> None:
        """Bytes from the "guest", outside any reply (stale output)."""
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def serve(self, sock: socket.socket) -> None:
        with contextlib.suppress(ConnectionError):  # the runner's end closed (test over)
            await self._serve(sock)

    async def _serve(self, sock: socket.socket) -> None:
        reader, self._writer = await asyncio.open_connection(sock=sock, limit=1 << 24)
        buf = b""
        dec = json.JSONDecoder()
        while chunk := await reader.read(65536):
            buf += chunk
            while True:
                # Up to the next 0xFF: complete commands are run, a partial one is dropped there
                # (the marker resets the parser), as the real agent does.
                ff = buf.find(b"\xff")
                text = (buf if ff < 0 else buf[:ff]).decode(errors="replace").lstrip()
                try:
                    req, end = dec.raw_decode(text) if text else (None, 0)
                except json.JSONDecodeError:
                    req = None
                if req is None:
                    if ff < 0:
                        buf = buf if text else b""
                        break
                    buf = buf[ff + 1 :]
                    continue
                buf = text[end:].encode() + (buf[ff:] if ff >= 0 else b"")
                await self.running.wait()
                await self._answer(req)
        self._writer.close()

    async def _answer(self, req: dict[str, Any]) -> None:
        assert self._writer is not None
        cmd, args = req.get("execute", "?"), req.get("arguments") or {}
        self.seen.append(cmd)
        if cmd == "guest-sync-delimited":
            data = self.before_sync_reply + b"\xff" + json.dumps({"return": args["id"]}).encode()
        else:
            handler = self.handlers.get(cmd)
            result = handler(args) if handler else Error("CommandNotFound", f"no {cmd}")
            if isinstance(result, bytes):
                data = result
            elif isinstance(result, Error):
                data = json.dumps({"error": {"class": result.cls, "desc": result.desc}}).encode()
            else:
                data = json.dumps({"return": result}).encode()
        self._writer.write(data + b"\n")
        await self._writer.drain()


class Error:
    def __init__(self, cls: str, desc: str) -> None:
        self.cls, self.desc = cls, desc


INTERFACES = [
    {
        "name": "lo",
        "ip-addresses": [
            {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
            {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
        ],
    },
    {
        "name": "enp0s2",
        "hardware-address": "52:54:00:12:34:56",
        "ip-addresses": [
            {"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24},
            {"ip-address-type": "ipv6", "ip-address": "fec0::5054:ff:fe12:3456", "prefix": 64},
            {"ip-address-type": "ipv6", "ip-address": "fe80::5054:ff:fe12:3456", "prefix": 64},
        ],
    },
]
