"""The VM list at a small terminal with many VMs: widths, order, filter, marks, footer."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from textual.widgets import Static
from textual.widgets._footer import FooterKey

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.widgets.vm_table import VMTable

from .conftest import (
    main_screen,
    notes,
    select,
    static_text,
    status_cell,
    table_names,
    vm_id,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]

LONG = "a-very-long-vm-name-that-someone-typed-for-a-lab-host-x1"  # 56 characters


def table(app: MaqetApp) -> VMTable:
    return main_screen(app).query_one(VMTable)


def columns_right_edge(app: MaqetApp, upto: str) -> int:
    """Where column `upto` ends, counted from the table's left edge."""
    t = table(app)
    edge = 0
    for key, column in t.columns.items():
        edge += column.get_render_width(t)
        if key == upto:
            return edge
    raise AssertionError(upto)


async def test_a_long_name_is_cut_so_the_key_columns_stay_visible(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    assert len(LONG) == 56
    tiny_vm(LONG)
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 2, "both listed")
        shown = table_names(app)[0]
        assert shown.endswith("…") and LONG.startswith(shown[:-1])
        assert columns_right_edge(app, "uptime") <= table(app).size.width - 1

        await pilot.resize_terminal(60, 24)
        await wait_until(
            pilot,
            lambda: columns_right_edge(app, "status") <= table(app).size.width,
            "STATUS visible at 60 columns",
        )

        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: table_names(app)[0].endswith("…"), "cut again")
        wide = columns_right_edge(app, "name")
        ident = vm_id(app, LONG)
        assert ident is not None
        manager.remove(ident)
        await wait_until(pilot, lambda: table_names(app) == ["vm1"], "long one gone")
        assert columns_right_edge(app, "name") < wide - 20  # NAME shrank back


def footer_keys(app: MaqetApp) -> dict[str, int]:
    """Action → right edge of its key in the footer, for the keys the footer shows."""
    return {key.action: key.region.right for key in app.screen.query(FooterKey)}


def footer_fits(app: MaqetApp) -> bool:
    """Every key the footer shows is on screen, none drawn over another."""
    spans = sorted((k.region.x, k.region.right) for k in app.screen.query(FooterKey))
    if not spans or spans[-1][1] > app.size.width or spans[-1][1] == 0:
        return False
    return all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))


async def test_footer_fits_80_columns_and_offers_what_applies(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "vm1 listed")
        await wait_until(pilot, lambda: "edit" in footer_keys(app), "edit offered")
        await wait_until(pilot, lambda: footer_fits(app), f"footer fits: {footer_keys(app)}")
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "running")
        await wait_until(pilot, lambda: "reset" in footer_keys(app), "reset offered")
        assert {"force_stop", "stop", "pause"} <= set(footer_keys(app))
        assert "edit" not in footer_keys(app)
        await wait_until(pilot, lambda: footer_fits(app), f"footer fits: {footer_keys(app)}")


async def test_force_stop_offered_while_stopping_and_edit_says_why_not(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")  # no guest OS: ACPI power-down is ignored, the graceful stop waits
    manager.start("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        await pilot.press("e")
        await wait_until(pilot, lambda: any("stop it to edit" in n for n in notes(app)), "why")
        assert any(n.startswith("vm1 is running") for n in notes(app))
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm stop")
        await pilot.press("y")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopping", "stopping")
        await wait_until(pilot, lambda: "force_stop" in footer_keys(app), "F offered")
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm force")
        await pilot.press("y")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "stopped")


async def test_filter_goes_to_the_first_match_and_says_when_none(
    make_app: MakeApp, tiny_vm: TinyVM
) -> None:
    for name in ("alpha", "beta", "gamma", "web-1", "web-2"):
        tiny_vm(name)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 5, "all listed")
        await select(pilot, app, "gamma")
        screen = main_screen(app)
        await pilot.press("slash", *"web")
        await wait_until(pilot, lambda: table_names(app) == ["web-1", "web-2"], "filtered")
        await wait_until(pilot, lambda: screen.shown_id == vm_id(app, "web-1"), "first match")
        assert table(app).selected_id == vm_id(app, "web-1")

        nomatch = screen.query_one("#nomatch", Static)
        assert not nomatch.display
        await pilot.press(*"xyz")
        await wait_until(pilot, lambda: table_names(app) == [], "nothing matches")
        assert nomatch.display and "no VM matches 'webxyz'" in static_text(nomatch)
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(table_names(app)) == 5, "filter cleared")
        assert not nomatch.display


async def test_natural_order_and_first_last_keys(make_app: MakeApp, tiny_vm: TinyVM) -> None:
    for name in ("vm10", "vm2", "Vm3", "vm1"):
        tiny_vm(name)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 4, "all listed")
        assert table_names(app) == ["vm1", "vm2", "Vm3", "vm10"]
        screen = main_screen(app)
        for key, name in (("G", "vm10"), ("g", "vm1"), ("end", "vm10"), ("home", "vm1")):
            await pilot.press(key)
            await wait_until(pilot, lambda: screen.shown_id == vm_id(app, name), f"{key}: {name}")  # noqa: B023
        assert table(app).scroll_x == 0


async def test_a_crash_elsewhere_is_notified(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")
    tiny_vm("vm2")
    qemu_pid = manager.start("vm2")["qemu_pid"]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm2") == "running", "vm2 running")
        await wait_until(
            pilot, lambda: main_screen(app).shown_id == vm_id(app, "vm1"), "vm1 selected"
        )
        os.kill(qemu_pid, signal.SIGKILL)
        await wait_until(
            pilot, lambda: any(n.startswith("vm2 crashed") for n in notes(app)), "crash said"
        )
        said = next(n for n in notes(app) if n.startswith("vm2 crashed"))
        assert "SIGKILL" in said, said
        assert main_screen(app).shown_id == vm_id(app, "vm1")


async def test_the_selected_row_stays_visible_after_a_resize(
    make_app: MakeApp, tiny_vm: TinyVM
) -> None:
    for i in range(1, 27):
        tiny_vm(f"vm{i}")
    app = make_app()
    async with app.run_test(size=(80, 60)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 26, "all listed")
        await pilot.press("G")
        await wait_until(pilot, lambda: main_screen(app).shown_id == vm_id(app, "vm26"), "last")
        await pilot.resize_terminal(80, 24)
        t = table(app)
        await wait_until(pilot, lambda: t.size.height < 20, "table shrank")

        def shown() -> range:  # below the header line, as many rows as the table is high
            return range(round(t.scroll_y), round(t.scroll_y) + t.size.height - 1)

        await wait_until(pilot, lambda: t.cursor_row in shown(), "cursor visible")
        assert t.selected_id == vm_id(app, "vm26")
