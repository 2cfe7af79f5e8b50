"""VMs from images and their network on the command line: `add`'s image and network options,
`forward add|rm|ls`, and `ssh` into a VM."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from maqet_tui.cli.common import NAME, manager
from maqet_tui.common.errors import MaqetError

Cmd = Callable[[str, str], argparse.ArgumentParser]
IMAGE_ONLY = ("disk_size", "ssh_key", "user_data")
SSH_WAIT = 180.0  # a first boot under TCG on a busy host: ~45 s, sometimes over a minute


def add_options(a: argparse.ArgumentParser) -> None:
    """`add`'s options for VMs made from images (and networks for any VM)."""
    a.add_argument("--image", help="make the VM's disk a qcow2 overlay of this image")
    a.add_argument(
        "--disk-size", metavar="SIZE", help="with --image: grow the overlay to SIZE (e.g. 20G)"
    )
    a.add_argument(
        "--ssh-key",
        metavar="PUBKEY",
        help="with --image: the public key the guest trusts (default ~/.ssh/id_*.pub, else a "
        "key pair made once in HOME/ssh)",
    )
    a.add_argument(
        "--user-data",
        metavar="FILE",
        help="with --image: your cloud-init user-data, merged with ours (yours wins)",
    )
    a.add_argument(
        "--forward",
        action="append",
        dest="forwards",
        metavar="PROTO:HOSTPORT:GUESTPORT",
        default=None,
        help="a port forward on 127.0.0.1, e.g. tcp:8080:80 (repeat for more)",
    )
    a.add_argument(
        "--net",
        metavar="MODE",
        help="user (NAT; the default with --image), isolated (user-mode, guest reaches "
        "nothing outside), none, or bridge=BR",
    )


def add_vm(args: argparse.Namespace, config: dict[str, Any]) -> dict[str, Any] | None:
    """`add` with --image, --net or --forward; None when none of them was given."""
    from maqet_tui.core import net_spec

    if args.image is None:
        given = [f"--{k.replace('_', '-')}" for k in IMAGE_ONLY if getattr(args, k)]
        if given:
            raise MaqetError(f"{', '.join(given)} need --image")
        if args.net is None and not args.forwards:
            return None
        net = net_spec.check_net(args.net or "user")
        config["net"] = net
        config["forwards"] = [net_spec.parse_forward(f) for f in args.forwards or []]
        return manager(args).add(args.name, config)
    if "kernel" in config or "initrd" in config or "append" in config or "disks" in config:
        raise MaqetError(
            "--image gives the disk and the boot: drop --kernel/--initrd/--append/--disk"
        )
    from maqet_tui.core.image_vms import add_from_image

    return add_from_image(
        manager(args),
        args.name,
        args.image,
        config,
        disk_size=args.disk_size,
        ssh_key=args.ssh_key,
        user_data=args.user_data,
        forwards=args.forwards,
        net=args.net,
        say=lambda text: print(text, file=sys.stderr),
    )


def add_parsers(cmd: Cmd) -> None:
    f = cmd("forward", "port forwards on 127.0.0.1 (live on a running VM, and recorded)")
    fs = f.add_subparsers(dest="forward_cmd", metavar="ACTION", required=True, help="add, rm, ls")
    fa = fs.add_parser("add", help="add a forward", description="add a forward")
    fa.add_argument("name", help=NAME)
    fa.add_argument("spec", metavar="PROTO:HOSTPORT:GUESTPORT", help="e.g. tcp:8080:80")
    fr = fs.add_parser("rm", help="remove a forward", description="remove a forward")
    fr.add_argument("name", help=NAME)
    fr.add_argument("key", metavar="PROTO:HOSTPORT", help="e.g. tcp:8080")
    fl = fs.add_parser("ls", help="list a VM's forwards", description="list a VM's forwards")
    fl.add_argument("name", help=NAME)
    fl.add_argument("--json", action="store_true", help="print the forwards as JSON")
    s = cmd("ssh", "OpenSSH into a VM through its SSH forward; exits with the remote status")
    s.add_argument("name", help=NAME)
    s.add_argument(
        "--wait",
        type=float,
        default=SSH_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for the guest's SSH server to answer (default {SSH_WAIT:g})",
    )
    s.add_argument(
        "command",
        nargs="*",
        metavar="-- CMD...",
        help="a command to run instead of a shell (one argument: a shell command line; more: "
        "an argv, quoted for the guest)",
    )


def _fmt(f: dict[str, Any]) -> str:
    return f"{f['proto']} {f['host_addr']}:{f['host_port']} -> guest port {f['guest_port']}"


def cmd_forward(args: argparse.Namespace) -> int:
    from maqet_tui.core import forwards

    m = manager(args)
    if args.forward_cmd == "add":
        print(f"added {_fmt(forwards.add_forward(m, args.name, args.spec))}")
    elif args.forward_cmd == "rm":
        print(f"removed {_fmt(forwards.remove_forward(m, args.name, args.key))}")
    else:
        found = forwards.list_forwards(m, args.name)
        if args.json:
            print(json.dumps(found, indent=2))
        for f in found if not args.json else ():
            print(_fmt(f))
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    from maqet_tui.core.ssh_cmd import ssh_argv, ssh_target, wait_for_sshd

    command = list(args.command)
    if not 0 <= args.wait <= 3600:  # NaN fails this too
        raise MaqetError(f"--wait: {args.wait:g} is out of range (0..3600 s)")
    m = manager(args)
    vm = m.get(args.name)
    argv = ssh_argv(m.paths, vm, command)
    wait_for_sshd(
        vm["name"],
        ssh_target(vm),
        args.wait,
        lambda: m.get(vm["id"])["status"] == "running",
        lambda text: print(text, file=sys.stderr),
    )
    sys.stdout.flush()
    os.execv(argv[0], argv)  # the remote status becomes ours; the terminal is ssh's


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "forward": cmd_forward,
    "ssh": cmd_ssh,
}
