"""`maqet-tui agent --stdio`: this host's VMs for a maqet-tui on another host, over ssh.

JSON Lines on stdin/stdout with the runner socket's shapes (protocol/wire.py), after a hello each
way (protocol/agent.py). Methods:
- `ping` -> "pong"
- `list` -> every VM as `ls --json` prints it; `show {name}` -> one, as `show --json`
- `run {argv}` -> runs that CLI subcommand here, in this process; its output comes as
  `{"event": "output", "id": REQ, "data": {"stream": "stdout"|"stderr", "text": ...}}` events and
  the result is `{"exit": STATUS}`
- `events {name, after?, limit?}` -> the VM's recorded events with an id above `after`
  (default 0), oldest first, the newest `limit` (default 200, at most 1000) (protocol 1.1)
- `subscribe` -> `{"topics": ["vms"]}`, then `{"event": "vms", "data": {"vms": [...]}}` at once
  and on every change of the store (checked every 0.2 s here, pushed from here: the far side
  never polls over the network)
- `follow {name}` -> `{"following": ID}`, then that VM's runner log as `log` events (its tail,
  then what is appended) and its runner's samples as `stats` events (fleet/follow.py); one VM a
  session: a new `follow` replaces the last, `{"name": null}` ends it (protocol 1.2)
- `set {name, config}` -> the stopped VM's definition changed by the keys of `config` (a
  mapping; the merged whole validated there, as `Manager.set_config` does), answered with the VM
  as `show` gives it; a refusal about one key carries it as the error's `field` (protocol 1.3)

Requests run each in a thread and are answered as they finish. The protocol owns the real stdout:
file descriptor 1 is pointed at stderr, so nothing else this process or its children print can
corrupt it. stdin's end (the ssh channel closed) ends the agent; VMs are never affected.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from maqet_tui.common.errors import MaqetError
from maqet_tui.fleet import capture
from maqet_tui.fleet.follow import Follow
from maqet_tui.protocol import agent as ap
from maqet_tui.protocol import wire

if TYPE_CHECKING:
    from maqet_tui.core.manager import Manager

RunCli = Callable[[list[str]], int]
WATCH_INTERVAL = 0.2
DRAIN_GRACE = 5.0
"""Seconds the requests in flight get to finish once stdin has ended (see _drain)."""
RELIST_EVERY = 2.0
"""Seconds between full re-reads even without a store change (a runner that died unrecorded)."""


class _Out:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.fd = stream.fileno()
        self._lock = threading.Lock()

    def send(self, obj: dict[str, Any]) -> None:
        data = wire.encode(obj)
        with self._lock:
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the far side left; stdin's EOF ends us


class _BadParams(Exception):
    """A request whose params are not what its method takes (bad-request)."""


class Agent:
    def __init__(self, out: _Out, run_cli: RunCli, home: str | None) -> None:
        self.out = out
        self.run_cli = run_cli
        self.home = home
        self.busy = 0  # requests in flight
        self.idle = threading.Condition()
        self.watching = False
        self.following: Follow | None = None
        self.follow_lock = threading.Lock()

    def start(self, req_id: Any, method: str, params: dict[str, Any]) -> None:
        with self.idle:
            self.busy += 1
        threading.Thread(target=self.handle, args=(req_id, method, params), daemon=True).start()

    def _manager(self) -> Manager:
        from maqet_tui.core.manager import Manager

        return Manager(self.home)

    def handle(self, req_id: Any, method: str, params: dict[str, Any]) -> None:
        try:
            result = self._dispatch(req_id, method, params)
        except _BadParams as exc:
            self.out.send(wire.error(req_id, wire.BAD_REQUEST, str(exc)))
        except MaqetError as exc:  # the key it is about, if any, for a form on the far side
            extra = {"field": exc.field} if exc.field else {}
            self.out.send(wire.error(req_id, ap.FAILED, str(exc), **extra))
        except Exception as exc:  # a bug: one error answer, the agent keeps serving
            self.out.send(wire.error(req_id, wire.INTERNAL, f"{type(exc).__name__}: {exc}"))
        else:
            self.out.send({"id": req_id, "result": result})
        finally:
            from maqet_tui.store.models import close_db

            close_db()
            with self.idle:
                self.busy -= 1
                self.idle.notify_all()

    def _dispatch(self, req_id: Any, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return "pong"
        if method == "list":
            return self._manager().list()
        if method == "show":
            from maqet_tui.core.accel import accel_in_use

            vm = self._manager().get(str(params.get("name", "")))
            vm["accel_in_use"] = accel_in_use(vm)
            return vm
        if method == "events":
            return self._events(params)
        if method == "run":
            return {"exit": self._run(req_id, params.get("argv"))}
        if method == "subscribe":
            with self.idle:  # one watcher, however often a client subscribes
                start, self.watching = not self.watching, True
            if start:
                threading.Thread(target=self._watch, daemon=True).start()
            return {"topics": ["vms"]}
        if method == "follow":
            return self._follow(params.get("name"))
        if method == "set":
            return self._set(params)
        raise MaqetError(f"unknown method {method!r}")

    def _events(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        from maqet_tui.core.watch import StoreProbe

        after, limit = params.get("after", 0), params.get("limit", 200)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (after, limit)):
            raise _BadParams("events: 'after' and 'limit' must be integers")
        m = self._manager()
        vm = m.get(str(params.get("name", "")))
        return StoreProbe(m.paths.db).events_since(str(vm["id"]), after, max(1, min(limit, 1000)))

    def _set(self, params: dict[str, Any]) -> dict[str, Any]:
        name, config = params.get("name"), params.get("config")
        if not isinstance(name, str) or not isinstance(config, dict):
            raise _BadParams("set: 'name' must be a string and 'config' a mapping")
        return self._manager().set_config(name, config)

    def _follow(self, name: object) -> dict[str, Any]:
        if name is not None and not isinstance(name, str):
            raise _BadParams("follow: 'name' must be a string or null")
        vm_id = str(self._manager().get(name)["id"]) if name is not None else None
        new = Follow(self.out.send, self._manager, vm_id) if vm_id is not None else None
        with self.follow_lock:  # the old one ends before the new one starts: no event mixes
            if self.following is not None:
                self.following.stop()
            self.following = new
            if new is not None:
                new.start()
        return {"following": vm_id}

    def _run(self, req_id: Any, argv: object) -> int:
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise _BadParams("run: 'argv' must be a list of strings")

        def sink(stream: str, text: str) -> None:
            self.out.send(
                {"event": "output", "id": req_id, "data": {"stream": stream, "text": text}}
            )

        with capture.captured(sink):
            try:
                return int(self.run_cli(list(argv)))
            except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
                code = exc.code
                return code if isinstance(code, int) else (0 if code is None else 1)

    def _watch(self) -> None:
        from maqet_tui.core.watch import StoreProbe

        m = self._manager()
        probe = StoreProbe(m.paths.db)
        last_version: int | None = None
        last_rows: list[dict[str, Any]] | None = None
        last_read = 0.0
        while True:
            try:
                version = probe.version()
                now = time.monotonic()
                if version != last_version or now - last_read >= RELIST_EVERY:
                    last_version, last_read = version, now
                    rows = m.list()
                    if rows != last_rows:
                        last_rows = rows
                        self.out.send({"event": "vms", "data": {"vms": rows}})
            except Exception as exc:  # a store that cannot be read; the watcher keeps going
                self.out.send({"event": "vms-error", "data": {"message": str(exc)}})
            time.sleep(WATCH_INTERVAL)


def serve(run_cli: RunCli, version: str, home: str | None) -> int:
    """Serve until stdin ends; the exit status is 0, or EXIT_MISMATCH after refusing a peer."""
    if home is not None:  # the subcommands run here use it too
        os.environ["MAQET_TUI_HOME"] = home
    out = _Out(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # stray output (ours or a child's) must never reach the protocol stream
    capture.install()
    out.send(ap.hello(version))
    stdin = sys.stdin.buffer
    first = stdin.readline(wire.MAX_LINE + 1)
    if not first:
        return 0
    try:
        peer: object = json.loads(first)
    except ValueError:
        peer = None
    why = ap.check_hello(peer, ap.my_protocol(), "the client")
    if why is not None:
        out.send(wire.error(None, ap.VERSION_MISMATCH, why))
        print(f"error: {why}", file=sys.__stderr__)
        return ap.EXIT_MISMATCH
    agent = Agent(out, run_cli, home)
    served = ap.methods(ap.my_protocol())
    while True:
        line = stdin.readline(wire.MAX_LINE + 1)
        if not line:
            _drain(agent, out.fd)
            return 0
        if len(line) > wire.MAX_LINE:
            out.send(wire.error(None, wire.LINE_TOO_LONG, "line over 1 MiB"))
            return 1
        if not line.strip():
            continue
        try:
            req_id, method, params = wire.parse_request(line)
        except ValueError as exc:
            out.send(wire.error(None, wire.BAD_REQUEST, str(exc)))
            continue
        if method not in served:
            out.send(wire.error(req_id, wire.UNKNOWN_METHOD, f"unknown method {method!r}"))
            continue
        agent.start(req_id, method, params)


def _drain(agent: Agent, out_fd: int) -> None:
    """stdin ended: answer the requests in flight for up to DRAIN_GRACE seconds, while somebody
    still reads the answers (a client that only closed its side gets them). The channel gone
    altogether (the read end of stdout closed: POLLERR) ends the agent at once, and the grace
    bounds the rest: a `logs -f` never ends on its own, and the client whose end of stdin this is
    may have been killed without its ssh."""
    poller = select.poll()
    poller.register(out_fd, select.POLLERR | select.POLLHUP)
    deadline = time.monotonic() + DRAIN_GRACE
    with agent.idle:
        while agent.busy and time.monotonic() < deadline:
            if poller.poll(0):
                return
            agent.idle.wait(0.2)
