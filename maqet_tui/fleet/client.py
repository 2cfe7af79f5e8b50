"""The local end of `maqet-tui agent --stdio` over ssh: one session, one ssh process.

Requests are answered by id; events that arrive meanwhile go to the caller's callback. The hello
is written together with the first request (no extra round trip) and the agent's hello is checked
before its first answer. When ssh ends before the agent spoke, the error says why in ssh's words
(ssh.explain): unreachable, authentication, no maqet-tui there.

ssh's stderr goes to an unlinked temporary file, not a pipe: a ControlPersist master forked by
this ssh could hold a pipe's write end for a minute, and reading it to its end would wait as long.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from maqet_tui import __version__
from maqet_tui.common.errors import MaqetError
from maqet_tui.common.paths import Paths
from maqet_tui.fleet.hostspec import HostSpec, remote_command
from maqet_tui.fleet.ssh import base_argv, connect_timeout, explain
from maqet_tui.protocol import agent as ap
from maqet_tui.protocol import wire

EventHandler = Callable[[dict[str, Any]], None]
HELLO_GRACE = 30.0
"""Seconds, beyond ssh's connect timeout, for the remote maqet-tui to start and say hello."""


class HostError(MaqetError):
    """A host could not be used: the message names it and says why in one line."""


class RemoteError(MaqetError):
    """The agent answered a request with an error (`code` as on the wire; `field` the definition
    key a `failed` answer is about, when it gives one, for a form to place it)."""

    def __init__(
        self, message: str, code: str, field: str | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.detail = message if detail is None else detail
        """The agent's own words, without the host's label in front."""

    @classmethod
    def of(cls, label: str, error: object) -> RemoteError:
        """From the `error` member of an answer of the host `label`."""
        code, text = wire.error_text(error)
        field = error.get("field") if isinstance(error, dict) else None
        return cls(f"host {label}: {text}", code, field if isinstance(field, str) else None, text)


class AgentSession:
    def __init__(self, spec: HostSpec, paths: Paths) -> None:
        self.spec = spec
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        argv = [*base_argv(spec, paths), remote_command(spec, "agent", "--stdio")]
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err
            )
        except OSError as exc:
            self._err.close()
            raise HostError(
                f"host {spec.label}: cannot run ssh ({exc.strerror}): install the OpenSSH "
                "client (Debian: openssh-client)"
            ) from None
        self._buf = b""
        self._ids = 0
        self._greeted = False
        self.send(ap.hello(__version__))

    # -- plumbing --------------------------------------------------------------------------------
    def send(self, obj: dict[str, Any]) -> None:
        """Write one line (a gone ssh is noticed by the next read, which says why)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(wire.encode(obj))
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # ssh is gone: the read that follows says why

    def _ssh_failure(self) -> HostError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._err.seek(0)
        text = self._err.read().decode(errors="replace")
        status = self.proc.returncode if self.proc.returncode is not None else 255
        return HostError(explain(self.spec, status, text))

    def read_message(self, deadline: float | None) -> dict[str, Any]:
        """The next line as an object; HostError when ssh ended (in ssh's words), the deadline
        (a time.monotonic() value) passed, or the line is not a JSON object."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            line, nl, rest = self._buf.partition(b"\n")
            if nl:
                self._buf = rest
                try:
                    msg = json.loads(line)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise HostError(
                        f"host {self.spec.label}: the agent sent something that is not "
                        f"JSON: {line[:80]!r}"
                    ) from None
                if not isinstance(msg, dict):
                    raise HostError(f"host {self.spec.label}: the agent sent {line[:80]!r}")
                return msg
            if len(self._buf) > wire.MAX_LINE:
                raise HostError(f"host {self.spec.label}: the agent sent an over-long line")
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                raise HostError(
                    f"host {self.spec.label}: no answer from the agent within "
                    f"{connect_timeout() + HELLO_GRACE:g} s"
                )
            chunk = os.read(fd, 65536)
            if not chunk:
                raise self._ssh_failure()
            self._buf += chunk

    def greet(self) -> None:
        """Read and check the agent's hello (HostError naming both versions on a mismatch)."""
        deadline = time.monotonic() + connect_timeout() + HELLO_GRACE
        msg = self.read_message(deadline)
        why = ap.check_hello(msg, ap.my_protocol(), f"the agent on host {self.spec.label}")
        if why is not None:
            raise HostError(why)
        self._greeted = True

    # -- API -------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        on_event: EventHandler | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request and return its result; events until then go to `on_event`."""
        self._ids += 1
        req_id = self._ids
        self.send({"id": req_id, "method": method, "params": params or {}})
        if not self._greeted:
            self.greet()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            msg = self.read_message(deadline)
            if "event" in msg:
                if on_event is not None:
                    on_event(msg)
                continue
            if msg.get("id") != req_id and msg.get("id") is not None:
                continue
            if "error" in msg:
                raise RemoteError.of(self.spec.label, msg["error"])
            return msg.get("result")

    def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        """The next pushed event (after `subscribe`); HostError when the connection ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            msg = self.read_message(deadline)
            if "event" in msg:
                return msg

    def close(self) -> None:
        """End this session's channel (the shared connection stays for the next command)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()

    def __enter__(self) -> AgentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
