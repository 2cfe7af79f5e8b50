"""Launching the TUI (kept tiny so `entry` can import it lazily)."""

from __future__ import annotations


def run_tui(home: str | None) -> int:
    from maqet_tui.tui.app import MaqetApp

    MaqetApp(home=home).run()
    return 0
