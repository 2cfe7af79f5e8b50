"""The per-VM runner: one process that owns one QEMU, its QMP monitor, its serial port and an IPC
socket, and records what happens to it in the store. Started as `python -m runner`."""
