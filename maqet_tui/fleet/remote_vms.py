"""One host's VMs behind the calls a front end makes of a local Manager (start, stop, qmp, ...),
so the TUI acts on a remote row exactly as on a local one.

Every call is the CLI subcommand the user would type with `--host`, run by the agent (`run`):
the far side's checks, messages and exit status are the host's own, and the protocol needs no
method per action. A failing subcommand becomes one MaqetError with the host's `error:` line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from maqet_tui.common.errors import MaqetError

Call = Callable[..., Any]
"""AgentLink.call / HostWatch.call: (method, params, timeout, on_event) -> result."""
RUN_TIMEOUT = 600.0
"""A stop waits for the guest and a live snapshot for QEMU: a generous bound, not a pace."""


class RemoteVMs:
    def __init__(self, host: str, call: Call) -> None:
        self.host = host
        self._call = call

    def run(self, *argv: str, timeout: float = RUN_TIMEOUT) -> str:
        """The subcommand's stdout; MaqetError with its error line when it fails."""
        out: list[str] = []
        err: list[str] = []

        def on_event(msg: dict[str, Any]) -> None:
            data = msg.get("data")
            if msg.get("event") == "output" and isinstance(data, dict):
                (err if data.get("stream") == "stderr" else out).append(str(data.get("text", "")))

        result = self._call("run", {"argv": list(argv)}, timeout, on_event)
        status = int(result.get("exit", 1)) if isinstance(result, dict) else 1
        if status != 0:
            lines = [ln for ln in "".join(err).splitlines() if ln.strip()]
            text = lines[-1] if lines else f"{argv[0]} exited with status {status}"
            raise MaqetError(f"{self.host}: {text.removeprefix('error: ')}")
        return "".join(out)

    def _json(self, *argv: str, timeout: float = RUN_TIMEOUT) -> Any:
        text = self.run(*argv, timeout=timeout)
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            raise MaqetError(f"{self.host}: {argv[0]} printed something not JSON") from None

    # -- Manager's shape -------------------------------------------------------------------------
    def get(self, ident: str) -> dict[str, Any]:
        return dict(self._call("show", {"name": ident}, 60))

    def start(self, ident: str) -> None:
        self.run("start", ident)

    def stop(self, ident: str, force: bool = False, timeout: float = 30.0) -> None:
        self.run("stop", ident, *(["--force"] if force else []), "--timeout", f"{timeout:g}")

    def pause(self, ident: str) -> None:
        self.run("pause", ident)

    def resume(self, ident: str) -> None:
        self.run("resume", ident)

    def reset(self, ident: str) -> None:
        self.run("qmp", ident, "system_reset")

    def remove(self, ident: str, force: bool = False) -> None:
        self.run("rm", ident, *(["--force"] if force else []))

    def qmp(
        self, ident: str, command: str, arguments: dict[str, Any] | None = None, timeout: float = 60
    ) -> Any:
        args = [json.dumps(arguments)] if arguments else []
        return self._json("qmp", ident, command, *args, timeout=timeout + 10)

    def snapshots(self, ident: str) -> list[dict[str, Any]]:
        data = self._json("snapshot", ident, "list", "--json")
        return list(data.get("snapshots", []) if isinstance(data, dict) else data or [])

    def snapshot(self, ident: str, action: str, tag: str) -> dict[str, Any]:
        data = self._json("snapshot", ident, action, tag, "--json")
        return data if isinstance(data, dict) else {"snapshots": data or []}

    def events(self, ident: str, after: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        return list(self._call("events", {"name": ident, "after": after, "limit": limit}, 60))

    def log(self, ident: str, serial: bool = False) -> str:
        return self.run("logs", ident, "--serial" if serial else "--runner", timeout=60)

    def list_forwards(self, ident: str) -> list[dict[str, Any]]:
        return list(self._json("forward", "ls", ident, "--json", timeout=60) or [])

    def add_forward(self, ident: str, spec: str) -> str:
        """Live on a running VM there (QMP on its host), and recorded: `forward add`."""
        return self.run("forward", "add", ident, spec, timeout=120).strip()

    def remove_forward(self, ident: str, key: str) -> str:
        return self.run("forward", "rm", ident, key, timeout=120).strip()

    def set_config(self, ident: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a stopped VM's definition there: the agent's `set` (protocol 1.3), validated by
        the host (its files, its rules). An older host answers RemoteError `unknown-method`; one
        refusing a key names it in the error's `field`."""
        return dict(self._call("set", {"name": ident, "config": changes}, 60))
