"""VM definitions on the command line: add, ls, show, rm, and the demo VM."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maqet_tui.cli.common import manager
from maqet_tui.common.errors import MaqetError
from maqet_tui.common.vmstate import fmt_uptime


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
    from maqet_tui.cli.network import add_vm
    from maqet_tui.core.definitions import add_from_files, add_with_disks
    from maqet_tui.core.peer_yaml import NewDisk

    networked = args.image or args.net or args.forwards
    if networked and (args.from_files or args.new_disk):
        which = "--from" if args.from_files else "--new-disk"
        raise MaqetError(f"{which} cannot be combined with --image, --net or --forward")
    m = manager(args)
    if not args.from_files and (made := add_vm(args, config)) is not None:
        vm = made
    elif args.from_files:
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
    errors: list[str] = []
    if args.all_hosts:
        from maqet_tui.cli.remote import list_all

        vms, errors = list_all(getattr(args, "home", None))
    else:
        vms = manager(args).list()
    for line in errors:  # one line per host that could not be listed; the others still are
        print(f"error: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(vms, indent=2))
        return 1 if errors else 0
    from maqet_tui.core.net_spec import ssh_forward

    head = ("NAME", "ID", "STATUS", "CPUS", "MEM", "QEMU PID", "UPTIME", "SSH", "LAST ERROR")
    rows = [("HOST", *head) if args.all_hosts else head]
    for vm in vms:
        c = vm["config"]
        ssh = ssh_forward(c.get("forwards") or [])
        rows.append(
            (
                *((vm["host"],) if args.all_hosts else ()),
                vm["name"],
                vm["id"],
                vm["status"],
                str(c["cpus"]),
                f"{c['memory']}M",
                str(vm["qemu_pid"] or "-"),
                fmt_uptime(vm),
                str(ssh["host_port"]) if ssh else "-",
                vm["last_error"] or "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 1 if errors else 0


def cmd_show(args: argparse.Namespace) -> int:
    from maqet_tui.core.accel import accel_in_use
    from maqet_tui.core.guest_agent import guest_info
    from maqet_tui.core.net_spec import network_json

    vm = manager(args).get(args.name)
    # config.accel says what was asked for (`auto`); this is what the running QEMU got.
    vm["accel_in_use"] = accel_in_use(vm)
    vm["network"] = network_json(vm["config"], vm["id"])
    vm["guest"] = guest_info(vm)
    if args.json:
        print(json.dumps(vm, indent=2))
        return 0
    keys = ("name", "id", "status", "last_error", "qemu_pid", "runner_pid", "socket_path")
    for k in (*keys, "accel_in_use"):
        print(f"{k + ':':13} {vm[k] if vm[k] is not None else '-'}")
    print(f"{'uptime:':13} {fmt_uptime(vm)}")
    net = vm["network"]
    fwds = ", ".join(f"{f['proto']}:{f['host_port']}->{f['guest_port']}" for f in net["forwards"])
    print(f"{'network:':13} {net['mode']}" + (f" mac {net['mac']}" if net["mac"] else ""))
    if fwds:
        print(f"{'forwards:':13} {fwds}")
    if vm["config"].get("agent"):
        print(f"{'guest:':13} {_guest_line(vm['guest'])}")
    print("config:")
    for k, v in vm["config"].items():
        print(f"  {k + ':':11} {v}")
    return 0


def _guest_line(guest: dict[str, Any]) -> str:
    if not guest["agent"]:
        return "agent not connected"
    facts = [", ".join(guest["ips"]) or "no address", guest["hostname"], guest["os"]]
    return "agent connected; " + "; ".join(str(f) for f in facts if f)


def cmd_rm(args: argparse.Namespace) -> int:
    vm = manager(args).remove(args.name, force=args.force, delete_disks=args.delete_disks)
    print(f"removed {vm['name']}")
    for path in vm["kept"]:
        print(f"kept its disks in {path} (rm --delete-disks removes them)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from maqet_tui.core.demo import ensure_demo

    def step(text: str, fraction: float | None) -> None:
        print(f"  {text}" if fraction is None else f"  [{fraction:4.0%}] {text}", file=sys.stderr)

    vm, created = ensure_demo(manager(args), step)
    verb = "added" if created else "already defined:"
    print(f"{verb} {vm['name']} ({vm['id']}); start it with: maqet-tui start {vm['name']}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add": cmd_add,
    "ls": cmd_ls,
    "show": cmd_show,
    "rm": cmd_rm,
    "demo": cmd_demo,
}
