"""The WebSocket engine over real sockets (asyncio), with every read and write tapped."""

from __future__ import annotations

from simulator.live.client import ClientError, WebSocketClient, connect
from simulator.live.server import ConnectionInfo, Server, Session, Tap, echo
from simulator.live.site import site
from simulator.live.tap import trace_tap

__all__ = [
    "ClientError",
    "ConnectionInfo",
    "Server",
    "Session",
    "Tap",
    "WebSocketClient",
    "connect",
    "echo",
    "site",
    "trace_tap",
]
