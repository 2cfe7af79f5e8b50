"""Keeping a home private: one warning when the home itself is open to other users.

Files and directories we create are 0600 and 0700 whatever the umask (the console script and the
runner set umask 077; the store, the starter and the log writers also pass explicit modes). The
home may be the user's own directory (`--home`), which is theirs to chmod, not ours: we say so
once per home, and a marker file in it keeps every later command quiet.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

MARKER = ".open-home-warned"


def warn_if_open(home: Path) -> None:
    """Print one line on stderr if `home` is open to group or others, unless it was said before."""
    try:
        mode = stat.S_IMODE(os.stat(home).st_mode)
    except OSError:
        return  # not there yet: it will be created 0700
    if not mode & 0o077:
        return
    try:
        os.close(os.open(home / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError:
        pass  # cannot remember it (a read-only home): better said again than never
    print(
        f"warning: {home} is readable by other users (mode {mode:04o}); "
        f"VM logs and definitions may be exposed — chmod 700 {home}",
        file=sys.stderr,
    )
