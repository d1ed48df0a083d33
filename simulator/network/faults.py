"""Faults on purpose: a router or a peer that is broken the way real ones break.

A troubleshooting lab runs an ordinary `Scenario` with one fault switched on;
the same lab without it is the repaired network. A fault is configuration of
the simulation and of the applications around the real engine: the engine
itself is never changed, so every byte on the wire is one a broken peer could
really send, and the healthy peer's engine judges it with its usual rules.

    missing-route ROUTER PREFIX   the router has no row for PREFIX
    stalled-reader SIDE           that side stops reading once WebSocket is open
    strip-upgrade                 a proxy in front of the server drops Upgrade
    wrong-accept                  the server leaves the GUID out of the accept
    server-masks                  the server masks its frames
    client-unmasked               the client does not mask its frames
    latin1-client                 the client encodes its text as Latin-1

Each is what a real deployment gets wrong: a route forgotten on one router;
an application blocked on something else, leaving its socket unread; a
reverse proxy that, as RFC 9110 §7.6.1 requires of any proxy, removes
`Connection` and the fields it names (`Upgrade`) unless it is configured for
WebSocket; a hand-written handshake that hashes the key alone; frames masked
or unmasked by the wrong side (RFC 6455 §5.1); text encoded as Latin-1 and
sent in a text frame, which RFC 6455 §5.6 says holds UTF-8.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.faults import Fault, parse_fault
from simulator.ws.frames import Opcode, parse_frames, serialize_frame

if TYPE_CHECKING:
    from simulator.network.apps import WebSocketPeer
    from simulator.network.scenario import Scenario


def apply_fault(scenario: Scenario, fault: Fault) -> None:
    """Break `scenario` as `fault` says, before anything has been sent."""
    kind, args = fault.kind, fault.args
    if kind == "missing-route":
        router, prefix = args
        try:
            node = scenario.node(router)
        except LookupError:
            raise ValueError(f"fault {fault}: no router named {router!r}") from None
        network = ipaddress.IPv4Network(prefix)
        if not any(row.prefix == network for row in node.routes.rows):
            raise ValueError(f"fault {fault}: {router} has no row for {prefix} to lose")
        scenario.remove_route(router, prefix)
    elif kind == "stalled-reader":
        if args[0] == "server":
            scenario.server.stalls = True
        else:
            for client in scenario.clients:
                client.stalls = True
    elif kind == "strip-upgrade":
        scenario.server.rewrite = StripHopByHop
    elif kind == "wrong-accept":
        scenario.server.rewrite = AcceptWithoutGuid
    elif kind == "server-masks":
        rng = scenario.network.ws_rng
        scenario.server.rewrite = lambda: Remask(lambda: rng.randbytes(4))
    elif kind == "client-unmasked":
        for client in scenario.clients:
            client.rewrite = Remask(None)
    elif kind == "latin1-client":
        for client in scenario.clients:
            client.text_encoding = "latin-1"
    else:  # pragma: no cover - parse_fault knows every kind
        raise ValueError(f"unknown fault {kind!r}")


class Rewrite:
    """What a faulty peer does to the bytes it reads and writes (by default: nothing)."""

    def incoming(self, data: bytes) -> bytes:
        return data

    def outgoing(self, data: bytes) -> bytes:
        return data


_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024  # beyond this a head is passed on as it is: the server refuses it


class StripHopByHop(Rewrite):
    """A proxy that forwards requests without `Connection` and the fields it names.

    RFC 9110 §7.6.1: a proxy removes them, as they concern one connection only;
    forwarding `Upgrade` needs a proxy configured for it. Only request heads
    are touched; the bytes between them pass as they are.
    """

    def __init__(self) -> None:
        self._head = bytearray()

    def incoming(self, data: bytes) -> bytes:
        self._head += data
        out = bytearray()
        while True:
            end = self._head.find(_HEAD_END)
            if end < 0:
                if len(self._head) > _MAX_HEAD:
                    out += self._head
                    self._head.clear()
                return bytes(out)
            head = bytes(self._head[: end + 4])
            del self._head[: end + 4]
            out += _strip(head)

    def outgoing(self, data: bytes) -> bytes:
        return data


def _strip(head: bytes) -> bytes:
    lines = head[:-4].split(b"\r\n")
    named = {b"connection"}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b",") if t.strip())
    kept = [lines[0]]
    kept += (li for li in lines[1:] if li.partition(b":")[0].strip().lower() not in named)
    return b"\r\n".join(kept) + _HEAD_END


_KEY = re.compile(rb"(?im)^sec-websocket-key:[ \t]*([^\r\n]*?)[ \t]*\r?$")
_ACCEPT = re.compile(rb"(?im)^(sec-websocket-accept:[ \t]*)([^\r\n]*)")


class AcceptWithoutGuid(Rewrite):
    """A server whose accept value is base64(SHA-1(key)): the GUID was forgotten."""

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._done = False

    def incoming(self, data: bytes) -> bytes:
        if self._key is None:
            found = _KEY.search(data)
            if found is not None:
                self._key = found.group(1)
        return data

    def outgoing(self, data: bytes) -> bytes:
        if self._done or self._key is None:
            return data
        found = _ACCEPT.search(data)
        if found is None:
            return data
        self._done = True
        wrong = base64.b64encode(hashlib.sha1(self._key).digest())
        return data[: found.start(2)] + wrong + data[found.end(2) :]


class Remask(Rewrite):
    """Writes every frame after the opening head again, masked with a fresh key from
    `key` (a server that masks), or unmasked when `key` is None (a client that
    does not). Everything else stays as the engine wrote it."""

    def __init__(self, key: Callable[[], bytes] | None) -> None:
        self._key = key
        self._head_done = False
        self._passthrough = False  # an error response: its body is no frames
        self._buf = b""

    def outgoing(self, data: bytes) -> bytes:
        if self._passthrough:
            return data
        buf, out = self._buf + data, b""
        if not self._head_done:
            end = buf.find(_HEAD_END)
            if end < 0:
                self._buf = buf
                return b""
            out, buf = buf[: end + 4], buf[end + 4 :]
            self._head_done = True
            if out.startswith(b"HTTP/") and not out.startswith(b"HTTP/1.1 101"):
                self._passthrough = True
                self._buf = b""
                return out + buf
        frames, self._buf = parse_frames(buf)
        for frame in frames:
            key = self._key() if self._key is not None else None
            out += serialize_frame(
                frame.opcode, frame.payload, fin=frame.fin, rsv1=frame.rsv1, rsv2=frame.rsv2,
                rsv3=frame.rsv3, masking_key=key,
            )  # fmt: skip
        return out


def send_encoded_text(
    peer: WebSocketPeer, text: str, encoding: str, fragment_size: int | None
) -> None:
    """A text message whose payload is `text` in `encoding` (a faulty client's)."""
    payload = text.encode(encoding, "replace")
    size = fragment_size or max(len(payload), 1)
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    for i, piece in enumerate(pieces):
        opcode = Opcode.TEXT if i == 0 else Opcode.CONTINUATION
        peer.conn.send_frame(opcode, piece, fin=i == len(pieces) - 1)


__all__ = ["Fault", "Rewrite", "apply_fault", "parse_fault", "send_encoded_text"]
