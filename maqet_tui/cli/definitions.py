"""Definitions, disks and snapshots on the command line: export, set, snapshot, screendump."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maqet_tui.cli.common import NAME, manager
from maqet_tui.common.errors import ConfigError, clip

Cmd = Callable[[str, str], argparse.ArgumentParser]


def add_parsers(cmd: Cmd) -> None:
    e = cmd("export", "print a VM's definition in the peer tool's YAML format")
    e.add_argument("name", help=NAME)
    e.add_argument("-o", "--output", help="write to this file instead of stdout")
    s = cmd("set", "change a stopped VM's definition, e.g. set web-1 memory=512 cpus=2")
    s.add_argument("name", help=NAME)
    s.add_argument(
        "assignments",
        nargs="+",
        metavar="KEY=VALUE",
        help="VALUE is YAML: memory=512, disks=['/srv/a.qcow2'], append='console=ttyS0'",
    )
    sn = cmd("snapshot", "internal qcow2 snapshots (online through QMP, offline with qemu-img)")
    sn.add_argument("name", help=NAME)
    sn.add_argument(
        "action", choices=("list", "create", "revert", "delete"), help="what to do with snapshots"
    )
    sn.add_argument("tag", nargs="?", help="the snapshot's tag (needed but for list)")
    sn.add_argument("--json", action="store_true", help="print the VM's snapshots as JSON")
    sd = cmd("screendump", "save a PNG of the VM's display (needs a display device)")
    sd.add_argument("name", help=NAME)
    sd.add_argument("file", help="where to write the PNG")


def cmd_export(args: argparse.Namespace) -> int:
    from maqet_tui.core.definitions import export

    text = export(manager(args), args.name)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def parse_assignments(items: list[str]) -> dict[str, Any]:
    from maqet_tui.core import yaml_bounded

    changes: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{clip(item)} is not KEY=VALUE")
        where = key[:40] if key.isprintable() else clip(key, 40)
        changes[key] = yaml_bounded.parse(value, where) if value else None
    return changes


def cmd_set(args: argparse.Namespace) -> int:
    vm = manager(args).set_config(args.name, parse_assignments(args.assignments))
    print(f"updated {vm['name']}")
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from maqet_tui.core.snapshots import list_snapshots, snapshot

    m = manager(args)
    if args.action == "list":
        snaps = list_snapshots(m, args.name)
    else:
        if not args.tag:
            raise ConfigError(f"snapshot {args.action} needs a TAG")
        snaps = snapshot(m, args.name, args.action, args.tag)["snapshots"]
        print(f"{args.action} {args.tag}: done", file=sys.stderr)
    if args.json:
        print(json.dumps(snaps, indent=2))
    elif args.action == "list":
        print(f"{'TAG':20} {'DATE':19} {'VM STATE':>10}")
        for s in snaps:
            date = datetime.datetime.fromtimestamp(s["date"]).strftime("%Y-%m-%d %H:%M:%S")
            print(f"{s['tag']:20} {date:19} {s['vm_state_size']:>10}")
    return 0


def cmd_screendump(args: argparse.Namespace) -> int:
    from maqet_tui.core.snapshots import screendump

    print(f"wrote {screendump(manager(args), args.name, Path(args.file))}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": cmd_export,
    "set": cmd_set,
    "snapshot": cmd_snapshot,
    "screendump": cmd_screendump,
}
