"""`maqet-tui host add | ls | rm`: the other hosts this machine reaches over ssh."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from maqet_tui.cli.common import paths
from maqet_tui.cli.definitions import Cmd

HOST = "the host's name (see host ls)"


def add_parsers(cmd: Cmd) -> None:
    h = cmd("host", "the other hosts this one reaches through ssh (see --host)")
    hs = h.add_subparsers(dest="host_cmd", metavar="ACTION", required=True, help="add, ls or rm")
    a = hs.add_parser("add", help="add a host", description="add a host")
    a.add_argument("host_name", metavar="NAME", help="a name like a VM's; 'local' is reserved")
    a.add_argument(
        "destination", help="anything ssh accepts: an alias from ~/.ssh/config, user@host"
    )
    a.add_argument(
        "--command",
        metavar="REMOTE",
        help="how to run maqet-tui there (default maqet-tui), e.g. "
        "'env MAQET_TUI_HOME=/srv/vms /opt/maqet/bin/maqet-tui'",
    )
    a.add_argument(
        "--ssh-option",
        action="append",
        dest="ssh_options",
        metavar="KEY=VALUE",
        default=None,
        help="passed to ssh as -o KEY=VALUE (repeat for more), e.g. Port=2222",
    )
    ls = hs.add_parser("ls", help="list the hosts", description="list the hosts")
    ls.add_argument("--json", action="store_true", help="print JSON (fields in architecture.md)")
    rm = hs.add_parser("rm", help="forget a host", description="forget a host (its VMs stay)")
    rm.add_argument("host_name", metavar="NAME", help=HOST)
    ag = cmd("agent", "serve this host's VMs to a maqet-tui on another host (started over ssh)")
    ag.add_argument(
        "--stdio",
        action="store_true",
        required=True,
        help="speak the agent protocol on stdin/stdout (the only transport; see architecture.md)",
    )


def cmd_host(args: argparse.Namespace) -> int:
    from maqet_tui.fleet import hostspec, registry

    p = paths(args)
    if args.host_cmd == "add":
        spec = hostspec.make_spec(args.host_name, args.destination, args.command, args.ssh_options)
        registry.add(p, spec)
        print(f"added host {spec.name} ({spec.destination})")
        return 0
    if args.host_cmd == "rm":
        from maqet_tui.fleet.ssh import close_master

        spec = registry.remove(p, args.host_name)
        close_master(spec, p)  # a shared connection of a forgotten host has no use
        print(f"removed host {spec.name}")
        return 0
    hosts = registry.all_hosts(p)
    if args.json:
        fields = ("name", "destination", "command", "ssh_options")
        print(json.dumps([dict(zip(fields, h, strict=True)) for h in hosts], indent=2))
        return 0
    rows = [("NAME", "DESTINATION", "COMMAND", "SSH OPTIONS")]
    for h in hosts:
        rows.append((h.name, h.destination, " ".join(h.command), " ".join(h.ssh_options)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"host": cmd_host}
