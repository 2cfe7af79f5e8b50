"""`--help` is the CLI's manual: every argument of every subcommand says what it is for."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from maqet_tui.cli.main import main
from maqet_tui.cli.parser import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subs) == 1
    return dict(subs[0].choices)


def _help_of(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return out.getvalue()


def test_every_argument_of_every_subcommand_has_help() -> None:
    parsers = {"maqet-tui": build_parser(), **_subcommands()}
    assert {"add", "start", "stop", "resume", "console", "set", "snapshot"} <= set(parsers)
    missing = [
        f"{name} {action.dest}"
        for name, parser in parsers.items()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert missing == []


def _squeezed(text: str) -> str:
    """argparse wraps help (at hyphens too): compare with all whitespace taken out."""
    return "".join(text.split())


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_each_subcommands_help_output_shows_each_arguments_help(command: str) -> None:
    text = _squeezed(_help_of(command))
    for action in _subcommands()[command]._actions:
        assert action.help and _squeezed(action.help) in text, (command, action.dest)


def test_top_level_help_says_no_command_opens_the_tui() -> None:
    assert _squeezed("With no COMMAND (nothing but --home) it opens the TUI.") in _squeezed(
        _help_of()
    )


def test_resume_is_for_a_paused_vm_and_timeouts_give_unit_and_default() -> None:
    assert "resume a paused VM" in _help_of("resume")
    for command in ("start", "stop"):
        text = _squeezed(_help_of(command))
        assert "--timeoutSECONDS" in text and "(0-3600,default30)" in text
