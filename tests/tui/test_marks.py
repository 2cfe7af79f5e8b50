"""Marks: bulk actions reach every marked VM, the count is shown, and a bulk ends in one summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.ops import summary
from maqet_tui.tui.widgets.host_header import HostHeader

from .conftest import main_screen, notes, select, static_text, status_cell, table_names, wait_until

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def header(app: MaqetApp) -> str:
    return static_text(main_screen(app).query_one(HostHeader))


def test_summary_names_each_failure() -> None:
    assert summary("started", 3, []) == "started 3 of 3"
    assert summary("started", 10, [("web-3", "boom")]) == "started 9 of 10: web-3 failed: boom"
    assert summary("stopped", 3, [("a", "x"), ("b", "y")]) == (
        "stopped 1 of 3: a failed: x; b failed: y"
    )


async def test_marked_vms_hidden_by_the_filter_are_started_too(
    make_app: MakeApp, tiny_vm: TinyVM
) -> None:
    for name in ("alpha", "web-1", "web-2"):
        tiny_vm(name)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 3, "all listed")
        assert "marked" not in header(app)
        await pilot.press("space")  # alpha; the cursor moves on to web-1
        await pilot.press("space")  # web-1
        await wait_until(pilot, lambda: "2 marked" in header(app), "mark count shown")
        await pilot.press("slash", *"web-2", "enter")
        await wait_until(pilot, lambda: table_names(app) == ["web-2"], "filtered")
        assert "2 marked" in header(app)

        await pilot.press("s")
        await wait_until(
            pilot,
            lambda: "start: 2 marked VMs (2 hidden by the filter)" in notes(app),
            "the hidden marks are said",
        )
        await wait_until(pilot, lambda: "started 2 of 2" in notes(app), "one summary")
        assert "marked" not in header(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(table_names(app)) == 3, "filter cleared")
        for name in ("alpha", "web-1"):
            await wait_until(
                pilot,
                lambda: status_cell(app, name) == "running",  # noqa: B023
                f"{name} running",
            )
        assert status_cell(app, "web-2") == "stopped"
        assert not [n for n in notes(app) if "is running" in n], notes(app)


async def test_a_bulk_start_ends_in_one_summary_naming_the_failure(
    make_app: MakeApp, tiny_vm: TinyVM
) -> None:
    tiny_vm("vm1")
    tiny_vm("vm2", qemu_args=["-no-such-option"])
    tiny_vm("vm3")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 3, "all listed")
        await pilot.press("space", "space", "space")
        await wait_until(pilot, lambda: "3 marked" in header(app), "three marked")
        await pilot.press("s")
        await wait_until(
            pilot, lambda: any(n.startswith("started 2 of 3") for n in notes(app)), "summary"
        )
        said = next(n for n in notes(app) if n.startswith("started 2 of 3"))
        assert said.startswith("started 2 of 3: vm2 failed: "), said
        assert not [n for n in notes(app) if "is running" in n or "start vm" in n], notes(app)
        # The table follows the store, which may show the starts a moment after their answers.
        await wait_until(
            pilot,
            lambda: status_cell(app, "vm1") == status_cell(app, "vm3") == "running",
            "both running in the table",
        )

        # One VM, no marks: its own notification, as before.
        await select(pilot, app, "vm1")
        await pilot.press("p")
        await wait_until(pilot, lambda: "vm1 is paused" in notes(app), "single VM note")
