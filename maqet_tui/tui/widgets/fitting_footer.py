"""A footer that fits its width: at 80 columns a running VM's keys plus the Console's `i` are
wider than the terminal, and Textual's footer then cuts whatever comes last, `? Help` included.

Here the least needed keys leave the footer first (they all still work, and `?` lists every
key), so what is shown is whole and `? Help` is always there.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Actions whose keys leave a crowded footer first, first listed first. Keys not listed go only
# when these were not enough, rightmost first; help never goes.
DROP_FIRST = (
    "demo",
    "add",
    "delete",
    "reset",
    "force_stop",
    "filter",
    "edit",
    "forwards",
    "quit",
)
KEEP = ("help",)
PALETTE = 12  # "▏^p palette" and its margin, docked at the right


def key_width(key: FooterKey) -> int:
    """Columns of a compact footer key: its key, a space, its description, a space."""
    return len(key.key_display) + 1 + len(key.description) + 1


def fit(keys: list[FooterKey], width: int) -> set[int]:
    """Indexes of `keys` to leave out so the rest fit in `width` columns."""
    total = sum(key_width(k) for k in keys)
    order = sorted(
        (i for i, k in enumerate(keys) if k.action not in KEEP),
        key=lambda i: (
            DROP_FIRST.index(keys[i].action) if keys[i].action in DROP_FIRST else len(DROP_FIRST),
            -i,
        ),
    )
    dropped: set[int] = set()
    for i in order:
        if total <= width:
            break
        dropped.add(i)
        total -= key_width(keys[i])
    return dropped


class FittingFooter(Footer):
    _fitted_to = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        keys = [
            w for w in widgets if isinstance(w, FooterKey) and not w.has_class("-command-palette")
        ]
        self._fitted_to = self.size.width or self.app.size.width
        dropped = {id(keys[i]) for i in fit(keys, self._fitted_to - PALETTE)}
        yield from (w for w in widgets if id(w) not in dropped)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_to:
            self.call_after_refresh(self.recompose)
