"""`maqet-tui SUBCOMMAND`: the command-line contract of architecture.md.

Never imports Textual (start-up time), prints one `error: ...` line and exits 1 on any failure, and
exits 2 on usage errors (argparse's own convention).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from maqet_tui.cli import definitions, guest, images, lifecycle, network, vms
from maqet_tui.cli.parser import build_parser
from maqet_tui.common.errors import MaqetError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    **vms.COMMANDS,
    **lifecycle.COMMANDS,
    **guest.COMMANDS,
    **definitions.COMMANDS,
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


TAIL_COMMANDS = frozenset({"ssh"})
"""Subcommands whose `-- CMD...` is a command for the guest: everything after the first `--` is
kept from argparse, which cannot mix options after a positional with a `--` tail."""


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


def main(argv: Sequence[str] | None = None) -> int:
    ours, tail = _split_tail(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(_glue_qemu_args(ours))
    if tail is not None:
        args.command = [*args.command, *tail]
    if not args.cmd:
        build_parser().print_usage(sys.stderr)
        return 2
    try:
        return COMMANDS[args.cmd](args)
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
