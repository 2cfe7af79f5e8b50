"""`maqet-tui --host NAME SUBCOMMAND ...` and `ls --all-hosts`: the CLI on other hosts.

A subcommand runs on the host through its agent (`run`), so its output and exit status are the
host's own; `ls --json` and `show --json` rows gain `"host": NAME` here. `console` and `ssh` are
the exceptions (TERMINAL): each needs this terminal, whose stdin the agent's channel cannot lend,
so each gets its own ssh channel (a pty when this terminal is one) on the host's shared
connection, carrying raw bytes, so keys like Ctrl-C reach the guest.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from typing import Any

from maqet_tui.common.errors import MaqetError
from maqet_tui.common.paths import Paths
from maqet_tui.fleet import registry
from maqet_tui.fleet.client import AgentSession, HostError
from maqet_tui.fleet.hostspec import LOCAL, HostSpec, remote_command
from maqet_tui.fleet.ssh import base_argv, explain

JSON_ROWS = ("ls", "show")
"""Subcommands whose --json output is VM rows (they gain the "host" field)."""
TERMINAL = ("console", "ssh")
"""Subcommands run on a channel of their own, with this terminal (see the module's text)."""


def _with_host(data: Any, host: str) -> Any:
    if isinstance(data, list):
        return [_with_host(row, host) for row in data]
    if isinstance(data, dict):
        return {**data, "host": host}
    return data


def run_on_host(host: str, argv: list[str], home: str | None) -> int:
    paths = Paths.resolve(home)
    spec = registry.get(paths, host)
    if argv and argv[0] in TERMINAL:
        return _terminal(spec, paths, argv)
    rows = bool(argv) and argv[0] in JSON_ROWS and "--json" in argv
    out: list[str] = []

    def on_event(msg: dict[str, Any]) -> None:
        data = msg.get("data") or {}
        if msg.get("event") != "output" or not isinstance(data, dict):
            return
        text = str(data.get("text", ""))
        if data.get("stream") == "stderr":
            sys.stderr.write(text)
            sys.stderr.flush()
        elif rows:
            out.append(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    with AgentSession(spec, paths) as session:
        result = session.call("run", {"argv": argv}, on_event)
    status = int(result.get("exit", 1)) if isinstance(result, dict) else 1
    if out:
        text = "".join(out)
        with contextlib.suppress(ValueError):  # not JSON after all: shown as it came
            text = json.dumps(_with_host(json.loads(text), spec.name), indent=2) + "\n"
        sys.stdout.write(text)
    return status


def _terminal(spec: HostSpec, paths: Paths, argv: list[str]) -> int:
    tty = os.isatty(sys.stdin.fileno())
    ssh = [*base_argv(spec, paths, tty=tty), remote_command(spec, *argv)]
    # stderr is ours (the terminal) unless ssh fails before the console: then it says why.
    status = subprocess.call(ssh)
    if argv[0] == "ssh":  # the guest's exit status is ours, as `ssh` promises (127 included)
        return status
    if status == 127:
        print(f"error: {explain(spec, status, '')}", file=sys.stderr)
    elif status == 255:
        print(f"error: host {spec.label}: ssh failed (its reason is above)", file=sys.stderr)
    return status


def list_all(home: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Every VM of this machine (host `local`) and of every host, each row with its `host`;
    and one error line per host that could not be listed. Hosts are asked in parallel."""
    from maqet_tui.core.manager import Manager

    paths = Paths.resolve(home)
    hosts = registry.all_hosts(paths)
    found: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}

    def ask(spec: HostSpec) -> None:
        try:
            with AgentSession(spec, paths) as session:
                found[spec.name] = _with_host(session.call("list", timeout=60), spec.name)
        except (HostError, MaqetError) as exc:
            errors[spec.name] = str(exc)
        except Exception as exc:  # whatever it is, it is this host's line, not the command's end
            errors[spec.name] = f"host {spec.label}: {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=ask, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    rows = _with_host(Manager(home).list(), LOCAL)
    for t in threads:
        t.join()
    for h in hosts:
        rows += found.get(h.name, [])
    return rows, [errors[h.name] for h in hosts if h.name in errors]
