"""The serial console of a VM on another host: `maqet-tui console VM` on that host, over its own
ssh channel on the host's shared connection, carrying raw bytes both ways.

The far side's console prints the guest's output (its recent tail first) on stdout and types
what it reads on stdin into the guest; its own messages go to stderr, which is not read here.
Ending the channel (another VM selected, the app quitting) ends the console there too, and
nothing else: the VM and its runner never depended on it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import Callable

from maqet_tui.tui.messages import ConsoleOpened

RemoteArgv = Callable[[str], list[str]]
"""The ssh argv of the console of the row `vm_id` (HOST:ID); MaqetError if there is none."""
Post = Callable[..., object]
PREFIX = "ssh:"
"""A console key's "socket path" for a remote VM: `ssh:HOST` (console_pane.console_key)."""
MAX_READ = 65536


async def run_remote(
    argv: list[str],
    vm_id: str,
    generation: int,
    outbox: asyncio.Queue[str],
    post: Post,
    add: Callable[[str], None],
) -> str:
    """Stream the console until the channel ends; `add` takes output text (a Batcher's add).
    Returns why it ended."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin
    post(ConsoleOpened(vm_id, generation))

    async def send() -> None:
        while True:
            data = await outbox.get()
            stdin.write(data.encode())
            await stdin.drain()

    sender = asyncio.create_task(send())
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        while chunk := await proc.stdout.read(MAX_READ):
            add(decoder.decode(chunk))
    except (OSError, ConnectionError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, ConnectionError):
            await sender
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        with contextlib.suppress(asyncio.CancelledError):
            await proc.wait()
    return f"the console's ssh channel ended (status {proc.returncode})"
