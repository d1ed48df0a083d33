"""RFC 6455 WebSocket, sans-IO: bytes in → events out, calls → bytes out."""

from __future__ import annotations

from simulator.ws.close_codes import CloseCode
from simulator.ws.connection import Config, Connection, ConnectionState, Role, send_message
from simulator.ws.errors import HandshakeError, ProtocolError, UsageError, WebSocketError
from simulator.ws.events import (
    Accepted,
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    Ping,
    Pong,
    Rejected,
    Request,
    TextMessage,
)
from simulator.ws.frames import Frame, FrameReader, Opcode, build_frame, serialize_frame
from simulator.ws.handshake import accept_key, accept_steps
from simulator.ws.violations import Violation

__all__ = [
    "Accepted",
    "BinaryMessage",
    "CloseCode",
    "CloseReceived",
    "Config",
    "Connection",
    "ConnectionFailed",
    "ConnectionState",
    "Event",
    "Frame",
    "FrameReader",
    "HandshakeError",
    "HandshakeFailed",
    "Opcode",
    "Ping",
    "Pong",
    "ProtocolError",
    "Rejected",
    "Request",
    "Role",
    "TextMessage",
    "UsageError",
    "Violation",
    "WebSocketError",
    "accept_key",
    "accept_steps",
    "build_frame",
    "send_message",
    "serialize_frame",
]
