"""The faults a troubleshooting lab can switch on, as a lesson file writes them.

Only the words: reading a lesson must not load the simulation. What each fault
does to the network is `simulator.network.faults`.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass

#: Every fault: how it is written, and what it breaks.
FAULTS: dict[str, tuple[str, str]] = {
    "missing-route": (
        "missing-route ROUTER PREFIX",
        "ROUTER has no row for PREFIX: what it should forward there gets ICMP destination "
        "unreachable",
    ),
    "stalled-reader": (
        "stalled-reader SIDE",
        "SIDE's application (client or server) stops reading once the WebSocket connection "
        "is open: its receive window closes",
    ),
    "strip-upgrade": (
        "strip-upgrade",
        "a proxy in front of the server removes Connection and the fields it names "
        "(RFC 9110 §7.6.1), so the server never sees Upgrade",
    ),
    "wrong-accept": (
        "wrong-accept",
        "the server's Sec-WebSocket-Accept hashes the key without the GUID",
    ),
    "server-masks": ("server-masks", "the server masks its frames (RFC 6455 §5.1: it must not)"),
    "client-unmasked": (
        "client-unmasked",
        "the client sends its frames unmasked (RFC 6455 §5.1: it must mask every one)",
    ),
    "latin1-client": (
        "latin1-client",
        "the client encodes its text messages as Latin-1, not UTF-8 (RFC 6455 §5.6)",
    ),
}


@dataclass(frozen=True)
class Fault:
    kind: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " ".join((self.kind, *self.args))


def parse_fault(text: str) -> Fault:
    """`"missing-route r2 10.0.3.0/24"` → `Fault`; a `ValueError` says what is wrong."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"fault {text!r}: {error}") from None
    if not words or words[0] not in FAULTS:
        kinds = ", ".join(FAULTS)
        raise ValueError(f"fault {text!r}: the first word is one of {kinds}")
    kind, args = words[0], tuple(words[1:])
    usage = FAULTS[kind][0]
    wanted = len(usage.split()) - 1
    if len(args) != wanted:
        raise ValueError(f"fault {text!r}: write it as {usage!r}")
    if kind == "missing-route":
        try:
            ipaddress.IPv4Network(args[1])
        except ValueError:
            raise ValueError(
                f"fault {text!r}: {args[1]!r} is not a prefix such as 10.0.3.0/24"
            ) from None
    if kind == "stalled-reader" and args[0] not in ("client", "server"):
        raise ValueError(f"fault {text!r}: the side is client or server")
    return Fault(kind, args)


__all__ = ["FAULTS", "Fault", "parse_fault"]
