"""fleet: other hosts reached through the system's OpenSSH (host registry, ssh transport, the
`agent --stdio` server and its client). Core-level: no Textual; the CLI and the TUI build on it."""
