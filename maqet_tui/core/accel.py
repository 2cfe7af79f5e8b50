"""The accelerator a VM really runs with, and why KVM could not be used.

A definition says `auto` (or `kvm`, `tcg`); what QEMU got is decided at start
(config.resolve_accel) and stays in QEMU's own argv, which /proc shows. Reading it there is
exact even when MAQET_TUI_ACCEL or /dev/kvm's permissions changed since the start.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from maqet_tui.common.procs import cmdline
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.config import identity_tag

KVM_DEVICE = "/dev/kvm"
KVM_HINT = (
    f"({KVM_DEVICE} is not accessible to this user: add it to the kvm group or use --accel tcg)"
)


def accel_in_use(vm: dict[str, Any]) -> str | None:
    """`kvm` or `tcg` while the VM's QEMU runs (from its argv), else None.

    The argv must carry this VM's identity tag: a recycled pid is some other process."""
    pid = vm.get("qemu_pid")
    if not pid or vm.get("status") not in LIVE:
        return None
    argv = cmdline(int(pid))
    if not any(a.endswith(f"process={identity_tag(str(vm['id']))}") for a in argv):
        return None
    for opt, value in itertools.pairwise(argv):
        if opt in ("-accel", "--accel"):
            return value.split(",", 1)[0]
    return None


def kvm_hint(accel: str, error: str) -> str:
    """`error` with KVM_HINT appended when the start asked for KVM and this user cannot open
    /dev/kvm: QEMU's own words are only `Permission denied` or `No such file or directory`."""
    if accel == "kvm" and not os.access(KVM_DEVICE, os.R_OK | os.W_OK) and KVM_HINT not in error:
        return f"{error} {KVM_HINT}"
    return error
