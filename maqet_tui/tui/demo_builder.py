"""Making the demo VM from the TUI: `ensure_demo` on a daemon thread, progress as messages.

The first build downloads Debian packages and takes a while; the app owns the job (not the
dialog showing it) so hiding the dialog loses nothing, and a second request while one runs just
shows the running one. `post_message` is thread-safe, so the progress callback may call it from
the build thread directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maqet_tui.core.demo import ensure_demo
from maqet_tui.tui import workers
from maqet_tui.tui.messages import DemoFinished, DemoProgress
from maqet_tui.tui.ops import error_text
from maqet_tui.tui.services.threads import run_blocking

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp


class DemoBuilder:
    def __init__(self, app: MaqetApp) -> None:
        self.app = app
        self.running = False
        self.last = DemoProgress("preparing the demo guest", None)
        self.result: DemoFinished | None = None

    def start(self) -> None:
        if self.running:
            return
        manager = self.app.require_manager()
        self.running = True
        self.result = None
        self.last = DemoProgress("preparing the demo guest", None)

        def progress(step: str, fraction: float | None) -> None:
            self.app.post_message(DemoProgress(step, fraction))

        async def job() -> None:
            try:
                vm, created = await run_blocking(ensure_demo, manager, progress)
            except Exception as exc:
                self.app.post_message(DemoFinished(None, error=error_text(exc)))
            else:
                self.app.post_message(DemoFinished(vm, created))

        workers.start(self.app, job, name="demo", group="demo", exit_on_error=False)

    def progressed(self, msg: DemoProgress) -> None:
        if self.running:
            self.last = msg

    def finished(self, msg: DemoFinished) -> None:
        self.running = False
        self.result = msg
