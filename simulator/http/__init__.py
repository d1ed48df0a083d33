"""HTTP/1.1, sans-IO: the message head, status codes, responses and the HTTP error.

Shared by everything here that speaks HTTP: the WebSocket engine's opening
handshake (`simulator.ws.handshake`), the simulated network's server and client
(`simulator.network.http`), the live server and its page (`simulator.live`), and
the dissectors and stream reassembly that read captured bytes. Only the stdlib.
"""

from __future__ import annotations

from simulator.http.errors import HttpError
from simulator.http.head import MAX_HEAD, MAX_HEADERS, Head, Headers, read_head
from simulator.http.response import build_error_response, build_response
from simulator.http.status import REASONS, reason

__all__ = [
    "MAX_HEAD",
    "MAX_HEADERS",
    "REASONS",
    "Head",
    "Headers",
    "HttpError",
    "build_error_response",
    "build_response",
    "read_head",
    "reason",
]
