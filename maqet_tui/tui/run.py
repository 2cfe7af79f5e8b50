"""Launching the TUI (kept tiny so `entry` can import it lazily)."""

from __future__ import annotations


def run_tui(home: str | None, demo: bool = False) -> int:
    from maqet_tui.tui.app import MaqetApp

    MaqetApp(home=home, boot_demo=demo).run()
    return 0
