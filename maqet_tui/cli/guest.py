"""Talking to a running guest: QMP, its logs and its serial console."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from maqet_tui.cli.common import manager
from maqet_tui.common.errors import MaqetError
from maqet_tui.common.vmstate import QEMU_UP


def cmd_qmp(args: argparse.Namespace) -> int:
    arguments = None
    if args.arguments:
        try:
            arguments = json.loads(args.arguments)
        except json.JSONDecodeError as exc:
            raise MaqetError(f"ARGUMENTS_JSON is not valid JSON: {exc.msg}") from None
        if not isinstance(arguments, dict):
            raise MaqetError("ARGUMENTS_JSON must be a JSON object")
    print(json.dumps(manager(args).qmp(args.name, args.command, arguments), indent=2))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    m = manager(args)
    vm = m.get(args.name)
    path = m.paths.serial_log(vm["id"]) if args.serial else m.paths.runner_log(vm["id"])
    out = sys.stdout.buffer
    pos = 0
    if path.exists():
        data = path.read_bytes()
        out.write(data)
        pos = len(data)
    out.flush()
    while args.follow:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < pos:  # rotated
            pos = 0
        if size > pos:
            with open(path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            out.write(chunk)
            out.flush()
            pos += len(chunk)
        time.sleep(0.2)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from maqet_tui.cli.console import attach
    from maqet_tui.common.errors import StateError

    vm = manager(args).get(args.name)
    if vm["status"] not in QEMU_UP or not vm["socket_path"]:
        raise StateError(f"VM {vm['name']!r} is not running (status: {vm['status']})")
    return attach(vm["socket_path"], vm["name"])


def cmd_exec(args: argparse.Namespace) -> int:
    """The command's output as the guest wrote it, to our stdout and stderr; its exit status."""
    result = manager(args).exec(args.name, list(args.command), timeout=args.timeout)
    sys.stdout.buffer.write(result.out)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(result.err)
    sys.stderr.buffer.flush()
    for stream, cut in (("stdout", result.out_truncated), ("stderr", result.err_truncated)):
        if cut:
            print(f"warning: the command's {stream} was cut short", file=sys.stderr)
    return result.status


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "exec": cmd_exec,
    "qmp": cmd_qmp,
    "logs": cmd_logs,
    "console": cmd_console,
}
