"""What the guest agent tells about the guest: connected or not, its addresses, host name and OS.

The agent is "connected" while the guest holds its port open (QMP's VSERPORT_CHANGE for the
port's device id says when that changes; the runner follows the events) and answers. While it
is, the runner asks for the network interfaces and the host name every POLL seconds (two short
exchanges; the OS once per connection) and publishes every change as a `guest` event, so views
show a DHCP lease or a new host name within seconds without asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from maqet_tui.protocol.launch import AGENT_PORT_ID
from maqet_tui.protocol.wire import no_guest

from .guest_agent_link import AgentClosed, AgentError, AgentFailure, GuestAgentLink

log = logging.getLogger("runner.agent")

POLL = 3.0
POLL_ENV = "MAQET_TUI_GUEST_POLL"  # seconds, read by the runner (tests)
CALL_TIMEOUT = 10.0  # an answer to a cheap query; a TCG guest under load can be slow


def poll_interval() -> float:
    try:
        value = float(os.environ.get(POLL_ENV, ""))
    except ValueError:
        return POLL
    return value if 0.05 <= value <= 3600 else POLL


def addresses(interfaces: object) -> list[str]:
    """The guest's addresses from guest-network-get-interfaces: IPv4 first, then IPv6, without
    loopback and link-local ones (nothing another machine could reach the guest at)."""
    v4: list[str] = []
    v6: list[str] = []
    if not isinstance(interfaces, list):
        return []
    for iface in interfaces:
        if not isinstance(iface, dict) or iface.get("name") == "lo":
            continue
        for addr in iface.get("ip-addresses") or []:
            if not isinstance(addr, dict) or not isinstance(addr.get("ip-address"), str):
                continue
            ip = addr["ip-address"]
            if addr.get("ip-address-type") == "ipv4":
                if not ip.startswith(("127.", "169.254.")) and ip not in v4:
                    v4.append(ip)
            elif (
                ip != "::1"
                and not ip.lower().startswith(("fe8", "fe9", "fea", "feb"))
                and ip not in v6
            ):
                v6.append(ip)
    return v4 + v6


def os_name(info: object) -> str | None:
    """guest-get-osinfo's pretty name ("Debian GNU/Linux 12 (bookworm)"), else name + version."""
    if not isinstance(info, dict):
        return None
    pretty = info.get("pretty-name")
    if isinstance(pretty, str) and pretty:
        return pretty
    parts = [str(info[k]) for k in ("name", "version") if info.get(k)]
    return " ".join(parts) or None


class GuestWatch:
    """The agent's state for one VM, kept current while the runner runs."""

    def __init__(
        self,
        link: GuestAgentLink,
        publish: Callable[[str, dict[str, Any]], None],
        poll: float = POLL,
    ) -> None:
        self.link = link
        self.publish = publish
        self.poll = poll
        self.port_open = False
        self.state = no_guest()
        self._wake = asyncio.Event()

    def on_qmp_event(self, ev: dict[str, Any]) -> None:
        """Follow the guest opening and closing the agent's port (VSERPORT_CHANGE)."""
        data = ev.get("data") or {}
        if ev.get("event") != "VSERPORT_CHANGE" or data.get("id") != AGENT_PORT_ID:
            return
        self.port_open = bool(data.get("open"))
        log.info("guest agent port %s", "opened" if self.port_open else "closed")
        self.link.desync()
        self._wake.set()

    @property
    def connected(self) -> bool:
        return bool(self.state["agent"])

    async def run(self) -> None:
        await self.link.open()
        fresh = True  # a new connection: ask for what does not change while it lasts
        while True:
            self._wake.clear()
            if not self.port_open:
                self._set(no_guest())
                fresh = True
            else:
                try:
                    await self._refresh(fresh)
                    fresh = False
                except AgentClosed:
                    self._set(no_guest())
                    return
                except AgentFailure as exc:
                    # Still open but not answering (busy or hung): not connected, last values kept.
                    if self.state["agent"]:  # said once, not at every poll of a hung guest
                        log.info("guest agent not answering: %s", exc)
                    self._set({**self.state, "agent": False})
                except Exception:  # a bug here must not end the watch (nor the runner)
                    log.exception("guest agent poll failed")
                    self._set({**self.state, "agent": False})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll if self.port_open else None)

    async def _refresh(self, fresh: bool) -> None:
        state = dict(self.state)
        if fresh:
            info = await self.link.call("guest-info", timeout=CALL_TIMEOUT)
            log.info("guest agent connected (version %s)", (info or {}).get("version", "?"))
            with contextlib.suppress(AgentError):  # older agents lack it; not worth a failure
                state["os"] = os_name(
                    await self.link.call("guest-get-osinfo", timeout=CALL_TIMEOUT)
                )
        with contextlib.suppress(AgentError):
            host = await self.link.call("guest-get-host-name", timeout=CALL_TIMEOUT)
            name = host.get("host-name") if isinstance(host, dict) else None
            state["hostname"] = name if isinstance(name, str) and name else None
        ifaces = await self.link.call("guest-network-get-interfaces", timeout=CALL_TIMEOUT)
        state["ips"] = addresses(ifaces)
        state["agent"] = True
        self._set(state)

    def _set(self, state: dict[str, Any]) -> None:
        if state != self.state:
            self.state = state
            self.publish("guest", dict(state))
