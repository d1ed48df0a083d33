"""The TCP model's errors.

    WirelabError
    └── TcpError
        ├── UsageError       the program called the endpoint in the wrong state
        ├── DecodeError      bytes that are not a valid TCP segment (also a ValueError)
        └── TransitionError  a state-table lookup failed: a bug in this package

A peer's bad segment never raises: `Endpoint.receive` drops it (reporting a
`Discarded` event) or answers it with the ACK or RST that RFC 9293 §3.10.7 asks for.
"""

from __future__ import annotations

from simulator.errors import WirelabError


class TcpError(WirelabError):
    """Base class of the TCP model's errors."""


class UsageError(TcpError):
    """The program called the endpoint at the wrong time, e.g. `send()` after `close()`."""


class DecodeError(TcpError, ValueError):
    """The bytes are not a valid TCP segment: a short header, a bad option or checksum."""


class TransitionError(TcpError):
    """No transition in the state table for this state and cause."""
