"""The keys that reach into a guest with a network: `x` opens SSH, `f` edits port forwards.

`x` suspends the TUI and runs `maqet-tui ssh NAME` in this very terminal (as `git commit` opens
an editor), so the session is a real terminal with everything OpenSSH offers; the TUI comes back
when it ends. It is the CLI command rather than ssh itself because that waits for a guest still
booting and says so, with the same key, user and known_hosts as on the command line.

A VM on another host gets the same keys through its host: `x` runs `maqet-tui --host HOST ssh
NAME` (an ssh channel to the host, where `maqet-tui ssh` reaches the guest through the forward on
the host's 127.0.0.1), and `f` lists and changes the forwards through the host's agent.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import SuspendNotSupported
from textual.binding import Binding

from maqet_tui.common.errors import MaqetError
from maqet_tui.core.net_spec import USER_MODES
from maqet_tui.tui.hostrows import UNKNOWN, host_of, ident
from maqet_tui.tui.screens.forwards import Forwards, ForwardsScreen, LocalForwards
from maqet_tui.tui.vmview import ssh_port

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]
GUEST_ACTIONS = frozenset({"ssh", "forwards"})
GUEST_WHY = {"ssh_why": "ssh", "forwards_why": "forwards"}


def ssh_words(vm: VM) -> list[str]:
    """`ssh NAME`, after `--host HOST` for a VM on another host: what the user would type."""
    host = host_of(vm)
    return [*(["--host", host] if host else []), "ssh", str(vm["name"])]


def ssh_command(home: str, vm: VM) -> list[str]:
    """The argv `x` runs: this interpreter's own CLI, on the TUI's home (where the hosts are
    registered)."""
    return [sys.executable, "-m", "maqet_tui", "--home", home, *ssh_words(vm)]


class GuestActionsMixin:
    GUEST_BINDINGS: ClassVar[list[Binding]] = [
        Binding("x", "ssh", "SSH", tooltip="A shell in the guest over SSH, in this terminal"),
        Binding("f", "forwards", "Fwds", tooltip="Port forwards: list, add, remove"),
    ]
    # Tried when the keys above cannot apply (as `t` on the Snapshots tab): a key that silently
    # does nothing reads as broken, so it says why instead.
    GUEST_WHY_BINDINGS: ClassVar[list[Binding]] = [
        Binding("x", "ssh_why", show=False),
        Binding("f", "forwards_why", show=False),
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
        if vm.get("status") == UNKNOWN:  # its host is out of reach: nothing to ask
            return False
        if action == "ssh":
            return vm.get("status") == "running" and ssh_port(vm) is not None
        return (vm.get("config") or {}).get("net") in USER_MODES

    def guest_refusal(self, action: str) -> str | None:
        """Why `action` (ssh, forwards) cannot apply to the selected VM; None when it can, or
        when no VM is selected (nothing to explain)."""
        vm = self._selected()
        if vm is None or self.maqet.manager is None or self.guest_action_ok(action):
            return None
        name, status = vm["name"], vm.get("status")
        if status == UNKNOWN:
            return f"{name}'s host is out of reach; try again when it is back"
        net = (vm.get("config") or {}).get("net")
        if net not in USER_MODES:
            return (
                f"{name} has network {net or 'none'}: only user-mode networks (isolated, user) "
                f"have forwards; stopped, it can be given one: maqet-tui set {name} net=isolated"
            )
        if action == "ssh" and ssh_port(vm) is None:
            return f"{name} has no SSH forward: press f and add one, e.g. tcp:2222:22"
        if action == "ssh":
            return f"{name} is {status}: SSH needs it running (s starts it)"
        return None

    def action_ssh_why(self) -> None:
        self._say_why("ssh")

    def action_forwards_why(self) -> None:
        self._say_why("forwards")

    def _say_why(self, action: str) -> None:
        reason = self.guest_refusal(action)
        if reason is not None:
            self.maqet.notify(reason, severity="warning", timeout=8)

    def action_ssh(self) -> None:
        vm = self._selected()
        if vm is None or not self.guest_action_ok("ssh"):
            return
        manager = self.maqet.require_manager()
        argv = ssh_command(str(manager.paths.home), vm)
        try:
            with self.maqet.suspend():
                code = subprocess.call(argv)
        except SuspendNotSupported:
            self.maqet.notify(
                f"this terminal cannot hand over to ssh; run: maqet-tui {shlex.join(ssh_words(vm))}",
                severity="warning",
            )
            return
        if code not in (0, 130):  # 130: the user left with ctrl+c
            self.maqet.notify(f"ssh {vm['name']} ended with exit status {code}", timeout=6)

    def action_forwards(self) -> None:
        vm = self._selected()
        if vm is None or not self.guest_action_ok("forwards"):
            return
        host = host_of(vm)
        try:
            backend: Forwards = (
                LocalForwards(self.maqet.require_manager())
                if host is None
                else self.maqet.remote(vm)
            )
        except MaqetError as exc:  # its host was removed a moment ago
            self.maqet.notify(str(exc), severity="warning")
            return
        self.maqet.push_screen(ForwardsScreen(backend, ident(vm), str(vm["name"]), host))
