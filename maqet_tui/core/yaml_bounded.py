"""Loading YAML that may come from anywhere without letting it cost more than it weighs.

PyYAML's safe loader builds no arbitrary objects, but an alias is a reference: a few hundred
bytes of nested anchors describe billions of values, and anything that walks the result (a deep
merge, an error message quoting a value) pays for all of them. Here the composed node graph is
measured first, each alias counted at every use, and refused past a small budget before a single
Python object is built; nesting depth, self-referencing aliases and numbers Python will not
convert are refused too, each as a one-line ConfigError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from maqet_tui.common.errors import ConfigError

MAX_FILE = 1 << 20
# What one document may expand to (a VM definition is a few dozen values).
MAX_NODES = 10_000
MAX_TEXT = MAX_FILE  # characters of all scalars, keys and values
MAX_DEPTH = 20


class _TooBig(Exception):
    pass


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than MAX_DEPTH while composing (the composer
    recurses, so a file of brackets would otherwise end in a RecursionError)."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(f"nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _expanded(
    node: yaml.Node, sizes: dict[int, tuple[int, int]], open_: set[int]
) -> tuple[int, int]:
    """(nodes, characters) of `node` with every alias expanded, refused past the budget.

    An alias is the very node its anchor names, so each distinct node is measured once (`sizes`)
    and its size added at each use: the bill for what Python would build from it, paid before
    anything is built.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _TooBig("an alias refers to the node that contains it")
    if isinstance(node, yaml.ScalarNode):
        size = (1, len(node.value))
    else:
        open_.add(key)
        children = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [child for pair in node.value for child in pair]
        )
        nodes, chars = 1, 0
        for child in children:
            n, c = _expanded(child, sizes, open_)
            nodes, chars = nodes + n, chars + c
            if nodes > MAX_NODES or chars > MAX_TEXT:
                raise _TooBig(
                    f"expands to more than {MAX_NODES} values or {MAX_TEXT} characters "
                    "(aliases counted at each use)"
                )
        open_.discard(key)
        size = (nodes, chars)
    sizes[key] = size
    return size


def parse(raw: bytes | str, where: str | Path) -> Any:
    """The YAML document in `raw` (at most MAX_FILE bytes; errors start with `where`: the file or
    the key it is for), refused with a ConfigError if it is not valid YAML or would expand past
    the budget."""
    loader = _Loader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded(node, {}, set())
        return loader.construct_document(node)
    except _TooBig as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{line}") from None
    except (ValueError, OverflowError):  # an integer past Python's digit limit, a bad date
        raise ConfigError(f"{where}: not valid YAML (a number or a date out of range)") from None
    finally:
        loader.dispose()
