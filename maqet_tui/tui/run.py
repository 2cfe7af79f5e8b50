"""Launching the TUI (kept tiny so `entry` can import it lazily)."""

from __future__ import annotations

from typing import Any


def run_tui(home: str | None, demo: bool = False, **run: Any) -> int:
    """The process's exit code: non-zero when the app ended on an unhandled exception (Textual
    prints the traceback and exits; `run()` itself returns normally)."""
    from maqet_tui.tui.app import MaqetApp

    app = MaqetApp(home=home, boot_demo=demo)
    app.run(**run)
    return exit_code(app.return_code)


def exit_code(return_code: int | None) -> int:
    """None means the app never finished running: not a success either."""
    return 1 if return_code is None else return_code
