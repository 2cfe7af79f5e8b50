"""The command palette (ctrl+p): "Start demo", "Stop web-1", "Pause db"... for every VM.

Only actions that apply to the VM's current status are offered, from the same table as the
footer, so the palette never proposes something that would fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from maqet_tui.tui.vmview import ACTION_TITLES, allowed

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

Command = tuple[str, str, Callable[[], object]]


class VMCommands(Provider):
    def _commands(self) -> Iterator[Command]:
        app: MaqetApp = self.app  # type: ignore[assignment]
        main = app.main
        if main is None:
            return
        yield ("Add VM", "Define a new VM (a)", main.action_add)
        yield ("Demo VM", "Make the demo VM, a real Linux guest (N)", main.action_demo)
        for vm in app.vms.values():
            for action, title in ACTION_TITLES.items():
                if allowed(action, vm.get("status")):
                    yield (
                        f"{title} {vm['name']}",
                        f"{vm['name']} is {vm['status']}",
                        partial(main.run_vm_action, str(vm["id"]), action),
                    )

    async def discover(self) -> Hits:
        for title, help_text, command in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)
