"""AF_UNIX sockets at any path length.

`sun_path` holds 107 usable bytes, so a socket under a deep home could be neither bound nor
reached by its full path. The directory is opened instead (O_PATH) and the socket named through
`/proc/self/fd/N/NAME`, which the kernel resolves like the real path: permissions and ownership are
those of the real directory, nothing is copied or linked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with its NUL; Python refuses 108


def _via_dir(path: str, act: Callable[[str], None]) -> None:
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        act(path)
        return
    head, name = os.path.split(path)
    dfd = os.open(head or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        act(f"/proc/self/fd/{dfd}/{name}")
    finally:
        os.close(dfd)


def connect(sock: socket.socket, path: str | os.PathLike[str]) -> None:
    """`sock.connect(path)`, for a path of any length."""
    _via_dir(os.fspath(path), sock.connect)


def bind(sock: socket.socket, path: str | os.PathLike[str]) -> None:
    """`sock.bind(path)`, for a path of any length."""
    _via_dir(os.fspath(path), sock.bind)


def connected(path: str | os.PathLike[str], timeout: float | None) -> socket.socket:
    """A new stream socket connected to `path` (OSError as connect raises it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        connect(s, path)
    except BaseException:
        s.close()
        raise
    return s
