"""sys.stdout and sys.stderr per thread, so that the agent can run several CLI subcommands at
once in its own process (no interpreter start per command) and send each one's output back as
events of its own request.

`install` puts routing streams in place of sys.stdout/sys.stderr once; `captured` sends what the
calling thread writes to a sink, in whole lines (and whatever is left when the block ends).
Threads without a sink write where the streams went before.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Sink = Callable[[str, str], None]
"""sink(stream, text): stream is "stdout" or "stderr"."""
_local = threading.local()


class _Binary(io.RawIOBase):
    """`sys.stdout.buffer` of a routed stream (`logs` writes bytes)."""

    def __init__(self, text: _Route) -> None:
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._text.write(data.decode(errors="replace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


class _Route(io.TextIOBase):
    def __init__(self, name: str, fallback: Any) -> None:
        self.name_ = name
        self.fallback = fallback
        self._buffer = _Binary(self)

    @property
    def buffer(self) -> _Binary:
        return self._buffer

    def _pending(self) -> dict[str, list[str]] | None:
        return getattr(_local, "pending", None)

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        pending = self._pending()
        if pending is None:
            return int(self.fallback.write(s))
        parts = pending[self.name_]
        parts.append(s)
        if "\n" in s:
            self._emit(pending, keep_partial=True)
        return len(s)

    def _emit(self, pending: dict[str, list[str]], keep_partial: bool) -> None:
        text = "".join(pending[self.name_])
        head, nl, tail = text.rpartition("\n") if keep_partial else (text, "", "")
        out = head + nl
        pending[self.name_] = [tail] if tail else []
        if out:
            _local.sink(self.name_, out)

    def flush(self) -> None:
        pending = self._pending()
        if pending is None:
            self.fallback.flush()
        elif pending[self.name_]:
            self._emit(pending, keep_partial=False)

    def isatty(self) -> bool:
        return False


def install() -> None:
    """Route sys.stdout and sys.stderr through per-thread sinks (idempotent)."""
    if not isinstance(sys.stdout, _Route):
        sys.stdout = _Route("stdout", sys.stdout)
    if not isinstance(sys.stderr, _Route):
        sys.stderr = _Route("stderr", sys.stderr)


@contextmanager
def captured(sink: Sink) -> Iterator[None]:
    """What this thread prints in the block goes to `sink` (install() must have run)."""
    _local.pending = {"stdout": [], "stderr": []}
    _local.sink = sink
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _Route):
                stream.flush()
        _local.pending = None
