"""Lifecycle operations on VMs, run off the UI thread and reported through notifications.

Each call is one manager call on a daemon thread (see services.threads): the UI stays live while a
start waits for QMP or a stop waits for the guest, and a failure becomes one line, never a
traceback. An action on one VM says how it went in one notification; an action on several
(marked) VMs runs them side by side and says how they went in one summary when the last is done
("started 9 of 10: web-3 failed: ..."), not one toast per VM over the list.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from maqet_tui.common.errors import MaqetError
from maqet_tui.protocol import wire as proto
from maqet_tui.tui import workers
from maqet_tui.tui.hostrows import ident
from maqet_tui.tui.messages import BulkFinished, OpFinished
from maqet_tui.tui.services.threads import run_blocking

if TYPE_CHECKING:
    from maqet_tui.core.manager import Manager
    from maqet_tui.tui.app import MaqetApp

STOP_TIMEOUT = proto.STOP_TIMEOUT_DEFAULT
PAST = {
    "start": "started",
    "stop": "stopped",
    "force stop": "force-stopped",
    "pause": "paused",
    "resume": "resumed",
    "reset": "reset",
    "delete": "deleted",
}


def error_text(exc: BaseException) -> str:
    """One line for the user: our own errors as they are, anything else marked as internal."""
    if isinstance(exc, MaqetError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def summary(past: str, total: int, failures: list[tuple[str, str]]) -> str:
    """One line for a bulk action: "started 9 of 10: web-3 failed: <reason>"."""
    line = f"{past} {total - len(failures)} of {total}"
    if failures:
        line += ": " + "; ".join(f"{name} failed: {reason}" for name, reason in failures)
    return line


class Ops:
    def __init__(self, app: MaqetApp) -> None:
        self.app = app

    @property
    def manager(self) -> Manager:
        return self.app.require_manager()

    def run(
        self, what: str, done: str, fn: Callable[..., Any], *args: Any, vm_ids: list[str]
    ) -> None:
        async def job() -> None:
            try:
                await run_blocking(fn, *args)
            except Exception as exc:
                self.app.post_message(OpFinished(what, done, error_text(exc), vm_ids))
            else:
                self.app.post_message(OpFinished(what, done, None, vm_ids))

        workers.start(self.app, job, name=what, group="ops", exit_on_error=False)

    def _call(self, method: str, vm: dict[str, Any], *args: Any) -> Any:
        """`method` of the backend that owns `vm` (the local Manager or its host's agent), with
        the id that backend knows the VM by; on a worker thread, never on the UI's."""
        return getattr(self.app.backend(vm), method)(ident(vm), *args)

    def _each(
        self, verb: str, state: str, vms: list[dict[str, Any]], method: str, *args: Any
    ) -> None:
        if len(vms) > 1:
            self._bulk(verb, vms, method, *args)
            return
        for vm in vms:
            where = f" on {vm['host']}" if vm.get("host") else ""
            self.run(
                f"{verb} {vm['name']}{where}",
                f"{vm['name']}{where} {state}",
                self._call,
                method,
                vm,
                *args,
                vm_ids=[vm["id"]],
            )

    def _bulk(self, verb: str, vms: list[dict[str, Any]], method: str, *args: Any) -> None:
        """All of `vms` at once, then one summary (the order of failures is the order given)."""
        ids = [str(vm["id"]) for vm in vms]

        async def job() -> None:
            outcomes = await asyncio.gather(
                *(run_blocking(self._call, method, vm, *args) for vm in vms),
                return_exceptions=True,
            )
            failures = [
                (str(vm["name"]), error_text(out))
                for vm, out in zip(vms, outcomes, strict=True)
                if isinstance(out, BaseException)
            ]
            text = summary(PAST.get(verb, f"{verb}:"), len(vms), failures)
            self.app.post_message(BulkFinished(text, bool(failures), ids))

        workers.start(
            self.app, job, name=f"{verb} {len(vms)} VMs", group="ops", exit_on_error=False
        )

    def start(self, vms: list[dict[str, Any]]) -> None:
        self._each("start", "is running", vms, "start")

    def stop(self, vms: list[dict[str, Any]], force: bool) -> None:
        verb = "force stop" if force else "stop"
        self._each(verb, "is stopped", vms, "stop", force, STOP_TIMEOUT)

    def pause(self, vms: list[dict[str, Any]]) -> None:
        self._each("pause", "is paused", vms, "pause")

    def resume(self, vms: list[dict[str, Any]]) -> None:
        self._each("resume", "is running", vms, "resume")

    def reset(self, vms: list[dict[str, Any]]) -> None:
        self._each("reset", "was reset", vms, "reset")

    def delete(self, vms: list[dict[str, Any]], force: bool) -> None:
        self._each("delete", "was deleted", vms, "remove", force)

    def reconcile(self, vm_id: str) -> None:
        """After a runner vanished: let the manager record what happened to it (crashed...)."""

        async def job() -> None:
            # Deleted meanwhile, or the store is busy: the next change will tell either way.
            with contextlib.suppress(Exception):
                await run_blocking(self.manager.get, vm_id)
            self.app.poke_store()

        workers.start(self.app, job, name=f"reconcile {vm_id}", group="ops", exit_on_error=False)
