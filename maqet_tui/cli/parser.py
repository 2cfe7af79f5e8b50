"""The argument parser of `maqet-tui`: every subcommand, option and help text in one place."""

from __future__ import annotations

import argparse

from maqet_tui.cli import definitions, hosts, images, network
from maqet_tui.cli.common import NAME, NEW_NAME
from maqet_tui.protocol import wire as proto


def _seconds(text: str) -> float:
    """--timeout values: a number of seconds within what the runner accepts."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= proto.STOP_TIMEOUT_MAX:  # NaN fails this too
        raise argparse.ArgumentTypeError(
            f"{text} is out of range (0..{proto.STOP_TIMEOUT_MAX:g} s)"
        )
    return value


def _exec_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= proto.EXEC_TIMEOUT_MAX:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range (more than 0, at most {proto.EXEC_TIMEOUT_MAX:g} s)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """Every argument carries a help text (tests/unit/test_cli_help.py holds it to that)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="data directory (default: $MAQET_TUI_HOME or the XDG data dir)",
    )
    p = argparse.ArgumentParser(
        prog="maqet-tui",
        parents=[common],
        description="QEMU VMs on lab hosts: one runner per VM, no daemon. "
        "With no COMMAND (nothing but --home) it opens the TUI.",
    )
    p.add_argument(
        "-H",
        "--host",
        metavar="NAME",
        help="run COMMAND on that host (see host add), with the same output and exit status",
    )
    sub = p.add_subparsers(
        dest="cmd", metavar="COMMAND", help="COMMAND --help tells more; none opens the TUI"
    )

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help, description=help)

    a = cmd("add", "define a new VM")
    a.add_argument("name", help=NEW_NAME)
    a.add_argument("--memory", metavar="SIZE", help="MiB, or with a unit: 512M, 1G (default 256)")
    a.add_argument("--cpus", type=int, metavar="N", help="virtual CPUs (default 1)")
    a.add_argument(
        "--accel",
        choices=("auto", "kvm", "tcg"),
        help="auto (the default) uses kvm when /dev/kvm is usable, else tcg",
    )
    a.add_argument("--machine", help="QEMU machine type (default q35)")
    a.add_argument("--binary", help="QEMU binary, on PATH or a path (default qemu-system-x86_64)")
    a.add_argument("--kernel", metavar="FILE", help="a kernel to boot directly (QEMU's -kernel)")
    a.add_argument("--initrd", metavar="FILE", help="an initial ramdisk for --kernel")
    a.add_argument("--append", metavar="CMDLINE", help="the kernel command line for --kernel")
    a.add_argument(
        "--disk",
        action="append",
        dest="disks",
        metavar="FILE",
        default=None,
        help="an existing disk image to attach (repeat for more)",
    )
    a.add_argument(
        "--new-disk",
        action="append",
        metavar="SIZE",
        default=None,
        help="create a qcow2 disk of SIZE (e.g. 8G) in the VM's data directory",
    )
    a.add_argument(
        "--from",
        action="append",
        dest="from_files",
        metavar="FILE.yaml",
        default=None,
        help="a definition in the peer tool's YAML (repeat to merge)",
    )
    a.add_argument(
        "--qemu-arg",
        action="append",
        dest="qemu_args",
        metavar="ARG",
        default=None,
        help="extra QEMU argument, e.g. --qemu-arg -device --qemu-arg virtio-rng-pci",
    )
    network.add_options(a)
    for name, help in (("ls", "list VMs"), ("show", "show one VM")):
        c = cmd(name, help)
        if name == "show":
            c.add_argument("name", help=NAME)
        c.add_argument("--json", action="store_true", help="print JSON (fields in architecture.md)")
        if name == "ls":
            c.add_argument(
                "--all-hosts",
                action="store_true",
                help="also every host's VMs (see host add), with a HOST column",
            )
    s = cmd("start", "start a VM; returns once QMP answers")
    s.add_argument("name", help=NAME)
    s.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for QEMU to answer QMP (0-3600, default 30)",
    )
    s = cmd("stop", "stop a VM: ACPI power-down, then quit, then kill")
    s.add_argument("name", help=NAME)
    s.add_argument("--force", action="store_true", help="skip the graceful power-down")
    s.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long the guest gets to power down before QEMU is told to quit "
        f"(0-{proto.STOP_TIMEOUT_MAX:g}, default {proto.STOP_TIMEOUT_DEFAULT:g})",
    )
    cmd("pause", "pause a running VM (the guest stops executing)").add_argument("name", help=NAME)
    cmd("resume", "resume a paused VM").add_argument("name", help=NAME)
    q = cmd("qmp", "run a QMP command and print its return value as JSON")
    q.add_argument("name", help=NAME)
    q.add_argument("command", help="a QMP command, e.g. query-status")
    q.add_argument(
        "arguments", nargs="?", metavar="ARGUMENTS_JSON", help="arguments as a JSON object"
    )
    x = cmd("exec", "run a command in the guest through its guest agent; exits with its status")
    x.add_argument("name", help=NAME)
    x.add_argument(
        "--timeout",
        type=_exec_seconds,
        default=proto.EXEC_TIMEOUT_DEFAULT,
        metavar="SECONDS",
        help=f"how long the command may run (default {proto.EXEC_TIMEOUT_DEFAULT:g})",
    )
    x.add_argument(
        "command",
        nargs="*",
        metavar="-- COMMAND",
        help="the program (looked up on the guest's PATH) and its arguments, after --",
    )
    lg = cmd("logs", "print a VM's runner log or serial log")
    lg.add_argument("name", help=NAME)
    which = lg.add_mutually_exclusive_group()
    which.add_argument("--serial", action="store_true", help="the guest's serial output")
    which.add_argument("--runner", action="store_true", help="the runner's log (default)")
    lg.add_argument(
        "-f", "--follow", action="store_true", help="keep printing what is added (Ctrl-C ends)"
    )
    c = cmd("console", "attach this terminal to the guest's serial console (Ctrl-] leaves)")
    c.add_argument("name", help=NAME)
    cmd("demo", "define the ready-made demo VM (a real Linux guest; built once, cached)")
    r = cmd("rm", "remove a VM definition")
    r.add_argument("name", help=NAME)
    r.add_argument("--force", action="store_true", help="stop it first if it runs")
    r.add_argument(
        "--delete-disks", action="store_true", help="also delete the disks maqet-tui created for it"
    )
    definitions.add_parsers(cmd)
    hosts.add_parsers(cmd)
    images.add_parsers(cmd)
    network.add_parsers(cmd)
    return p
