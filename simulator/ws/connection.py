"""The WebSocket connection state machine (RFC 6455), sans-IO.

Theory of operation
-------------------
A `Connection` is one endpoint, client or server. It never touches a socket
or a clock: the program feeds it the bytes that arrived (`receive_data`), reads
what happened (`events`) and writes what it produced (`data_to_send`). Replies
the RFC makes automatic — the pong for a ping, the close frame echoed back —
are queued on their own.

    CONNECTING ──101 sent/received──► OPEN ──close() sent──► CLOSING
        │                               │                      │
        │ handshake refused or invalid  │ peer's close echoed  │ peer's close
        ▼                               ▼                      ▼
      CLOSED ◄───────────── failure (close frame with the code) ─ CLOSED

A peer that breaks the protocol never raises out of `receive_data`: the
connection fails itself (RFC 6455 §7.1.7), queues a close frame with the code
that names the fault, reports `ConnectionFailed` and goes to CLOSED. In
CLOSED the transport should be closed; the server closes it first (§7.1.1).
Messages that were whole before the faulty frame are delivered first, the
connection still OPEN, so that answers to them go out before the close frame
(see `events`). A text frame fails (1007) as soon as the part of it received so
far cannot be UTF-8, before the rest arrives.

Bytes come in through `receive_data`, or `get_buffer`/`buffer_updated` (asyncio's
`BufferedProtocol`), which reads a large payload straight into a buffer of its
own (once an eighth of it arrived) and unmasks it there: no copy of it is made
after that.
"""

from __future__ import annotations

import base64
import codecs
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import cast

from simulator.ws import handshake as hs
from simulator.ws.close_codes import CloseCode, is_valid_on_wire
from simulator.ws.errors import HandshakeError, ProtocolError, UsageError
from simulator.ws.events import (
    Accepted,
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    Headers,
    Ping,
    Pong,
    Rejected,
    Request,
    TextMessage,
)
from simulator.ws.extensions import Extension, format_extension, parse_extensions
from simulator.ws.frames import (
    FIN,
    KNOWN_OPCODES,
    MAX_CONTROL_PAYLOAD,
    OPCODE,
    Frame,
    FrameReader,
    Opcode,
    build_frame,
    pack_header,
    read_buffer,
)
from simulator.ws.mask import NUMPY_THRESHOLD, mask_inplace, xor_small
from simulator.ws.violations import Violation

RandomSource = Callable[[int], bytes]
"""Returns n random bytes: `os.urandom`, or `random.Random(seed).randbytes` for replay."""

FrameObserver = Callable[[str, Frame], None]
"""Called with ("sent" | "received", frame) for every frame, when set."""

DEFAULT_MAX_SIZE = 1 << 20


def max_fragments(max_size: int | None) -> int:
    """The most frames one incoming message may come in: each costs work and memory
    whatever it carries, so endless tiny (or empty) fragments must end too. One per KiB
    of the size limit, and 64 more (a message of 64 bytes may come a byte a frame); a
    million without a limit. (One per 64 bytes let 60 attackers sending 2-byte frames
    hold every other client's echo for 3 s: each was parsed 16,400 frames deep.)"""
    return 1 << 20 if max_size is None else max_size // 1024 + 64


_RSV = 0x70
_LARGE = 64 * 1024  # payloads this big are queued apart from their header, never copied
_MAX_ERROR_BODY = 64 * 1024  # bytes of an HTTP error body a client keeps
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2  # bytes of UTF-8 after the 2-byte code


class Role(Enum):
    CLIENT = "client"
    SERVER = "server"


class ConnectionState(Enum):
    """Where an endpoint is in the life of a connection (RFC 6455 §4, §7)."""

    CONNECTING = "connecting"
    """The opening handshake is under way; no frames may be sent yet."""
    OPEN = "open"
    """The handshake succeeded; messages flow both ways."""
    CLOSING = "closing"
    """We sent a close frame and wait for the peer's; we send no more data."""
    CLOSED = "closed"
    """Close frames crossed, the handshake failed, or the connection was failed."""


@dataclass(frozen=True, slots=True)
class Config:
    """What an endpoint accepts. Defaults follow the common libraries."""

    max_size: int | None = DEFAULT_MAX_SIZE
    """Largest message (after reassembly) accepted; more fails with 1009."""
    origins: tuple[str, ...] | None = None
    """Server: the allowed Origin values, or None to accept any."""
    subprotocols: tuple[str, ...] = ()
    """Client: offered, in order of preference. Server: supported, in order of preference."""
    extensions: tuple[Callable[[], Extension], ...] = ()
    """Factories of the extensions to offer (client) or accept (server)."""


