"""Starting, stopping, pausing and resuming VMs on the command line.

`start` and `stop` go through core.lifecycle directly, never loading the Manager (nor peewee)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from maqet_tui.cli.common import manager, paths


def cmd_start(args: argparse.Namespace) -> int:
    # lifecycle, not the Manager: the same path, without loading the ORM (peewee ~25 ms).
    from maqet_tui.core.lifecycle import start

    vm, already = start(paths(args), args.name, args.timeout)
    already_text = "already " if already else ""
    print(f"{vm['name']} is {already_text}{vm['status']} (qemu pid {vm['qemu_pid']})")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from maqet_tui.core.lifecycle import stop

    def progress(text: str) -> None:
        print(f"{args.name}: {text}", file=sys.stderr, flush=True)

    vm, already = stop(paths(args), args.name, args.force, args.timeout, progress)
    already_text = "already " if already else ""
    print(f"{vm['name']} is {already_text}{vm['status']}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    vm = manager(args).pause(args.name)
    print(f"{vm['name']} is {vm['status']}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    vm = manager(args).resume(args.name)
    print(f"{vm['name']} is {vm['status']}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "start": cmd_start,
    "stop": cmd_stop,
    "pause": cmd_pause,
    "resume": cmd_resume,
}
