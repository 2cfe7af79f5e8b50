"""`run_tui`'s answer is the process's exit code: a crash inside the app must not read as 0."""

from __future__ import annotations

import pytest

from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.messages import ManagerReady
from maqet_tui.tui.run import exit_code, run_tui
from tests.helpers import Env


def test_a_crash_inside_the_app_exits_non_zero(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(self: MaqetApp) -> None:
        raise RuntimeError("deliberate")

    monkeypatch.setattr(MaqetApp, "on_mount", crash)
    assert run_tui(str(env.home), headless=True) != 0
    assert "deliberate" in capsys.readouterr().err  # Textual still shows the traceback


def test_a_clean_quit_exits_zero(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    ready = MaqetApp.on_manager_ready

    def ready_then_quit(self: MaqetApp, msg: ManagerReady) -> None:
        ready(self, msg)  # the store opened (by a thread that would otherwise outlive the test)
        self.exit()

    monkeypatch.setattr(MaqetApp, "on_manager_ready", ready_then_quit)
    assert run_tui(str(env.home), headless=True) == 0


def test_an_app_that_never_finished_is_no_success() -> None:
    assert exit_code(None) == 1 and exit_code(0) == 0 and exit_code(1) == 1
