"""`maqet-tui SUBCOMMAND`: the command-line contract of architecture.md.

Never imports Textual (start-up time), prints one `error: ...` line and exits 1 on any failure, and
exits 2 on usage errors (argparse's own convention).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from maqet_tui.cli.common import manager, paths
from maqet_tui.cli.more import COMMANDS as MORE
from maqet_tui.cli.parser import build_parser
from maqet_tui.common.errors import MaqetError
from maqet_tui.common.vmstate import QEMU_UP, fmt_uptime


def cmd_add(args: argparse.Namespace) -> int:
    keys = (
        "memory",
        "cpus",
        "accel",
        "machine",
        "binary",
        "kernel",
        "initrd",
        "append",
        "disks",
        "qemu_args",
    )
    config = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    from maqet_tui.core.definitions import add_from_files, add_with_disks
    from maqet_tui.core.peer_yaml import NewDisk

    m = manager(args)
    if args.from_files:
        if config or args.new_disk:
            raise MaqetError("--from cannot be combined with other definition options")
        vm = add_from_files(m, [Path(f) for f in args.from_files], args.name, print)
    elif args.new_disk:
        disks = [
            NewDisk(f"disk{i}", size, None, None, "virtio", "disk")
            for i, size in enumerate(args.new_disk)
        ]
        vm = add_with_disks(m, args.name, config, disks, print)
    else:
        vm = m.add(args.name, config)
    print(f"added {vm['name']} ({vm['id']})")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    vms = manager(args).list()
    if args.json:
        print(json.dumps(vms, indent=2))
        return 0
    rows = [("NAME", "ID", "STATUS", "CPUS", "MEM", "QEMU PID", "UPTIME", "LAST ERROR")]
    for vm in vms:
        c = vm["config"]
        rows.append(
            (
                vm["name"],
                vm["id"],
                vm["status"],
                str(c["cpus"]),
                f"{c['memory']}M",
                str(vm["qemu_pid"] or "-"),
                fmt_uptime(vm),
                vm["last_error"] or "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from maqet_tui.core.accel import accel_in_use

    vm = manager(args).get(args.name)
    # config.accel says what was asked for (`auto`); this is what the running QEMU got.
    vm["accel_in_use"] = accel_in_use(vm)
    if args.json:
        print(json.dumps(vm, indent=2))
        return 0
    keys = ("name", "id", "status", "last_error", "qemu_pid", "runner_pid", "socket_path")
    for k in (*keys, "accel_in_use"):
        print(f"{k + ':':13} {vm[k] if vm[k] is not None else '-'}")
    print(f"{'uptime:':13} {fmt_uptime(vm)}")
    print("config:")
    for k, v in vm["config"].items():
        print(f"  {k + ':':11} {v}")
    return 0


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


def cmd_demo(args: argparse.Namespace) -> int:
    from maqet_tui.core.demo import ensure_demo

    def step(text: str, fraction: float | None) -> None:
        print(f"  {text}" if fraction is None else f"  [{fraction:4.0%}] {text}", file=sys.stderr)

    vm, created = ensure_demo(manager(args), step)
    verb = "added" if created else "already defined:"
    print(f"{verb} {vm['name']} ({vm['id']}); start it with: maqet-tui start {vm['name']}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    vm = manager(args).remove(args.name, force=args.force, delete_disks=args.delete_disks)
    print(f"removed {vm['name']}")
    for path in vm["kept"]:
        print(f"kept its disks in {path} (rm --delete-disks removes them)")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add": cmd_add,
    "ls": cmd_ls,
    "show": cmd_show,
    "start": cmd_start,
    "stop": cmd_stop,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "qmp": cmd_qmp,
    "logs": cmd_logs,
    "rm": cmd_rm,
    "console": cmd_console,
    "demo": cmd_demo,
}


def _glue_qemu_args(argv: list[str]) -> list[str]:
    """`--qemu-arg -device` as the contract writes it: argparse would read `-device` as an option
    of ours, so the pair is glued into `--qemu-arg=-device` first."""
    out: list[str] = []
    it = iter(argv)
    for a in it:
        if a == "--qemu-arg":
            value = next(it, None)
            out.append(a if value is None else f"--qemu-arg={value}")
        else:
            out.append(a)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_glue_qemu_args(list(sys.argv[1:] if argv is None else argv)))
    if not args.cmd:
        build_parser().print_usage(sys.stderr)
        return 2
    try:
        return {**COMMANDS, **MORE}[args.cmd](args)
    except MaqetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # no traceback ever reaches a user (unless they ask for it)
        if os.environ.get("MAQET_TUI_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
