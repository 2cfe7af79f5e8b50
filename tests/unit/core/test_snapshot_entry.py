"""Snapshot listings read the guest clock whole: seconds and the nanoseconds past them."""

from __future__ import annotations

from maqet_tui.core.snapshots import snapshot_entry


def test_vm_clock_counts_whole_seconds() -> None:
    """Reported: the VM CLOCK column showed 0:00:00 always (only vm-clock-nsec was read)."""
    listed = {
        "name": "before-upgrade",
        "vm-state-size": 1234,
        "date-sec": 1700000000,
        "vm-clock-sec": 3725,
        "vm-clock-nsec": 500_000_000,
    }
    entry = snapshot_entry(listed)
    assert entry["vm_clock_ns"] == 3725_500_000_000
    assert (entry["tag"], entry["vm_state_size"], entry["date"]) == (
        "before-upgrade",
        1234,
        1700000000,
    )


def test_an_offline_snapshot_has_no_guest_clock() -> None:
    assert snapshot_entry({"name": "cold"})["vm_clock_ns"] == 0
