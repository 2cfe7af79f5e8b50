"""Async workers started from a coroutine *function*, never a coroutine object.

A worker that is cancelled before it starts (`exclusive` replacing it, the cursor moving on, the
app quitting) never awaits what it was given: a coroutine object made for it is then garbage with
a "coroutine ... was never awaited" warning. A function (or a partial of one) is only called when
the worker runs. Textual's `WorkType` union cannot infer the result type from a coroutine function
for mypy, hence the one cast here rather than one at every call.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from textual.dom import DOMNode
from textual.worker import Worker

AsyncWork = Callable[[], Coroutine[Any, Any, None]]


def start(node: DOMNode, work: AsyncWork, **options: Any) -> Worker[None]:
    """`node.run_worker(work, **options)` for a coroutine function or a partial of one."""
    return cast("Worker[None]", node.run_worker(cast(Any, work), **options))
