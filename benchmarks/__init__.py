"""Benchmarks of maqet-tui against bare QEMU and bare Python baselines (`python -m benchmarks.run`)."""
