"""`?`: every key, grouped, generated from the bindings themselves so it can never go stale.

Sized for 80x24: sections come in the order given (most used first), stacked without blank lines,
so the lifecycle, list and tab keys all show before anything needs scrolling.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, Iterable[BindingType]]
EXTRA: list[tuple[str, str, str]] = [
    ("VM list", "j / k", "Down / up (arrows too)"),
    ("VM list", "g / G", "First / last VM (home, end)"),
    ("Details", "tab", "Next pane (shift+tab: back)"),
    ("QMP pane", "↑ / ↓", "History"),
    ("Console pane", "↑ / ↓", "Line history"),
    ("General", "ctrl+p", 'Palette: "Start web-1"...'),
]
TAB_SUFFIX = " tab"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", key_display="esc")]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections

    def _rows(self) -> dict[str, list[tuple[str, str]]]:
        seen: set[tuple[str, str]] = set()
        rows: dict[str, list[tuple[str, str]]] = {section: [] for section, _b in self.sections}
        for section, key, text in EXTRA:  # keys that are not bindings of ours come first
            rows.setdefault(section, []).append((key, text))
        for section, bindings in self.sections:
            for b in bindings:
                if not isinstance(b, Binding) or not b.description:
                    continue
                key = b.key_display or ", ".join(
                    self.app.get_key_display(Binding(k.strip(), "")) for k in b.key.split(",")
                )
                text = b.tooltip or b.description  # the footer's word, or the longer story
                if (key, text) not in seen:
                    seen.add((key, text))
                    rows.setdefault(section, []).append((key, text))
        return {section: _merge_brackets(_merge_digits(items)) for section, items in rows.items()}

    def _table(self) -> Table:
        """Sections in two columns when there is room (80 columns is enough), else one."""
        sections: list[tuple[str, Table]] = []
        for section, items in self._rows().items():
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="bold cyan", no_wrap=True, min_width=7)
            grid.add_column()
            for key, text in items:
                grid.add_row(key, text)
            sections.append((section, grid))
        columns = 2 if self.app.size.width >= 76 else 1
        outer = Table.grid(padding=(0, 2), expand=True)
        for _ in range(columns):
            outer.add_column(ratio=1)
        cells = _split(sections, columns)
        outer.add_row(*(_stack(c) for c in cells))
        return outer

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("Keys  (esc closes)", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(self._table())

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


def _stack(sections: list[tuple[str, Table]]) -> Table:
    stack = Table.grid()
    stack.add_column()
    for title, grid in sections:
        stack.add_row(Text(title, style="bold underline"))
        stack.add_row(grid)
    return stack


def _merge_digits(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The tab keys 1, 2, ... as one row ("1-6  Tabs: Overview, QMP, ..."): six rows say less."""
    digits = [(k, t) for k, t in items if k.isdigit()]
    if len(digits) < 3:
        return items
    names = ", ".join(t.removesuffix(TAB_SUFFIX) for _k, t in digits)
    merged = (f"{digits[0][0]}-{digits[-1][0]}", f"Tabs: {names}")
    first = items.index(digits[0])
    rest = [item for item in items if not item[0].isdigit()]
    return [*rest[:first], merged, *rest[first:]]


def _merge_brackets(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`[` and `]` (previous and next tab) as one row: "[ / ]  Previous / next tab"."""
    keys = [k for k, _t in items]
    if "[" not in keys or "]" not in keys:
        return items
    first = keys.index("[")
    rest = [item for item in items if item[0] not in ("[", "]")]
    return [*rest[:first], ("[ / ]", "Previous / next tab"), *rest[first:]]


def _split(sections: list[tuple[str, Table]], columns: int) -> list[list[tuple[str, Table]]]:
    """Sections in order, cut where the taller column is shortest (a section is never split)."""
    if columns == 1 or len(sections) < 2:
        return [sections]
    heights = [grid.row_count + 1 for _s, grid in sections]  # and the title
    best = min(
        range(1, len(sections)),
        key=lambda cut: max(sum(heights[:cut]), sum(heights[cut:])),
    )
    return [sections[:best], sections[best:]]
