"""`maqet-tui SUBCOMMAND`: the command-line contract of architecture.md.

Never imports Textual (start-up time), prints one `error: ...` line and exits 1 on any failure, and
exits 2 on usage errors (argparse's own convention).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from maqet_tui import __version__
from maqet_tui.cli import definitions, guest, hosts, images, lifecycle, network, vms
from maqet_tui.cli.parser import build_parser
from maqet_tui.common.errors import MaqetError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    **vms.COMMANDS,
    **lifecycle.COMMANDS,
    **guest.COMMANDS,
    **definitions.COMMANDS,
    **hosts.COMMANDS,
    **network.COMMANDS,
    **images.COMMANDS,
}
"""Every subcommand, by name: each group of subcommands registers its own."""


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


TAIL_COMMANDS = frozenset({"exec", "ssh"})
"""Subcommands whose `-- CMD...` is a command for the guest: everything after the first `--` is
kept from argparse, which cannot mix options after a positional with a `--` tail (and would take
the guest command's options for ours)."""


def _split_tail(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """(our arguments, the guest command after `--`) for TAIL_COMMANDS; no tail for others."""
    words = iter(argv)
    for a in words:
        if a == "--home":
            next(words, None)
        elif not a.startswith("-"):
            if a in TAIL_COMMANDS and "--" in argv:
                cut = argv.index("--")
                return argv[:cut], argv[cut + 1 :]
            break
    return argv, None


def _split_host(argv: list[str]) -> tuple[str | None, str | None, list[str]]:
    """(host, local --home, the rest) from the options before the subcommand. The rest goes to
    the host verbatim; a --home given before the subcommand is this machine's (where the hosts
    are registered), one given after it is the host's."""
    host = home = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--host", "-H", "--home") and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
        elif a.startswith(("--host=", "--home=")):
            value, i = a.split("=", 1)[1], i + 1
        elif a.startswith("-H") and len(a) > 2:
            value, i = a[2:], i + 1
        else:
            break
        if a.startswith("--home"):
            home = value
        else:
            host = value
    return host, home, argv[i:]


NOT_OVER_AGENT = ("console", "agent", "ssh")
"""Subcommands that need the terminal (stdin), which in the agent is the protocol's channel:
`--host H console VM` and `--host H ssh VM` have an ssh channel of their own instead (cli/remote.py)."""


def _run_for_agent(argv: list[str]) -> int:
    """A subcommand as the agent's `run` method runs it."""
    rest = _split_host(argv)[2]
    if rest and rest[0] in NOT_OVER_AGENT:
        print(f"error: {rest[0]} cannot run through the agent", file=sys.stderr)
        return 1
    ours = rest[: rest.index("--")] if "--" in rest else rest
    if ours[:1] == ["exec"] and "--stdin" in ours:  # stdin is the agent's protocol channel
        print("error: exec --stdin cannot run through the agent", file=sys.stderr)
        return 1
    return main(argv)


def _agent(args: argparse.Namespace) -> int:
    from maqet_tui.fleet.agent import serve

    return serve(_run_for_agent, __version__, getattr(args, "home", None))


COMMANDS["agent"] = _agent


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    host, home, rest = _split_host(argv)
    if host is not None and host != "local":
        if not rest or rest[0].startswith("-"):
            build_parser().print_usage(sys.stderr)
            print("maqet-tui: error: --host needs a COMMAND", file=sys.stderr)
            return 2
        from maqet_tui.cli.remote import run_on_host

        return _guarded(lambda: run_on_host(host, rest, home))
    if host == "local":  # this machine, by the name --all-hosts gives it
        argv = ([f"--home={home}"] if home is not None else []) + rest
    words, tail = _split_tail(argv)
    args = build_parser().parse_args(_glue_qemu_args(words))
    if tail is not None:
        args.command = [*args.command, *tail]
    if not args.cmd:
        build_parser().print_usage(sys.stderr)
        return 2
    return _guarded(lambda: COMMANDS[args.cmd](args))


def _guarded(run: Callable[[], int]) -> int:
    """`run` with every failure turned into one `error: ...` line and its exit status."""
    try:
        return run()
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
