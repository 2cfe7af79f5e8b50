"""Daemon threads for blocking work, so the UI loop never waits and quitting never does either.

Textual's thread workers run on the loop's default executor, whose threads the interpreter joins at
exit: quitting during a 30 s graceful stop would hang the terminal for 30 s after the UI vanished.
The operations themselves are owned by the runners (a stop continues without us), so a daemon
thread that dies with the process loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from textual.message import Message

from maqet_tui.core.watch import release_thread

T = TypeVar("T")


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` on a fresh daemon thread and await its result (exceptions propagate)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle_result(value: T) -> None:
        if not fut.done():
            fut.set_result(value)

    def settle_error(exc: BaseException) -> None:
        if not fut.done():
            fut.set_exception(exc)

    def deliver(settle: Callable[[Any], None], outcome: Any) -> None:
        # The app may have quit while we worked (the VM's runner finishes what we asked):
        # its loop is closed then and nobody waits for the answer.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, outcome)

    def target() -> None:
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:
            deliver(settle_error, exc)
        else:
            deliver(settle_result, value)
        finally:
            # peewee keeps one connection per thread; this thread is about to end.
            release_thread()

    threading.Thread(target=target, name=getattr(fn, "__name__", "blocking"), daemon=True).start()
    return await fut


class ServiceThread:
    """A long-lived loop on its own daemon thread, stopped by `stop()` and woken by `poke()`."""

    name = "service"

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()

    def join(self, timeout: float = 2.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def poke(self) -> None:
        self._poke.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep until poked, stopped or `timeout`; True if poked (and not stopped)."""
        poked = self._poke.wait(timeout)
        self._poke.clear()
        return poked and not self._stop.is_set()

    def post(self, message: Message) -> None:
        if not self._stop.is_set():
            self._post(message)

    def _main(self) -> None:
        try:
            self.run()
        finally:
            release_thread()

    def run(self) -> None:
        raise NotImplementedError
