"""`?`: every key, grouped, generated from the bindings themselves so it can never go stale."""

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
    ("Details", "tab", "Next pane (shift+tab: back)"),
    ("General", "ctrl+p", 'Palette: "Start web-1"...'),
]


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
        return rows

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
        # Fill column by column, balancing on row count.
        total = sum(grid.row_count + 1 for _s, grid in sections)
        cells: list[list[tuple[str, Table]]] = [[] for _ in range(columns)]
        used = 0
        for section, grid in sections:
            rows = grid.row_count + 1
            col = min(columns - 1, int((used + rows / 2) * columns / max(1, total)))
            cells[col].append((section, grid))
            used += rows
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
    for i, (title, grid) in enumerate(sections):
        if i:
            stack.add_row("")
        stack.add_row(Text(title, style="bold underline"))
        stack.add_row(grid)
    return stack
