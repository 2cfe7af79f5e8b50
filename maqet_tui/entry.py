"""The `maqet-tui` console script: the TUI with no subcommand, the CLI otherwise.

Kept separate from the CLI so that a subcommand never even parses the TUI's modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def _tui_args(argv: Sequence[str]) -> tuple[bool, str | None, bool]:
    """(wants the TUI, --home value, --demo) — the TUI is asked for when nothing but --home and
    --demo are given. --demo is what ./scripts/run passes on a first run: the newcomer sees the
    demo guest boot instead of a stopped row."""
    home = None
    demo = False
    rest = list(argv)
    while rest:
        a = rest.pop(0)
        if a == "--home" and rest:
            home = rest.pop(0)
        elif a.startswith("--home="):
            home = a.split("=", 1)[1]
        elif a == "--demo":
            demo = True
        else:
            return False, None, False
    return True, home, demo


def main(argv: Sequence[str] | None = None) -> int:
    # Everything we create (the database, which may hold secrets in qemu_args, logs, disks made
    # by qemu-img) is the user's alone, whatever their umask; runners inherit this too.
    os.umask(0o077)
    argv = list(sys.argv[1:] if argv is None else argv)
    tui, home, demo = _tui_args(argv)
    if tui:
        from maqet_tui.common.paths import Paths
        from maqet_tui.common.privacy import warn_if_open
        from maqet_tui.tui.run import run_tui

        # Said before the TUI takes the terminal (it captures stderr), so the line is still on
        # screen when the TUI exits.
        warn_if_open(Paths.resolve(home).home)

        return int(run_tui(home, demo=demo))
    from maqet_tui.cli.main import main as cli_main

    return int(cli_main(argv))


if __name__ == "__main__":
    sys.exit(main())
