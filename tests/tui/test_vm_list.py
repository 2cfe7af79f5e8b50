"""The VM list at a small terminal with many VMs: widths, order, filter, marks, footer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.widgets.vm_table import VMTable

from .conftest import main_screen, table_names, vm_id, wait_until

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
