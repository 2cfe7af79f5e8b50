"""`maqet-tui ssh NAME [OPTIONS] -- CMD...`: everything after the first `--` is the guest's
command, whatever it looks like, and our own options may come before it in any order."""

from __future__ import annotations

import pytest

from maqet_tui.cli.main import _split_tail
from maqet_tui.cli.parser import build_parser


@pytest.mark.parametrize(
    ("argv", "name", "wait", "command"),
    [
        (
            ["ssh", "dev", "--wait", "10", "--", "sh", "-c", "exit 7"],
            "dev",
            10,
            ["sh", "-c", "exit 7"],
        ),
        (["--home", "ssh", "ssh", "--wait", "5", "dev", "hostname"], "dev", 5, ["hostname"]),
        (["ssh", "dev"], "dev", 180, []),
        (["ssh", "dev", "--", "ls", "--", "--wait"], "dev", 180, ["ls", "--", "--wait"]),
        (["ssh", "dev", "uname", "--", "-a"], "dev", 180, ["uname", "-a"]),
    ],
)
def test_the_tail_after_dashes_is_the_guests(
    argv: list[str], name: str, wait: float, command: list[str]
) -> None:
    ours, tail = _split_tail(argv)
    args = build_parser().parse_args(ours)
    assert (args.name, args.wait, [*args.command, *(tail or [])]) == (name, wait, command)


def test_other_commands_keep_their_dashes() -> None:
    argv = ["qmp", "dev", "--", "query-status"]
    assert _split_tail(argv) == (argv, None)
