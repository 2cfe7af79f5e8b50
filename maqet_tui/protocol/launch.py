"""The contract between a starter (core.spawn) and the runner it starts (runner/).

Three things cross that boundary, and this module is where each is written down:

- The **launch spec** (`LaunchSpec`): what the starter hands the runner on its stdin (marshal, the
  same interpreter on both ends) — which VM, QEMU's command line, where the store, the socket and
  the logs are, and the start's token.
- The **fd placeholders** (`QMP_FD`, `SERIAL_FD`, and `QGA_FD` for a VM with a guest agent
  channel): the starter builds QEMU's argv with these in place of the monitor's, the serial
  port's and the agent channel's file descriptors (config.build_argv); the runner replaces them
  with the fds of the socketpairs it creates just before spawning QEMU (runner/qemu.py).
- The **readiness report** (`ReadyReport` or `FailedReport`): one JSON line the runner writes on
  the inherited `--ready-fd` pipe once QMP answers and its socket serves (or why it failed). The
  starter waits on it (spawn.wait_ready) and records it (store.rows.claim); EOF without a line
  means the runner died.

The runner imports this module on QEMU's critical path, before QEMU is spawned, so at run time it
holds only the constants: the TypedDicts exist for the type checker alone (importing `typing`
costs ~7 ms there). Annotate with them under `from __future__ import annotations`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see above
if TYPE_CHECKING:
    from typing import Literal, TypeAlias, TypedDict

QMP_FD = "{qmp_fd}"
"""In QEMU's argv, stands for the fd of QEMU's end of the monitor (QMP) socketpair."""

SERIAL_FD = "{serial_fd}"
"""In QEMU's argv, stands for the fd of QEMU's end of the serial port socketpair."""

QGA_FD = "{qga_fd}"
"""In QEMU's argv, stands for the fd of QEMU's end of the guest agent channel's socketpair. Only
the argv of a VM whose definition asks for the agent (`agent: true`) carries it; the runner makes
that socketpair only when it is there."""

FD_PLACEHOLDERS = (QMP_FD, SERIAL_FD, QGA_FD)

AGENT_PORT_ID = "maqet-qga-port"
"""The device id of the agent's virtserialport: QMP's VSERPORT_CHANGE events name it, which is
how the runner knows when the guest opens or closes the agent's port."""


def wants_agent(argv: list[str]) -> bool:
    """Does this argv have a guest agent channel (the QGA_FD placeholder) to fill?"""
    return any(QGA_FD in arg for arg in argv)


def fill_fds(argv: list[str], qmp_fd: int, serial_fd: int, qga_fd: int | None = None) -> list[str]:
    """QEMU's argv from the launch spec with the placeholders replaced by real fds."""
    values = [(QMP_FD, str(qmp_fd)), (SERIAL_FD, str(serial_fd))]
    if qga_fd is not None:
        values.append((QGA_FD, str(qga_fd)))
    out = []
    for arg in argv:
        for token, value in values:
            arg = arg.replace(token, value)
        out.append(arg)
    return out


if TYPE_CHECKING:

    class LaunchSpec(TypedDict):
        """What a starter hands a runner (spawn.launch -> runner/__main__.py, on stdin)."""

        vm_id: str
        name: str
        config: str
        """The VM's definition as stored (JSON text); written back if the runner must register
        itself in a replaced database."""
        created_at: float
        argv: list[str]
        """QEMU's command line from config.build_argv, with QMP_FD, SERIAL_FD (and QGA_FD, when
        the VM has a guest agent channel) unfilled."""
        start_token: str
        """The token the start was claimed with (rows.begin_start): the runner records itself
        only while the row still carries it."""
        spawned_at: float
        db_path: str
        db_identity: tuple[int, int]
        """(st_dev, st_ino) of the database the start was claimed in: one deleted or replaced
        before the runner first looks is recognised as such (it registers there)."""
        socket_path: str
        """Where the runner serves IPC."""
        fallback_dir: str
        """Where it serves if the directory of `socket_path` is removed and cannot be recreated."""
        serial_log: str
        """The serial log; the runner's own log is beside it (ID.runner.log)."""

    class RunnerStatus(TypedDict):
        """A runner's view of its VM: the `status` IPC answer and `status` events."""

        id: str
        name: str
        status: str
        last_error: str | None
        qemu_pid: int | None
        runner_pid: int
        socket_path: str
        started_at: float | None

    class ReadyReport(RunnerStatus):
        """The runner is up: QMP answered and its socket serves. What rows.claim records."""

        ok: Literal[True]
        runner_started: int | None
        """The runner's process start time (procs.start_time), which tells it from a reused pid."""

    class FailedReport(TypedDict):
        """The start failed; `error` says why in QEMU's words when it has them."""

        ok: Literal[False]
        error: str

    Readiness: TypeAlias = ReadyReport | FailedReport
