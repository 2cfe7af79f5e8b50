"""A host for a front end that lives long (the TUI): one agent session shared by threads, and a
watch that keeps the host's VM list current and comes back by itself after a lost connection.

AgentLink reads on one thread of its own: answers go to the caller waiting for that id (any
thread may call), events to a callback. HostWatch subscribes through a link, reports every `vms`
push and every loss, and retries with a doubling backoff (1 s up to 30 s, reset by a successful
subscribe). It also keeps the one VM a front end follows (its runner log and stats, the agent's
`follow`), asking again on every new connection. Neither ever touches the VMs: a lost
connection only loses the view.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from maqet_tui.common.paths import Paths
from maqet_tui.fleet.client import AgentSession, HostError, RemoteError
from maqet_tui.fleet.hostspec import HostSpec
from maqet_tui.protocol import wire

BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0


class _Pending:
    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_event = on_event  # this request's own events (`run`'s output)
        self.done = threading.Event()
        self.msg: dict[str, Any] | None = None
        self.error: HostError | None = None


class AgentLink:
    def __init__(
        self,
        spec: HostSpec,
        paths: Paths,
        on_event: Callable[[dict[str, Any]], None],
        on_close: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self._session = AgentSession(spec, paths)
        self._on_event = on_event
        self._on_close = on_close
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._ids = 0
        self.closed: str | None = None  # why, once the link is down
        self._closing = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            self._session.greet()
            while True:
                msg = self._session.read_message(None)
                if "event" in msg:
                    with self._lock:
                        own = self._pending.get(msg.get("id"))  # type: ignore[arg-type]
                    if own is not None and own.on_event is not None:
                        own.on_event(msg)
                    else:
                        self._on_event(msg)
                    continue
                with self._lock:
                    waiter = self._pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
                if waiter is not None:
                    waiter.msg = msg
                    waiter.done.set()
        except HostError as exc:
            self._down(str(exc))
        except Exception as exc:  # a callback's bug must not leave the link half alive
            self._down(f"host {self.spec.label}: {type(exc).__name__}: {exc}")

    def _down(self, why: str) -> None:
        with self._lock:
            if self.closed is not None:
                return
            reason = self.closed = "closed" if self._closing else why
            waiting, self._pending = self._pending, {}
        for w in waiting.values():
            w.error = HostError(reason)
            w.done.set()
        self._on_close(reason)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 60,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any:
        """One request from any thread; HostError when the link is (or goes) down or no answer
        comes within `timeout`, RemoteError for the agent's own refusals. The events that carry
        this request's id (`run`'s output) go to `on_event` (on the reader thread)."""
        waiter = _Pending(on_event)
        with self._lock:
            if self.closed is not None:
                raise HostError(self.closed)
            self._ids += 1
            req_id = self._ids
            self._pending[req_id] = waiter
            self._session.send({"id": req_id, "method": method, "params": params or {}})
        if not waiter.done.wait(timeout):
            with self._lock:
                self._pending.pop(req_id, None)
            raise HostError(f"host {self.spec.label}: no answer to {method} within {timeout:g} s")
        if waiter.error is not None:
            raise waiter.error
        assert waiter.msg is not None
        if "error" in waiter.msg:
            raise RemoteError.of(self.spec.label, waiter.msg["error"])
        return waiter.msg.get("result")

    def close(self) -> None:
        """End the session (the host's VMs are not affected): the agent sees its stdin end,
        exits, ssh ends, and the reader sees that before the files are closed under it."""
        self._closing = True
        proc = self._session.proc
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        self._reader.join(timeout=10)
        if self._reader.is_alive():
            proc.kill()
            self._reader.join(timeout=10)
        self._session.close()
        self._down("closed")


class HostWatch:
    """`on_vms(rows)` at every push; `on_down(why)` once per lost or failed connection;
    `on_follow(event, data)` for the `log` and `stats` events of the VM followed."""

    def __init__(
        self,
        spec: HostSpec,
        paths: Paths,
        on_vms: Callable[[list[dict[str, Any]]], None],
        on_down: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.paths = paths
        self.on_vms = on_vms
        self.on_down = on_down
        self.link: AgentLink | None = None
        self.retry_in = BACKOFF_MIN
        """Seconds until the next attempt, as of the latest on_down (for "retrying in N s")."""
        self.on_follow: Callable[[str, dict[str, Any]], None] = lambda event, data: None
        self.following: str | None = None
        """The id of the VM to follow (None: none); `send_follow` tells the agent."""
        self.follows = True
        """False once the agent refused `follow` (a maqet-tui of protocol 1.1 there)."""
        self._follow_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 60,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any:
        link = self.link
        if link is None:
            raise HostError(f"host {self.spec.label}: not connected")
        return link.call(method, params, timeout, on_event)

    def send_follow(self) -> bool:
        """Tell the agent to follow `following` now (a blocking round trip; the latest value
        is what is sent, whichever thread set it). Not connected: the next connection sends it.
        Returns `follows`."""
        with self._follow_lock:
            link = self.link
            if link is None or not self.follows:
                return self.follows
            try:
                link.call("follow", {"name": self.following})
            except RemoteError as exc:
                if exc.code == wire.UNKNOWN_METHOD:
                    self.follows = False
                # else: the VM went away meanwhile; its rows say so with the next push
            except HostError:
                pass  # lost: the next connection asks again
            return self.follows

    def _event(self, msg: dict[str, Any]) -> None:
        data = msg.get("data")
        event = msg.get("event")
        if event == "vms" and isinstance(data, dict):
            self.on_vms(list(data.get("vms") or []))
        elif event in ("log", "stats") and isinstance(data, dict):
            self.on_follow(str(event), data)

    def _run(self) -> None:
        delay = BACKOFF_MIN
        while not self._stop.is_set():
            lost = threading.Event()
            why: list[str] = []

            def closed(reason: str, lost: threading.Event = lost, why: list[str] = why) -> None:
                why.append(reason)
                lost.set()

            try:
                link = AgentLink(self.spec, self.paths, self._event, closed)
            except HostError as exc:
                why.append(str(exc))
                lost.set()
            else:
                self.follows = True  # the host's maqet-tui may have changed meanwhile
                self.link = link
                try:
                    link.call("subscribe")
                    delay = BACKOFF_MIN  # it worked: the next loss retries soon again
                    if self.following is not None:
                        self.send_follow()
                except (HostError, RemoteError):
                    pass
                while not lost.wait(0.5):
                    if self._stop.is_set():
                        link.close()
                        return
                self.link = None
                link.close()
            if self._stop.is_set():
                return
            self.retry_in = delay
            self.on_down(why[0] if why else "connection lost")
            self._stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    def stop(self) -> None:
        """Stop watching and close the session; returns once the watch thread has ended."""
        self._stop.set()
        self._thread.join(timeout=15)
