"""Pieces of text joined into few sends: the first at once, the rest once per window."""

from __future__ import annotations

import asyncio

from maqet_tui.common.coalesce import Coalescer


async def test_the_first_piece_goes_at_once_and_the_rest_wait_for_the_window() -> None:
    sent: list[str] = []
    out = Coalescer(sent.append, 0.05)
    out.add("a")
    assert sent == ["a"]  # after a quiet spell: at once (an echo is never held back)
    out.add("b")
    out.add("c")
    assert sent == ["a"]
    deadline = asyncio.get_running_loop().time() + 10
    while len(sent) < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)  # the window's own timer sends them
    assert sent == ["a", "bc"]  # joined into one send


async def test_flush_sends_what_waits_and_nothing_twice() -> None:
    sent: list[str] = []
    out = Coalescer(sent.append, 60.0)
    out.add("x")
    out.add("y")
    out.add("z")
    out.flush()
    out.flush()
    assert sent == ["x", "yz"]
