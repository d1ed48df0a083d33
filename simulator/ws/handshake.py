"""The opening handshake (RFC 6455 §4): an HTTP/1.1 Upgrade request and its 101 answer.

Client                                     Server
  GET /chat HTTP/1.1                         HTTP/1.1 101 Switching Protocols
  Host: example.com                          Upgrade: websocket
  Upgrade: websocket                         Connection: Upgrade
  Connection: Upgrade                        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
  Sec-WebSocket-Version: 13

Only the stdlib is used: the engine must stay importable anywhere. The message
head is read by `simulator.http`'s reader, deliberately strict and small (one
head, no obsolete line folding); a handshake request has no body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from simulator import http

# The `X as X` names are re-exported: the engine reads and answers HTTP through them.
from simulator.http import MAX_HEAD as MAX_HEAD
from simulator.http import Head as Head
from simulator.http import HttpError
from simulator.http import build_error_response as build_error_response
from simulator.ws.errors import HandshakeError
from simulator.ws.events import Headers

# RFC 6455 §1.3: the globally unique identifier appended to the key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSION = "13"


@dataclass(frozen=True, slots=True)
class AcceptSteps:
    """`Sec-WebSocket-Accept`, one step at a time, for lessons and `wirelab accept`."""

    key: str
    concatenated: str  # key + GUID
    sha1: bytes  # SHA-1 of the concatenation, 20 bytes
    accept: str  # base64 of the digest


def accept_steps(key: str) -> AcceptSteps:
    concatenated = key + GUID
    digest = hashlib.sha1(concatenated.encode("ascii")).digest()
    return AcceptSteps(key, concatenated, digest, base64.b64encode(digest).decode("ascii"))


def accept_key(key: str) -> str:
    """base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2, step 5.4)."""
    return accept_steps(key).accept


def is_valid_key(key: str) -> bool:
    """A key is base64 of exactly 16 bytes (RFC 6455 §4.1, item 7)."""
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def _engine_error(error: HttpError) -> HandshakeError:
    """The engine's error for an HTTP one: the same words and the same answer."""
    return HandshakeError(error.reason, status=error.status, headers=error.headers)


def read_head(buf: bytes | bytearray) -> tuple[Head, int] | None:
    """`simulator.http.read_head`, raising the engine's `HandshakeError` (400, 431)."""
    try:
        return http.read_head(buf)
    except HttpError as error:
        raise _engine_error(error) from None


def _get(head: Head, name: str) -> str | None:
    """`head.get(name)`, raising `HandshakeError` (400) if the header appears twice."""
    try:
        return head.get(name)
    except HttpError as error:
        raise _engine_error(error) from None


def _has_token(values: list[str], token: str) -> bool:
    return any(v.lower() == token for v in values)


# --- client side ----------------------------------------------------------------------


def build_request(
    *,
    host: str,
    path: str,
    key: str,
    subprotocols: tuple[str, ...] = (),
    extensions: tuple[str, ...] = (),
    origin: str | None = None,
    extra_headers: Headers = (),
) -> bytes:
    """The client's opening handshake (RFC 6455 §4.1)."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Sec-WebSocket-Version: {VERSION}",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {', '.join(extensions)}")
    lines.extend(f"{k}: {v}" for k, v in extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def check_response(
    head: Head, *, key: str, subprotocols: tuple[str, ...]
) -> tuple[str | None, list[str]]:
    """Validate a 101 response (RFC 6455 §4.1, the client's checks).

    Returns the chosen subprotocol and the raw accepted extension items; the
    caller checks those against what it offered.
    """
    version, status, _ = head.start
    if not version.startswith("HTTP/1."):
        raise HandshakeError(f"unexpected HTTP version {version!r}")
    if status != "101":
        raise HandshakeError(f"expected status 101, got {status}")
    if not _has_token(head.tokens("Upgrade"), "websocket"):
        raise HandshakeError("response lacks 'Upgrade: websocket'")
    if not _has_token(head.tokens("Connection"), "upgrade"):
        raise HandshakeError("response lacks 'Connection: Upgrade'")
    accept = _get(head, "Sec-WebSocket-Accept")
    if accept != accept_key(key):
        raise HandshakeError(f"Sec-WebSocket-Accept is {accept!r}, expected {accept_key(key)!r}")
    chosen = head.tokens("Sec-WebSocket-Protocol")
    if len(chosen) > 1:
        raise HandshakeError("server chose more than one subprotocol")
    subprotocol = chosen[0] if chosen else None
    if subprotocol is not None and subprotocol not in subprotocols:
        raise HandshakeError(f"server chose subprotocol {subprotocol!r}, which was not offered")
    return subprotocol, head.get_all("Sec-WebSocket-Extensions")


# --- server side ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientHandshake:
    """What a valid client request asked for."""

    path: str
    host: str
    key: str
    subprotocols: tuple[str, ...]
    extensions: tuple[str, ...]
    origin: str | None
    headers: Headers


def check_request(head: Head, *, origins: tuple[str, ...] | None = None) -> ClientHandshake:
    """Validate an opening handshake (RFC 6455 §4.2.1); raise `HandshakeError` with the status.

    400 for a malformed request or key, 426 (with `Sec-WebSocket-Version: 13`)
    for another version or no Upgrade, 403 for an Origin outside `origins`.
    """
    method, target, version = head.start
    # §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if version != "HTTP/1.1":
        raise HandshakeError(f"WebSocket needs HTTP/1.1, got {version!r}")
    if method != "GET":
        raise HandshakeError(f"the handshake must be a GET request, got {method}")
    if not target.startswith("/"):
        raise HandshakeError(f"request target {target!r} is not a path")
    host = _get(head, "Host")
    if not host:
        raise HandshakeError("missing Host header")
    upgrade_required = (("Upgrade", "websocket"), ("Sec-WebSocket-Version", VERSION))
    if not _has_token(head.tokens("Upgrade"), "websocket"):
        raise HandshakeError("missing 'Upgrade: websocket'", status=426, headers=upgrade_required)
    if not _has_token(head.tokens("Connection"), "upgrade"):
        raise HandshakeError("missing 'Connection: Upgrade'", status=426, headers=upgrade_required)
    key = _get(head, "Sec-WebSocket-Key")
    if key is None or not is_valid_key(key):
        raise HandshakeError("Sec-WebSocket-Key must be base64 of 16 bytes")
    versions = head.get_all("Sec-WebSocket-Version")
    if not versions:
        raise HandshakeError("missing Sec-WebSocket-Version")
    if versions != [VERSION]:
        # §4.2.2: answer with the version(s) we do speak.
        raise HandshakeError(
            f"unsupported Sec-WebSocket-Version {', '.join(versions)}",
            status=426,
            headers=upgrade_required,
        )
    origin = _get(head, "Origin")
    if origins is not None and origin not in origins:
        raise HandshakeError(f"origin {origin!r} is not allowed", status=403)
    return ClientHandshake(
        path=target,
        host=host,
        key=key,
        subprotocols=tuple(head.tokens("Sec-WebSocket-Protocol")),
        extensions=tuple(head.get_all("Sec-WebSocket-Extensions")),
        origin=origin,
        headers=head.headers,
    )


def build_response(
    key: str,
    *,
    subprotocol: str | None = None,
    extensions: str | None = None,
    extra_headers: Headers = (),
) -> bytes:
    """The server's 101 answer (RFC 6455 §4.2.2)."""
    fields = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if subprotocol is not None:
        fields.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        fields.append(("Sec-WebSocket-Extensions", extensions))
    return http.build_response(101, [*fields, *extra_headers])
