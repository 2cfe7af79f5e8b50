"""The agent's `follow`: one VM of this host watched for a front end elsewhere (the TUI's Log and
Stats tabs of a VM it shows from another machine).

Its runner log is followed by offset like the local Log pane does (core/logfile.py): the tail
first, then only what was appended, as `log` events, each at most LOG_CHUNK bytes of the file.
While the VM is live, its runner's `stats` topic is relayed as `stats` events (the runner's
replay first); a new runner (the VM restarted) is subscribed to afresh. Nothing is polled over
the network: the agent checks the file and the store here and pushes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from maqet_tui.common.errors import IPCError, NotFoundError
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.logfile import Follower
from maqet_tui.protocol import wire

if TYPE_CHECKING:
    from maqet_tui.core.manager import Manager

Send = Callable[[dict[str, Any]], None]
INTERVAL = 0.25
"""Seconds between looks at the log file and the store's version (as the local Log pane)."""
ROW_EVERY = 2.0
"""Seconds between re-reads of the VM's row even without a store change (a runner that died)."""
LOG_CHUNK = 128 * 1024
"""Bytes of the log in one event: even if every byte were escaped as \\u00XX, the line stays
well inside the protocol's 1 MiB."""
Key = tuple[str, Any]


class Follow:
    def __init__(self, send: Send, manager: Callable[[], Manager], vm_id: str) -> None:
        self.vm_id = vm_id
        self._send = send
        self._manager = manager
        self._stop = threading.Event()
        self._relay: _StatsRelay | None = None
        self._thread = threading.Thread(target=self._run, name="follow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop following; returns once no more events of this VM will be sent."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from maqet_tui.core.watch import StoreProbe, release_thread

        m = self._manager()
        probe = StoreProbe(m.paths.db)
        log = Follower(m.paths.runner_log(self.vm_id), chunk=LOG_CHUNK)
        version: int | None = None
        last_read = 0.0
        try:
            while not self._stop.is_set():
                try:
                    step = log.step()
                except OSError:
                    step = None  # unreadable for now: tried again next turn
                if step is not None:
                    data = {"vm": self.vm_id, "text": step[0], "reset": step[1]}
                    self._send({"event": "log", "data": data})
                try:
                    now, seen = time.monotonic(), probe.version()
                    if seen != version or now - last_read >= ROW_EVERY:
                        version, last_read = seen, now
                        self._runner(m.get(self.vm_id))
                except NotFoundError:
                    self._runner(None)  # removed: its log goes with it (the step says so)
                except Exception:
                    version = None  # a busy store: next turn
                self._stop.wait(INTERVAL)
        finally:
            self._runner(None)
            release_thread()

    def _runner(self, vm: dict[str, Any] | None) -> None:
        """Relay the stats of the VM's current runner, if it has one; a relay that ended while
        the row still names its runner (a refused or busy socket) is tried again here."""
        key: Key | None = None
        if vm is not None and vm.get("status") in LIVE and vm.get("socket_path"):
            key = (str(vm["socket_path"]), vm.get("runner_pid"))
        relay = self._relay
        if relay is not None and relay.key == key and relay.alive():
            return
        if relay is not None:
            relay.stop()
            self._relay = None
        if key is not None and not self._stop.is_set():
            self._relay = _StatsRelay(key, self.vm_id, self._send)


class _StatsRelay:
    """One runner's `stats` subscription, each event passed on with the VM's id."""

    def __init__(self, key: Key, vm_id: str, send: Send) -> None:
        self.key = key
        self._vm_id = vm_id
        self._send = send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats-relay", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from maqet_tui.core.ipc_client import IPCClient

        try:
            with IPCClient(self.key[0], timeout=5) as client:
                client.send("subscribe", {"topics": ["stats"]})
                while not self._stop.is_set():
                    try:
                        msg = client.read_message(0.5)
                    except IPCError as exc:
                        if exc.code == wire.TIMEOUT:
                            continue
                        return  # the runner went away: its row says what came of it
                    data = msg.get("data")
                    if msg.get("event") == "stats" and isinstance(data, dict):
                        payload = {"vm": self._vm_id, "stats": data}
                        self._send({"event": "stats", "data": payload})
        except (IPCError, OSError, ValueError):
            return  # not reachable (yet): the next look at the row tries again
