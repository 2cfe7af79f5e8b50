"""The wire format's shared pieces as the clients use them: error responses, the line limit."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from maqet_tui.cli.console import _Session
from maqet_tui.common.errors import IPCError
from maqet_tui.core.ipc_client import IPCClient
from maqet_tui.protocol import wire as proto


def test_error_text_names_the_qmp_class() -> None:
    err = {"code": proto.QMP_ERROR, "message": "no such tag", "class": "GenericError"}
    assert proto.error_text(err) == (proto.QMP_ERROR, "GenericError: no such tag")
    assert proto.error_text({"code": proto.NOT_RUNNING, "message": "VM is stopped"}) == (
        proto.NOT_RUNNING,
        "VM is stopped",
    )


@pytest.mark.parametrize("err", [None, "text", {}, {"code": 3}, {"message": "m"}])
def test_error_text_of_malformed_errors_is_still_two_strings(err: object) -> None:
    code, text = proto.error_text(err)
    assert code == proto.UNKNOWN_ERROR and isinstance(text, str) and text


def test_ipc_error_default_code_is_the_protocols() -> None:
    assert IPCError("x").code == proto.IPC_ERROR


def _flood(sock: socket.socket, size: int) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(OSError):  # the client gave up on the line, as it should
            sock.sendall(b"x" * size)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


@contextlib.contextmanager
def fake_runner(tmp_path: Path) -> Iterator[tuple[str, Callable[[], socket.socket]]]:
    """A listening Unix socket standing in for a runner: (its path, accept)."""
    path = tmp_path / "r.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()
    try:
        yield str(path), lambda: srv.accept()[0]
    finally:
        srv.close()


def test_console_ends_on_a_line_over_the_limit(tmp_path: Path) -> None:
    """Before: the console client buffered an endless line without bound."""
    with fake_runner(tmp_path) as (path, accept):
        session = _Session(path, io.BytesIO(), "")
        peer = accept()
        sender = _flood(peer, proto.MAX_LINE + 100_000)
        while session.ended is None:
            session.pump()
            assert len(session.buf) <= proto.MAX_LINE + 65536
        assert "over" in session.ended and str(proto.MAX_LINE) in session.ended
        session.sock.close()
        sender.join(5)
        peer.close()


def test_blocking_client_refuses_a_line_over_the_limit(tmp_path: Path) -> None:
    with fake_runner(tmp_path) as (path, accept):
        client = IPCClient(path, timeout=10)
        peer = accept()
        sender = _flood(peer, proto.MAX_LINE + 100_000)
        with pytest.raises(IPCError) as info:
            client.read_message()
        assert info.value.code == proto.CLOSED
        sender.join(5)
        peer.close()


def test_console_reports_a_qmp_error_with_its_class(tmp_path: Path) -> None:
    with fake_runner(tmp_path) as (path, accept):
        session = _Session(path, io.BytesIO(), "")
        peer = accept()
        error = proto.error(1, proto.QMP_ERROR, "bad", **{"class": "GenericError"})
        peer.sendall(proto.encode(error))
        session.pump()
        assert session.ended == "GenericError: bad"
        session.sock.close()
        peer.close()