def _kept(error: ProtocolError) -> ProtocolError:
    """`error` without its traceback and context, to be kept: a traceback holds the
    frames it went through (a server's session, its buffers, the last read), so a
    failed connection would live on until the garbage collector found the cycle."""
    error.__traceback__ = None
    error.__context__ = None
    return error


_UTF8 = codecs.getincrementaldecoder("utf-8")


def _decode_utf8(
    decoder: codecs.IncrementalDecoder, data: bytes | bytearray | memoryview, *, final: bool
) -> str:
    """The text `data` continues with; `ProtocolError` (1007) as soon as the bytes so
    far cannot be UTF-8 (RFC 3629)."""
    try:
        text: str | None = decoder.decode(data, final=final)
    except UnicodeDecodeError:
        text = None
    pending = decoder.getstate()[0]
    # ...except that CPython waits for a third byte after ED A0-BF, which no byte can
    # complete: it would encode a UTF-16 surrogate (RFC 3629 §3).
    if text is None or (pending[:1] == b"\xed" and pending[1:2] >= b"\xa0"):
        raise ProtocolError("text message is not valid UTF-8", violation=Violation.TEXT_NOT_UTF8)
    return text


class Connection:
    """One WebSocket endpoint. See the module docstring."""

    def __init__(
        self,
        role: Role,
        *,
        config: Config | None = None,
        rng: RandomSource = os.urandom,
        on_frame: FrameObserver | None = None,
    ) -> None:
        self.role = role
        self.config = config or Config()
        self.state = ConnectionState.CONNECTING
        self.on_frame = on_frame
        self._rng = rng
        self._client = role is Role.CLIENT
        self._events: list[Event] = []
        self._out: list[bytes | bytearray] = []
        self._head = bytearray()  # handshake bytes not yet consumed
        self._scratch: memoryview | None = None  # get_buffer() before the frames start
        self._reader = FrameReader(check_header=self._check_header)
        # Negotiated in the handshake.
        self.subprotocol: str | None = None
        self.extensions: list[Extension] = []
        self._rsv_allowed = 0
        self._key = ""
        self._request: hs.ClientHandshake | None = None
        # The incoming message being reassembled (§5.4).
        self._msg_opcode: int | None = None
        self._msg_rsv = 0
        self._msg_parts: list[bytes | bytearray] = []
        self._msg_text: list[str] = []
        self._msg_size = 0
        self._msg_frames = 0  # frames of it so far (max_fragments)
        self._utf8: codecs.IncrementalDecoder | None = None
        # Checks the text frame whose payload is still arriving (`_check_partial_text`).
        self._partial_utf8: codecs.IncrementalDecoder | None = None
        # The outgoing fragmented message, if one is open.
        self._sending_fragments = False
        # How it ended.
        self.close_received: tuple[int, str] | None = None
        self.close_sent: tuple[int | None, str] | None = None
        self.failure: ProtocolError | None = None
        # A failure found behind messages the application has not taken yet: applied
        # once it took them (`_settle`), so its answers to them go out first.
        self._failing: ProtocolError | None = None

    def __repr__(self) -> str:
        return f"<Connection {self.role.value} {self.state.value}>"

    # --- I/O boundary ---------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes that arrived from the peer; results appear in `events()`."""
        if self._failing is not None:
            self._settle()
        state = self.state
        if state is ConnectionState.OPEN or state is ConnectionState.CLOSING:
            self._reader.feed(data)
            self._read_frames()
        elif state is ConnectionState.CONNECTING:
            self._head += data
            if self._client:
                self._read_response()
            elif self._request is None:
                self._read_request()
        # CLOSED: the peer may not send anything more; discard it.

    def get_buffer(self) -> memoryview:
        """Where the next bytes from the peer may be read into (`recv_into`); then call
        `buffer_updated(n)`. The same as `receive_data`, without a copy: a large frame's
        payload is read straight into a buffer of its own (asyncio's `BufferedProtocol`)."""
        if self._failing is None and (
            self.state is ConnectionState.OPEN or self.state is ConnectionState.CLOSING
        ):
            return self._reader.get_buffer()
        self._scratch = read_buffer()
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        """`nbytes` were written at the start of what `get_buffer` returned."""
        if self._failing is None and (
            self.state is ConnectionState.OPEN or self.state is ConnectionState.CLOSING
        ):
            self._reader.buffer_updated(nbytes)
            self._read_frames()
        elif self._scratch is not None:
            self.receive_data(bytes(self._scratch[:nbytes]))

    @property
    def reading_large(self) -> bool:
        """A large frame is arriving: its payload is best read into `get_buffer()` (its
        own buffer, no copy). For other reads `receive_data` costs fewer calls."""
        return self._reader.large

    def receive_eof(self) -> None:
        """The transport closed. Without a close handshake that is abnormal (1006)."""
        if self._failing is not None:
            self._settle()
        if self.state is not ConnectionState.CLOSED:
            self.state = ConnectionState.CLOSED
            self._events.append(
                ConnectionFailed(
                    CloseCode.ABNORMAL_CLOSURE,
                    "connection lost without a close frame",
                    violation=None,  # the transport ended: no rule was broken
                )
            )

    def events(self) -> list[Event]:
        """Take the events produced since the last call, oldest first.

        When the peer broke a rule right after some messages, they come first, the
        connection still OPEN (answer them if you like); the `ConnectionFailed` comes
        on the next call, or with `data_to_send`/`output`, after your answers.
        """
        events = self._events
        if not events and self._failing is not None:
            self._settle()
            events = self._events
        self._events = []
        return events

    def _settle(self) -> None:
        """Fail the connection for the violation found behind messages (`_failing`)."""
        error = self._failing
        assert error is not None
        self._failing = None
        self._fail(error)

    def data_to_send(self) -> bytes:
        """Take the bytes to write to the transport, in order."""
        if self._failing is not None:
            self._settle()
        out = self._out
        if not out:
            return b""
        self._out = []
        first = out[0]
        return first if len(out) == 1 and isinstance(first, bytes) else b"".join(out)

    def output(self) -> list[bytes | bytearray]:
        """Like `data_to_send`, as pieces: small ones joined, large payloads not copied.

        Write the pieces in order; for big messages this saves a full copy.
        """
        if self._failing is not None:
            self._settle()
        out = self._out
        if len(out) <= 1:
            self._out = []
            return out
        self._out = []
        pieces: list[bytes | bytearray] = []
        run: list[bytes | bytearray] = []
        for chunk in out:
            if len(chunk) < _LARGE:
                run.append(chunk)
                continue
            if run:
                pieces.append(b"".join(run))
                run = []
            pieces.append(chunk)
        if run:
            pieces.append(b"".join(run))
        return pieces

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED

    # --- client handshake -----------------------------------------------------------

    def connect(
        self,
        host: str,
        path: str = "/",
        *,
        origin: str | None = None,
        extra_headers: Headers = (),
    ) -> None:
        """Client: queue the opening handshake request (RFC 6455 §4.1)."""
        if not self._client or self._key:
            raise UsageError("connect() is for a client that has not connected yet")
        self._key = base64.b64encode(self._rng(16)).decode("ascii")
        self._offered = [factory() for factory in self.config.extensions]
        offers = tuple(format_extension(ext.name, ext.offer()) for ext in self._offered)
        self._out.append(
            hs.build_request(
                host=host,
                path=path,
                key=self._key,
                subprotocols=self.config.subprotocols,
                extensions=offers,
                origin=origin,
                extra_headers=extra_headers,
            )
        )

    def _read_response(self) -> None:
        try:
            parsed = hs.read_head(self._head)
        except HandshakeError as error:
            return self._handshake_failed(error)
        if parsed is None:
            return None
        head, used = parsed
        version, status, _ = head.start
        if not version.startswith("HTTP/1.") or len(status) != 3 or not status.isdigit():
            line = f"{version} {status}"[:40]
            return self._handshake_failed(HandshakeError(f"malformed status line {line!r}"))
        if status != "101":
            return self._rejected(head, used)
        try:
            self.subprotocol, accepted = hs.check_response(
                head, key=self._key, subprotocols=self.config.subprotocols
            )
            self._accept_extensions(accepted)
        except HandshakeError as error:
            return self._handshake_failed(error)
        rest = bytes(self._head[used:])
        self._head.clear()
        self.state = ConnectionState.OPEN
        self._events.append(
            Accepted(self.subprotocol, tuple(e.name for e in self.extensions), head.headers)
        )
        if rest:
            self.receive_data(rest)
        return None

    def _accept_extensions(self, accepted_values: list[str]) -> None:
        # RFC 6455 §9.1: the server may only accept what was offered, each at most once.
        available = {ext.name: ext for ext in self._offered}
        for name, params in parse_extensions(", ".join(accepted_values)):
            ext = available.pop(name, None)
            if ext is None:
                raise HandshakeError(f"server accepted extension {name!r}, which was not offered")
            ext.accept_response(params)
            self._add_extension(ext)

    def _rejected(self, head: hs.Head, used: int) -> None:
        length = head.get_all("Content-Length")
        digits = length[0].lstrip("0") if len(length) == 1 and length[0].isdigit() else ""
        # Capped before int(): a peer's 5000-digit number would make int() raise.
        wanted = _MAX_ERROR_BODY if len(digits) > 9 else min(int(digits or 0), _MAX_ERROR_BODY)
        body = bytes(self._head[used : used + wanted])
        if len(body) < wanted:
            return  # wait for the rest of the short body
        code = head.start[1]
        status = int(code) if len(code) == 3 and code.isdigit() else 0  # RFC 9112 §4: 3 digits
        self.state = ConnectionState.CLOSED
        self._events.append(Rejected(status, head.start[2], head.headers, body))

    # --- server handshake -----------------------------------------------------------

    def receive_request(self, head: hs.Head, data: bytes | bytearray) -> None:
        """Server: like `receive_data(data)` for data that starts with a request head the
        caller has parsed already, `head` (`simulator.http.read_head` on `data`): a
        server that routes plain HTTP requests itself need not parse it twice."""
        if self._client or self.state is not ConnectionState.CONNECTING or self._head:
            raise UsageError("receive_request() is for a server's first bytes")
        self._head += data
        self._read_request(head)

    def _read_request(self, parsed_head: hs.Head | None = None) -> None:
        try:
            if parsed_head is not None:
                head = parsed_head
                used = self._head.find(b"\r\n\r\n") + 4
            else:
                parsed = hs.read_head(self._head)
                if parsed is None:
                    return
                head, used = parsed
            self._request = hs.check_request(head, origins=self.config.origins)
        except HandshakeError as error:
            self._handshake_failed(error)
            return
        del self._head[:used]  # what follows the head waits for accept()
        req = self._request
        self._events.append(
            Request(req.path, req.host, req.headers, req.subprotocols, req.extensions, req.origin)
        )

    def accept(self, *, subprotocol: str | None = None, extra_headers: Headers = ()) -> None:
        """Server: answer the `Request` with 101 Switching Protocols.

        Without `subprotocol`, the first of `Config.subprotocols` the client
        offered is chosen (or none).
        """
        req = self._request
        if self._client or req is None or self.state is not ConnectionState.CONNECTING:
            raise UsageError("accept() answers a pending Request on a server connection")
        if subprotocol is None:
            subprotocol = next((p for p in self.config.subprotocols if p in req.subprotocols), None)
        elif subprotocol not in req.subprotocols:
            raise UsageError(f"the client did not offer subprotocol {subprotocol!r}")
        try:
            response_ext = self._negotiate_extensions(req.extensions)
        except HandshakeError as error:
            self._handshake_failed(error)
            return
        self.subprotocol = subprotocol
        self._out.append(
            hs.build_response(
                req.key,
                subprotocol=subprotocol,
                extensions=response_ext,
                extra_headers=extra_headers,
            )
        )
        self.state = ConnectionState.OPEN
        rest = bytes(self._head)
        self._head.clear()
        if rest:
            self.receive_data(rest)

    def _negotiate_extensions(self, offer_values: tuple[str, ...]) -> str | None:
        offers = parse_extensions(", ".join(offer_values))
        accepted = []
        for factory in self.config.extensions:
            ext = factory()
            for name, params in offers:
                if name != ext.name:
                    continue
                response = ext.accept_offer(params)
                if response is not None:
                    self._add_extension(ext)
                    accepted.append(format_extension(ext.name, response))
                    break
        return ", ".join(accepted) or None

    def _add_extension(self, ext: Extension) -> None:
        if ext.rsv_mask & self._rsv_allowed:
            raise HandshakeError(f"extension {ext.name!r} wants RSV bits already in use")
        self._rsv_allowed |= ext.rsv_mask
        self.extensions.append(ext)

    def reject(self, status: int, message: str, *, headers: Headers = ()) -> None:
        """Server: refuse the `Request` with an HTTP error response."""
        if self._client or self.state is not ConnectionState.CONNECTING:
            raise UsageError("reject() answers a pending Request on a server connection")
        self._out.append(hs.build_error_response(status, message, headers))
        self.state = ConnectionState.CLOSED

    def _handshake_failed(self, error: HandshakeError) -> None:
        if not self._client:
            self._out.append(hs.build_error_response(error.status, error.reason, error.headers))
        self.state = ConnectionState.CLOSED
        self.failure = _kept(error)
        self._head.clear()
        self._events.append(HandshakeFailed(error.reason, 0 if self._client else error.status))

    # --- receiving frames -----------------------------------------------------------

    def _check_header(self, b0: int, masked: bool, length: int) -> None:
        """Everything decidable from a header, before its payload is buffered."""
        opcode = b0 & OPCODE
        if b0 & _RSV & ~self._rsv_allowed:
            # RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines" them.
            raise ProtocolError(
                "RSV bits set without a negotiated extension",
                violation=Violation.RSV_WITHOUT_EXTENSION,
            )
        if opcode not in KNOWN_OPCODES:
            raise ProtocolError(f"reserved opcode {opcode:#x}", violation=Violation.RESERVED_OPCODE)
        if masked == self._client:
            # §5.1: clients MUST mask every frame; servers MUST NOT mask any.
            if masked:
                raise ProtocolError(
                    "server frame is masked", violation=Violation.MASKED_SERVER_FRAME
                )
            raise ProtocolError(
                "client frame is not masked", violation=Violation.UNMASKED_CLIENT_FRAME
            )
        if opcode >= 0x8:
            # §5.5: control frames are at most 125 bytes and never fragmented.
            if not b0 & FIN:
                raise ProtocolError(
                    "fragmented control frame", violation=Violation.FRAGMENTED_CONTROL_FRAME
                )
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError(
                    f"control frame with a {length}-byte payload (max 125)",
                    violation=Violation.CONTROL_FRAME_TOO_LONG,
                )
            if b0 & _RSV:
                raise ProtocolError(
                    "RSV bits set on a control frame", violation=Violation.RSV_ON_CONTROL_FRAME
                )
            return
        continuation = opcode == Opcode.CONTINUATION
        if continuation:
            if self._msg_opcode is None:
                raise ProtocolError(
                    "continuation frame without a message to continue",
                    violation=Violation.CONTINUATION_WITHOUT_MESSAGE,
                )
            self._msg_frames += 1
            most = max_fragments(self.config.max_size)
            if self._msg_frames > most:
                raise ProtocolError(
                    f"message in more than {most} fragments",
                    violation=Violation.TOO_MANY_FRAGMENTS,
                )
        elif self._msg_opcode is not None:
            raise ProtocolError(
                "new data frame inside a fragmented message",
                violation=Violation.INTERLEAVED_MESSAGE,
            )
        else:
            self._msg_frames = 1
        if b0 & _RSV:
            for ext in self.extensions:
                if b0 & ext.rsv_mask:
                    ext.check_header(b0, continuation)
        limit = self.config.max_size
        if limit is None:
            return
        if (self._msg_rsv if continuation else b0 & _RSV) and self.extensions:
            # An extension transforms this message: the limit applies to what it
            # decodes to (the extension is told how much is left). The bytes on the
            # wire are bounded too, with room for incompressible data growing: zlib's
            # worst case (deflateBound with a small memLevel) adds about 14 %.
            if length > limit + (limit >> 3) + (limit >> 6) + 1024:
                raise ProtocolError(
                    f"frame of {length} bytes for a message of at most {limit}",
                    violation=Violation.FRAME_TOO_BIG,
                )
        elif self._msg_size + length > limit:
            raise ProtocolError(
                f"message of more than {limit} bytes", violation=Violation.MESSAGE_TOO_BIG
            )

    def _read_frames(self) -> None:
        reader = self._reader
        events = self._events
        try:
            while self.state is not ConnectionState.CLOSED:
                item = reader.next_item()
                if item is None:
                    if reader.waiting:
                        self._check_partial_text()
                    return
                self._partial_utf8 = None
                if self.on_frame is not None:
                    self.on_frame("received", reader.frame(item))
                b0 = item[0]
                if b0 & FIN and 0 < b0 & OPCODE < 0x8 and not self.extensions:
                    # Fast path: a whole message in one frame.
                    if b0 & OPCODE == Opcode.TEXT:
                        try:
                            events.append(TextMessage(item[2].decode("utf-8")))
                        except UnicodeDecodeError:
                            raise ProtocolError(
                                "text message is not valid UTF-8",
                                violation=Violation.TEXT_NOT_UTF8,
                            ) from None
                    else:
                        events.append(BinaryMessage(item[2]))
                elif b0 & OPCODE >= 0x8:
                    # A control payload is at most 125 bytes: never a large one's bytearray.
                    self._control_frame(b0 & OPCODE, cast(bytes, item[2]))
                else:
                    self._data_frame(b0, item[2])
        except ProtocolError as error:
            if self._events:
                # Messages completed before the violating frame are delivered first: the
                # application may answer them; the close frame goes out after its answers
                # (`_settle`).
                self._failing = error
                self.failure = _kept(error)
                self._reader.take_remaining()
            else:
                self._fail(error)

    def _check_partial_text(self) -> None:
        """Fail (RFC 6455 §8.1: text that is not UTF-8) as soon as the part of a text
        frame received so far cannot start valid UTF-8, not only once the frame is whole."""
        b0 = self._reader.pending_header
        if b0 is None:
            return
        decoder = self._partial_utf8
        if decoder is None:
            opcode = b0 & OPCODE
            if opcode == Opcode.TEXT and not b0 & _RSV:
                decoder = _UTF8()
            elif opcode == Opcode.CONTINUATION and self._utf8 is not None and not self._msg_rsv:
                decoder = _UTF8()
                decoder.setstate(self._utf8.getstate())
            else:
                return  # binary, or compressed: the bytes on the wire are not the text
            self._partial_utf8 = decoder
        _decode_utf8(decoder, self._reader.partial_payload(), final=False)

    def _data_frame(self, b0: int, payload: bytes | bytearray) -> None:
        fin = b0 & FIN
        opcode = b0 & OPCODE
        if opcode != Opcode.CONTINUATION:
            self._msg_opcode = opcode
            self._msg_rsv = b0 & _RSV
            self._msg_size = 0
            if opcode == Opcode.TEXT:
                self._utf8 = _UTF8()
        limit = self.config.max_size
        for ext in reversed(self.extensions):
            remaining = None if limit is None else limit - self._msg_size
            payload = ext.decode(self._msg_rsv, payload, fin=bool(fin), max_size=remaining)
        self._msg_size += len(payload)
        if limit is not None and self._msg_size > limit:
            raise ProtocolError(
                f"message of more than {limit} bytes", violation=Violation.MESSAGE_TOO_BIG
            )
        if self._utf8 is not None:
            # Incremental: fails as soon as the bytes so far cannot be UTF-8.
            text = _decode_utf8(self._utf8, payload, final=bool(fin))
            if text:
                self._msg_text.append(text)
        elif payload:
            self._msg_parts.append(payload)
        if fin:
            if self._utf8 is not None:
                self._events.append(TextMessage("".join(self._msg_text)))
            else:
                parts = self._msg_parts
                self._events.append(BinaryMessage(parts[0] if len(parts) == 1 else b"".join(parts)))
            self._msg_opcode = None
            self._msg_parts = []
            self._msg_text = []
            self._msg_size = 0
            self._utf8 = None

    def _control_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == Opcode.PING:
            if self.state is ConnectionState.OPEN:
                self._write(Opcode.PONG, payload)  # §5.5.2: same Application data
            self._events.append(Ping(payload))
        elif opcode == Opcode.PONG:
            self._events.append(Pong(payload))  # §5.5.3: unsolicited pongs are fine
        else:
            self._close_frame(payload)

    def _close_frame(self, payload: bytes) -> None:
        # §5.5.1: an optional 2-byte code, then an optional UTF-8 reason.
        if not payload:
            code, reason = int(CloseCode.NO_STATUS_RCVD), ""
        elif len(payload) == 1:
            raise ProtocolError(
                "close frame with a 1-byte payload", violation=Violation.CLOSE_WITH_ONE_BYTE
            )
        else:
            code = int.from_bytes(payload[:2], "big")
            if not is_valid_on_wire(code):
                raise ProtocolError(
                    f"invalid close code {code}", violation=Violation.INVALID_CLOSE_CODE
                )
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(
                    "close reason is not valid UTF-8", violation=Violation.CLOSE_REASON_NOT_UTF8
                ) from None
        self.close_received = (code, reason)
        if self.state is ConnectionState.OPEN:
            # §5.5.1: answer with a close frame, echoing the code (and reason).
            self._write_close(None if code == CloseCode.NO_STATUS_RCVD else code, reason)
        self.state = ConnectionState.CLOSED
        self._reader.take_remaining()  # nothing after a close frame counts
        self._events.append(CloseReceived(code, reason))

    def _fail(self, error: ProtocolError) -> None:
        """§7.1.7 Fail the WebSocket Connection: send a close with the code, then stop."""
        if self.state is ConnectionState.OPEN:
            self._write_close(error.close_code, error.reason)
        self.state = ConnectionState.CLOSED
        self.failure = _kept(error)
        self._reader.take_remaining()
        self._events.append(
            ConnectionFailed(error.close_code, error.reason, violation=error.violation)
        )

    # --- sending --------------------------------------------------------------------

    def send_text(self, text: str, *, fragment_size: int | None = None) -> None:
        """Send a text message, in frames of at most `fragment_size` bytes if given."""
        self._send_message(Opcode.TEXT, text.encode("utf-8"), fragment_size)

    def send_binary(
        self, data: bytes | bytearray | memoryview, *, fragment_size: int | None = None
    ) -> None:
        """Send a binary message, in frames of at most `fragment_size` bytes if given."""
        self._send_message(Opcode.BINARY, bytes(data), fragment_size)

    def _send_message(
        self, opcode: Opcode, payload: bytes | bytearray, fragment_size: int | None
    ) -> None:
        if self.state is not ConnectionState.OPEN or self._sending_fragments:
            raise UsageError(
                f"cannot send a message in state {self.state.value}"
                + (" while a fragmented message is open" if self._sending_fragments else "")
            )
        if fragment_size is not None and fragment_size < 1:
            raise UsageError("fragment_size must be at least 1")
        rsv = 0
        for ext in self.extensions:
            payload, bits = ext.encode(opcode, payload)
            rsv |= bits
        if fragment_size is None or len(payload) <= fragment_size:
            self._write(opcode, payload, rsv=rsv)
            return
        last = len(payload) - fragment_size
        for start in range(0, len(payload), fragment_size):
            self._write(
                opcode if start == 0 else Opcode.CONTINUATION,
                payload[start : start + fragment_size],
                fin=start >= last,
                rsv=rsv if start == 0 else 0,
            )

    @property
    def prepared_key(self) -> tuple[object, ...] | None:
        """Server: what the bytes of a frame it sends depend on, when they may be built
        once for many connections (a broadcast): () without an extension (a server's
        frames are not masked); permessage-deflate's settings when it starts every
        message afresh (server_no_context_takeover). None when its frames are its own."""
        if self._client:
            return None
        if not self.extensions:
            return ()
        if len(self.extensions) == 1:
            key = getattr(self.extensions[0], "shared_key", None)
            return None if key is None else (self.extensions[0].name, *key)
        return None

    def send_prepared(self, frames: bytes, key: tuple[object, ...] = ()) -> bool:
        """Server: queue frames serialized once for many connections (a broadcast), built
        for connections whose `prepared_key` is `key`. Returns False (and queues nothing)
        when this connection cannot take them: not OPEN, a client, another key, or a
        fragmented message of its own under way. The caller vouches the bytes are whole
        frames, encoded as this connection's extension would have."""
        if (
            self.state is not ConnectionState.OPEN
            or self._sending_fragments
            or self.prepared_key != key
        ):
            return False
        self._out.append(frames)
        return True

    def encode_shared(self, opcode: Opcode, payload: bytes) -> bytes:
        """The frame this connection would send for a whole message, for `send_prepared`
        to others with the same `prepared_key` (which must not be None)."""
        rsv = 0
        data: bytes | bytearray = payload
        for ext in self.extensions:
            data, bits = ext.encode(opcode, data)
            rsv |= bits
        return pack_header(FIN | rsv | opcode, len(data), None) + data

    def send_frame(self, opcode: Opcode, payload: bytes = b"", *, fin: bool = True) -> None:
        """Send one frame by hand, e.g. to show fragmentation step by step.

        The rules still hold: a fragmented message is TEXT/BINARY with fin=False,
        then CONTINUATION frames, the last with fin=True; control frames may go
        in between.
        """
        try:
            opcode = Opcode(opcode)
        except ValueError:
            raise UsageError(f"{opcode:#x} is a reserved opcode (RFC 6455 §5.2)") from None
        if self.state is not ConnectionState.OPEN:
            raise UsageError(f"cannot send a frame in state {self.state.value}")
        if opcode.is_control:
            if not fin or len(payload) > MAX_CONTROL_PAYLOAD:
                raise UsageError("control frames carry at most 125 bytes and are never fragmented")
            if opcode == Opcode.CLOSE:
                raise UsageError("use close() to send a close frame")
        elif opcode == Opcode.CONTINUATION:
            if not self._sending_fragments:
                raise UsageError("no fragmented message to continue")
            self._sending_fragments = not fin
        else:
            if self._sending_fragments:
                raise UsageError("finish the fragmented message first")
            self._sending_fragments = not fin
        self._write(opcode, bytes(payload), fin=fin)

    def ping(self, payload: bytes = b"") -> None:
        self.send_frame(Opcode.PING, payload)

    def pong(self, payload: bytes = b"") -> None:
        """An unsolicited pong: a one-way heartbeat (RFC 6455 §5.5.3)."""
        self.send_frame(Opcode.PONG, payload)

    def close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2). `code=None` sends no code."""
        if self.state is not ConnectionState.OPEN:
            raise UsageError(f"cannot close in state {self.state.value}")
        if code is not None and not is_valid_on_wire(code):
            raise UsageError(f"{code} may not be sent in a close frame")
        if code is None and reason:
            raise UsageError("a close reason needs a close code")
        if len(reason.encode("utf-8")) > MAX_CLOSE_REASON:
            raise UsageError(f"a close reason is at most {MAX_CLOSE_REASON} bytes of UTF-8")
        self._write_close(code, reason)
        self.state = ConnectionState.CLOSING

    def _write_close(self, code: int | None, reason: str) -> None:
        payload = b""
        if code is not None:
            data = reason.encode("utf-8")[:MAX_CLOSE_REASON]
            payload = code.to_bytes(2, "big") + data.decode("utf-8", "ignore").encode("utf-8")
        self.close_sent = (code, reason)
        self._write(Opcode.CLOSE, payload)

    def _write(
        self, opcode: int, payload: bytes | bytearray, *, fin: bool = True, rsv: int = 0
    ) -> None:
        """Queue one frame. Clients mask with a fresh key from the random source (§5.3)."""
        b0 = (FIN if fin else 0) | rsv | opcode
        n = len(payload)
        out = self._out
        if self._client:
            mask = self._rng(4)
            header = pack_header(b0, n, mask)
            if n < NUMPY_THRESHOLD:
                out.append(header + xor_small(payload, mask))
            else:
                frame = bytearray(header)
                frame += payload
                mask_inplace(frame, mask, len(header))
                out.append(bytes(frame))
            key: bytes | None = mask
        else:
            key = None
            header = bytes((b0, n)) if n < 126 else pack_header(b0, n, None)
            if n < _LARGE:
                out.append(header + payload)
            else:
                out.append(header)
                out.append(payload)
        if self.on_frame is not None:
            self.on_frame(
                "sent",
                Frame(
                    fin,
                    bool(rsv & 0x40),
                    bool(rsv & 0x20),
                    bool(rsv & 0x10),
                    opcode,
                    key,
                    payload if isinstance(payload, bytes) else bytes(payload),
                    header,
                ),
            )


__all__ = ["Config", "Connection", "ConnectionState", "Role", "build_frame"]


def send_message(conn: Connection, event: Event) -> bool:
    """Send the message of a received `TextMessage` or `BinaryMessage` on `conn`: an
    echo, or a relay to another connection. Nothing is sent for any other event, or
    when `conn` is no longer OPEN — a close frame ended its sending side, and no data
    frame may follow one (RFC 6455 §5.5.1). Returns whether a message was sent."""
    if conn.state is not ConnectionState.OPEN:
        return False
    if type(event) is TextMessage:
        conn.send_text(event.data)
    elif type(event) is BinaryMessage:
        # Not copied (`send_binary` would): the engine made it, and nothing changes it.
        conn._send_message(Opcode.BINARY, event.data, None)
    else:
        return False
    return True
