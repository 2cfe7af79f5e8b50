"""The keys that reach into a guest with a network: `x` opens SSH, `f` edits port forwards.

`x` suspends the TUI and runs `maqet-tui ssh NAME` in this very terminal (as `git commit` opens
an editor), so the session is a real terminal with everything OpenSSH offers; the TUI comes back
when it ends. It is the CLI command rather than ssh itself because that waits for a guest still
booting and says so, with the same key, user and known_hosts as on the command line.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import SuspendNotSupported
from textual.binding import Binding

from maqet_tui.core.net_spec import USER_MODES
from maqet_tui.tui.screens.forwards import ForwardsScreen
from maqet_tui.tui.vmview import ssh_port

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]
GUEST_ACTIONS = frozenset({"ssh", "forwards"})


def ssh_command(home: str, name: str) -> list[str]:
    """The argv `x` runs: this interpreter's own CLI, on the TUI's home."""
    return [sys.executable, "-m", "maqet_tui", "--home", home, "ssh", name]


class GuestActionsMixin:
    GUEST_BINDINGS: ClassVar[list[Binding]] = [
        Binding("x", "ssh", "SSH", tooltip="A shell in the guest over SSH, in this terminal"),
        Binding("f", "forwards", "Fwds", tooltip="Port forwards: list, add, remove"),
    ]

    if TYPE_CHECKING:

        @property
        def selected_id(self) -> str | None: ...

        @property
        def maqet(self) -> MaqetApp: ...

    def _selected(self) -> VM | None:
        return self.maqet.vms.get(self.selected_id) if self.selected_id else None

    def guest_action_ok(self, action: str) -> bool:
        vm = self._selected()
        if vm is None or self.maqet.manager is None:
            return False
        if vm.get("host"):  # its forwards listen on its host's 127.0.0.1, not on this machine's
            return False
        if action == "ssh":
            return vm.get("status") == "running" and ssh_port(vm) is not None
        return (vm.get("config") or {}).get("net") in USER_MODES

    def action_ssh(self) -> None:
        vm = self._selected()
        if vm is None or not self.guest_action_ok("ssh"):
            return
        manager = self.maqet.require_manager()
        argv = ssh_command(str(manager.paths.home), str(vm["name"]))
        try:
            with self.maqet.suspend():
                code = subprocess.call(argv)
        except SuspendNotSupported:
            self.maqet.notify(
                f"this terminal cannot hand over to ssh; run: maqet-tui ssh {vm['name']}",
                severity="warning",
            )
            return
        if code not in (0, 130):  # 130: the user left with ctrl+c
            self.maqet.notify(f"ssh {vm['name']} ended with exit status {code}", timeout=6)

    def action_forwards(self) -> None:
        vm = self._selected()
        if vm is None or not self.guest_action_ok("forwards"):
            return
        manager = self.maqet.require_manager()
        self.maqet.push_screen(ForwardsScreen(manager, str(vm["id"]), str(vm["name"])))
