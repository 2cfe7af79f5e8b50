"""What every group of subcommands needs: the home's Manager or its Paths, built from the args.

Both are imported on use: `start` and `stop` never load the Manager (nor peewee).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from maqet_tui.common.ids import NAME_RULE

if TYPE_CHECKING:
    from maqet_tui.common.paths import Paths
    from maqet_tui.core.manager import Manager

NAME = "the VM's name or id"
NEW_NAME = NAME_RULE


def manager(args: argparse.Namespace) -> Manager:
    from maqet_tui.core.manager import Manager

    return Manager(getattr(args, "home", None))


def paths(args: argparse.Namespace) -> Paths:
    from maqet_tui.common.paths import Paths

    p = Paths.resolve(getattr(args, "home", None))
    p.ensure()
    return p
