"""Messages the background services post to the app.

Services run on their own threads or tasks and never touch widgets; these small immutable records
are the only thing that crosses over, so every UI change happens on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

VM = dict[str, Any]


@dataclass(frozen=True)
class HostSample:
    cores: int
    load: tuple[float, float, float]
    mem_used: int
    mem_total: int


@dataclass
class ManagerReady(Message):
    """The manager exists (it reconciled the store on creation); services may start."""


@dataclass
class BootFailed(Message):
    error: str


@dataclass
class RowsLoaded(Message):
    """The store changed; here is every row, ordered by name."""

    rows: list[VM]


@dataclass
class EventsLoaded(Message):
    """Event history of `vm_id` newer than what was sent before (all of it when `reset`)."""

    vm_id: str
    events: list[dict[str, Any]]
    reset: bool


@dataclass
class RunnerEvent(Message):
    """A line from a runner subscription (status or qmp-event)."""

    vm_id: str
    topic: str
    data: dict[str, Any]


@dataclass
class RunnerGone(Message):
    """A subscription ended: the runner exited or could not be reached."""

    vm_id: str
    reason: str
    key: tuple[str, int | None] | None = None


@dataclass
class StatsSampled(Message):
    """Per-VM (cpu %, rss bytes) of each QEMU, plus the host (None when the host is frozen)."""

    vms: dict[str, tuple[float, int]]
    host: HostSample | None = None


@dataclass
class LogChunk(Message):
    """New text of the selected VM's runner log (the whole tail when `reset`)."""

    vm_id: str
    text: str
    reset: bool


@dataclass
class OpFinished(Message):
    """A lifecycle operation ended; `error` is the one-line reason when it failed."""

    what: str  # "start vm1": names the operation in a failure message
    done: str  # "vm1 is running": the success message
    error: str | None = None
    vm_ids: list[str] = field(default_factory=list)


@dataclass
class BulkFinished(Message):
    """An action on several VMs ended; `text` sums it up, naming each VM that failed."""

    text: str
    failed: bool
    vm_ids: list[str] = field(default_factory=list)


@dataclass
class ConsoleOpened(Message):
    """The console stream `generation` of `vm_id` is subscribed; keystrokes can go."""

    vm_id: str
    generation: int


@dataclass
class ConsoleOutput(Message):
    """Guest serial output; `replay` is the recent tail sent first on (re)connecting."""

    vm_id: str
    generation: int
    text: str
    replay: bool = False


@dataclass
class ConsoleClosed(Message):
    """A console stream ended (the VM stopped, the runner died, or it could not connect)."""

    vm_id: str
    generation: int
    reason: str


@dataclass
class ConsoleWriteFailed(Message):
    vm_id: str
    generation: int
    error: str


@dataclass
class DemoProgress(Message):
    """A step of building the demo guest; `fraction` None while the length is unknown."""

    step: str
    fraction: float | None


@dataclass
class DemoFinished(Message):
    """The demo VM exists (`vm`, `created` if it is new) or could not be made (`error`)."""

    vm: VM | None
    created: bool = False
    error: str | None = None


@dataclass
class HostsLoaded(Message):
    """The registered hosts (the hosts table's rows, by name): at start and again whenever a host
    was added or removed (or redefined) meanwhile, by the CLI or anybody else."""

    hosts: list[dict[str, Any]]


@dataclass
class HostRows(Message):
    """A host's agent pushed its VM list (rows as `ls --json` gives them there)."""

    host: str
    rows: list[VM]


@dataclass
class HostDown(Message):
    """A host could not be reached or its connection was lost; the next try is in `retry_in` s."""

    host: str
    why: str
    retry_in: float
