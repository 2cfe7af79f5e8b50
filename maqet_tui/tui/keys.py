"""Keys one at a time: each goes to what has focus once the keys before it have been handled.

Textual hands a key to the focused widget's queue the moment it arrives; when several arrive in
one read (over SSH, or typing ahead of a busy screen) they all go to the widget focused before
the first was handled. So `tab 9 6` put `96` in the field tab was leaving, and `2query-status`
went to the VM list (whose `q` quits) rather than to the prompt `2` focuses.

Here a key is routed only when the one before it is done: after it reached the focused widget,
a marker follows it up the same chain of queues (each node's own messages first, so what the
key posted to it, a row selection for instance, is handled too), and only when the marker is
back at the app is the next key routed. A marker that is lost (its widget removed on the way)
is given up on after `RELEASE_AFTER` seconds, so keys can stall but never stop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.timer import Timer

RELEASE_AFTER = 1.0
Route = Callable[[events.Key], Awaitable[None]]


class KeyGate:
    def __init__(self, app: App[Any], route: Route) -> None:
        self.app = app
        self.route = route  # Textual's own handling of a key that has just arrived
        self.waiting: deque[events.Key] = deque()
        self.closed = False  # quitting: keys still arriving are not acted on
        self._busy: int | None = None  # the number of the key in flight
        self._count = 0
        self._since = 0.0
        self._watchdog: Timer | None = None

    def close(self) -> None:
        self.closed = True
        self.waiting.clear()

    async def arrived(self, key: events.Key) -> None:
        if self.closed:
            return
        self.waiting.append(key)
        await self._next()

    async def _next(self) -> None:
        while self.waiting and self._busy is None and not self.closed:
            key = self.waiting.popleft()
            target: MessagePump = self.app.focused or self.app.screen
            self._count += 1
            self._busy, self._since = self._count, time.monotonic()
            await self.route(key)
            start = target if key.is_forwarded else self.app
            if not start.call_later(self._relay, start, self._count, False):
                self.app.call_later(self._done, self._count)
            if self._watchdog is None:
                self._watchdog = self.app.set_interval(RELEASE_AFTER / 2, self._check)

    def _relay(self, node: MessagePump, number: int, settled: bool) -> None:
        """At `node` after the key: once more behind what the key posted here, then up."""
        if number != self._busy:
            return
        if not settled:
            step: tuple[MessagePump, bool] = (node, True)
        elif node is self.app:
            self.app.call_later(self._done, number)
            return
        else:
            step = (node._parent or self.app, False)
        if not step[0].call_later(self._relay, step[0], number, step[1]):
            self.app.call_later(self._done, number)

    async def _done(self, number: int) -> None:
        if number == self._busy:
            self._busy = None
            await self._next()

    async def _check(self) -> None:
        if self._busy is not None and time.monotonic() - self._since > RELEASE_AFTER:
            await self._done(self._busy)
