"""The agent's per-thread output routing: concurrent subcommands never mix their output."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from maqet_tui.fleet import capture


def test_each_thread_gets_its_own_output_in_whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    base_out, base_err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", base_out)
    monkeypatch.setattr(sys, "stderr", base_err)
    capture.install()
    got: dict[int, list[tuple[str, str]]] = {1: [], 2: []}
    barrier = threading.Barrier(2)

    def work(n: int) -> None:
        with capture.captured(lambda stream, text: got[n].append((stream, text))):
            barrier.wait()
            for i in range(50):
                print(f"t{n} line", i, end="")
                print()
            sys.stderr.write(f"t{n} err\n")
            sys.stdout.buffer.write(f"t{n} bytes ".encode())  # no newline: flushed at the end

    threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("outside")
    for n in (1, 2):
        out = "".join(text for stream, text in got[n] if stream == "stdout")
        assert out == "".join(f"t{n} line {i}\n" for i in range(50)) + f"t{n} bytes "
        assert [text for stream, text in got[n] if stream == "stderr"] == [f"t{n} err\n"]
    assert base_out.getvalue() == "outside\n" and base_err.getvalue() == ""
