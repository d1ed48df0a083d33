"""permessage-deflate (RFC 7692): each message compressed with DEFLATE, marked by RSV1.

Theory of operation
-------------------
Negotiation (§5, §7.1). The client offers `permessage-deflate` with parameters;
the server accepts one offer by answering with its own parameter list, or
declines it (then the connection runs uncompressed). Four parameters:

    server_no_context_takeover   the server starts each message with an empty window
    client_no_context_takeover   the client does
    server_max_window_bits=N     the server's LZ77 window is at most 2^N bytes (8–15)
    client_max_window_bits[=N]   the client's is; offered bare, it says "you may limit me"

A server must decline an offer with an unknown, repeated or invalid parameter;
a client must fail the connection on such a response, or on one that ignores
what it asked for (a server that does not confirm server_no_context_takeover or
server_max_window_bits when they were offered, or that limits the client's
window when the client did not say it could be limited).

Data (§7.2). A compressed message has RSV1 set on its first frame only. The
sender compresses the message's bytes, flushes with Z_SYNC_FLUSH (which ends the
output with an empty stored block, 00 00 ff ff) and drops those four bytes; the
receiver puts them back after the last frame and inflates. With context
takeover (the default) each direction keeps one compressor and one decompressor
for the whole connection, so a message may refer back to earlier ones; without
it, each message starts fresh. A message without RSV1 is sent as it is.

Inflation is bounded: the receiver never produces more than the bytes the
message size limit allows, so a small "decompression bomb" fails with 1009
after inflating one byte past the limit, not after inflating all of it.
"""

from __future__ import annotations

import zlib

from simulator.ws.errors import HandshakeError, ProtocolError
from simulator.ws.extensions import Extension, Params
from simulator.ws.frames import RSV1
from simulator.ws.violations import Violation

NAME = "permessage-deflate"
TAIL = b"\x00\x00\xff\xff"  # the empty stored block Z_SYNC_FLUSH ends with (§7.2.1)
_TRY_PLAIN = 16 * 1024  # messages this big go uncompressed when compressing does not help
_EMPTY_BLOCK = b"\x00"  # §7.2.3.6: one byte of an empty stored block stands for no data
_FLAGS = ("server_no_context_takeover", "client_no_context_takeover")
_BITS = ("server_max_window_bits", "client_max_window_bits")
_KNOWN = frozenset(_FLAGS + _BITS)


def _window_bits(name: str, value: str | None) -> int:
    """A window-bits value: 1*DIGIT in 8..15, no leading zero (§7.1.2)."""
    if value is None or not value.isdigit() or value.startswith("0") or not 8 <= int(value) <= 15:
        raise HandshakeError(f"{name}={value} is not a window size from 8 to 15")
    return int(value)


def _as_dict(params: Params) -> dict[str, str | None]:
    """The parameters by name; an unknown or repeated one raises (§7.1)."""
    found: dict[str, str | None] = {}
    for key, value in params:
        name = key.lower()
        if name not in _KNOWN:
            raise HandshakeError(f"unknown permessage-deflate parameter {key!r}")
        if name in found:
            raise HandshakeError(f"permessage-deflate parameter {key!r} given twice")
        if name in _FLAGS and value is not None:
            raise HandshakeError(f"{key} takes no value")
        found[name] = value
    return found


class PerMessageDeflate(Extension):
    """permessage-deflate for one connection; its arguments are this side's wishes.

    As a client: `server_no_context_takeover`/`server_max_window_bits` are asked of
    the server; `client_no_context_takeover` and `client_max_window_bits` (a number)
    are promised; `client_max_window_bits=None` offers the bare parameter, letting
    the server pick. As a server: the `server_*` settings are applied to what the
    server sends whatever the client offered; `client_no_context_takeover` and
    `client_max_window_bits` are asked of the client when it allows it.

    `level` and `mem_level` tune the compressor (zlib's 1–9), not the wire.
    """

    name = NAME
    rsv_mask = RSV1

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | None = None,
        level: int = 6,
        mem_level: int = 8,
    ) -> None:
        for bits in (server_max_window_bits, client_max_window_bits):
            # zlib refuses a raw DEFLATE window of 2^8 bytes: 9 is the least we can honour.
            if bits is not None and not 9 <= bits <= 15:
                raise ValueError("window bits must be from 9 to 15")
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.level = level
        self.mem_level = mem_level
        self.agreed: Params = ()
        # Set by the negotiation: how this side sends and what it may receive.
        self._send_takeover = True
        self._send_bits = 15
        self._recv_takeover = True
        self._recv_bits = 15  # the peer's window: no reference reaches further back
        self._compressor: zlib._Compress | None = None  # made at the first message
        self._decompressor: zlib._Decompress | None = None
        self._inflating = False  # inside a compressed message that is not finished
        # The last inflated bytes, as far back as the peer's window reaches: where a
        # message ended its DEFLATE stream (a BFINAL block, RFC 7692 §7.2.3.3), the next
        # stream starts from them when the context is taken over.
        self._history = b""

    def __repr__(self) -> str:
        params = "; ".join(k if v is None else f"{k}={v}" for k, v in self.agreed)
        return f"<PerMessageDeflate {params or '(not negotiated)'}>"

    # --- negotiation -----------------------------------------------------------------

    def offer(self) -> Params:
        params: list[tuple[str, str | None]] = []
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self.server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self.server_max_window_bits)))
        bits = self.client_max_window_bits
        params.append(("client_max_window_bits", None if bits is None else str(bits)))
        return tuple(params)

    def accept_offer(self, params: Params) -> Params | None:
        try:
            offer = _as_dict(params)
            wanted_server_bits = (
                _window_bits("server_max_window_bits", offer["server_max_window_bits"])
                if "server_max_window_bits" in offer
                else None
            )
            client_may_be_limited = "client_max_window_bits" in offer
            client_limit = offer.get("client_max_window_bits")
            client_bits = (
                _window_bits("client_max_window_bits", client_limit)
                if client_limit is not None
                else 15
            )
        except HandshakeError:
            return None  # §7.1: decline an offer we cannot read; maybe another one fits
        if wanted_server_bits == 8:
            return None  # zlib cannot compress with a 256-byte window: decline (§7.1.2.1)
        response: list[tuple[str, str | None]] = []
        if self.server_no_context_takeover or "server_no_context_takeover" in offer:
            response.append(("server_no_context_takeover", None))
            self._send_takeover = False
        if self.client_no_context_takeover or "client_no_context_takeover" in offer:
            response.append(("client_no_context_takeover", None))
            self._recv_takeover = False
        server_bits = min(b for b in (wanted_server_bits, self.server_max_window_bits, 15) if b)
        if wanted_server_bits is not None or self.server_max_window_bits is not None:
            response.append(("server_max_window_bits", str(server_bits)))
        self._send_bits = server_bits
        if client_may_be_limited:
            limit = min(client_bits, self.client_max_window_bits or 15)
            if limit < 15 or client_limit is not None:
                response.append(("client_max_window_bits", str(limit)))
                self._recv_bits = limit
        self.agreed = tuple(response)
        return self.agreed

    def accept_response(self, params: Params) -> None:
        response = _as_dict(params)
        if self.server_no_context_takeover and "server_no_context_takeover" not in response:
            raise HandshakeError(
                "the server ignored server_no_context_takeover (RFC 7692 §7.1.1.1)"
            )
        self._recv_takeover = "server_no_context_takeover" not in response
        self._send_takeover = not (
            self.client_no_context_takeover or "client_no_context_takeover" in response
        )
        if "server_max_window_bits" in response:
            bits = _window_bits("server_max_window_bits", response["server_max_window_bits"])
            if self.server_max_window_bits is not None and bits > self.server_max_window_bits:
                raise HandshakeError(
                    f"the server's window ({bits} bits) is larger than the "
                    f"{self.server_max_window_bits} asked for (RFC 7692 §7.1.2.1)"
                )
            self._recv_bits = bits
        elif self.server_max_window_bits is not None:
            raise HandshakeError("the server ignored server_max_window_bits (RFC 7692 §7.1.2.1)")
        if "client_max_window_bits" in response:
            bits = _window_bits("client_max_window_bits", response["client_max_window_bits"])
            if bits == 8:
                raise HandshakeError(
                    "the server asks for a 256-byte window (client_max_window_bits=8), "
                    "which zlib cannot compress with"
                )
            self._send_bits = min(bits, self.client_max_window_bits or 15)
        else:
            self._send_bits = self.client_max_window_bits or 15
        self.agreed = tuple(params)

    # --- data ------------------------------------------------------------------------

    @property
    def shared_key(self) -> tuple[int, int, int] | None:
        """When this side starts every message it sends afresh (no context takeover), what
        its output depends on: then the same message encodes to the same bytes for every
        connection with the same key, and a broadcast may compress it once for them all.
        None while it takes its context over (its output depends on what it sent)."""
        if self._send_takeover:
            return None
        return (self.level, self._send_bits, self.mem_level)

    def encode(self, opcode: int, payload: bytes | bytearray) -> tuple[bytes | bytearray, int]:
        compressor = self._compressor
        if compressor is None or not self._send_takeover:
            compressor = zlib.compressobj(
                self.level, zlib.DEFLATED, -self._send_bits, self.mem_level
            )
            self._compressor = compressor
        # A large message that does not shrink (already compressed, random) is sent as
        # it is (§6: compressing is per message). With context takeover the compressor
        # must then forget it, as the peer never inflates it: keep a copy to go back to.
        # (Copying costs about as much as compressing 16 KiB, so small ones just go.)
        backup = compressor.copy() if len(payload) >= _TRY_PLAIN and self._send_takeover else None
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if data.endswith(TAIL):
            data = data[:-4]
        if len(payload) >= _TRY_PLAIN and len(data) >= len(payload):
            if backup is not None:
                self._compressor = backup
            return payload, 0
        return data or _EMPTY_BLOCK, RSV1

    def decode(
        self, rsv: int, payload: bytes | bytearray, *, fin: bool, max_size: int | None
    ) -> bytes | bytearray:
        if not rsv & RSV1:
            return payload  # sent uncompressed (§6)
        decompressor = self._decompressor
        if decompressor is None or (not self._recv_takeover and not self._inflating):
            # The window the peer agreed to keep within (RFC 7692 §7.1.2): a smaller one
            # costs less memory.
            decompressor = self._decompressor = zlib.decompressobj(-self._recv_bits)
        self._inflating = not fin
        data = payload + TAIL if fin else payload
        out = b""
        remembered = 0  # how much of `out` is in the history already
        while True:
            try:
                if max_size is None:
                    out += decompressor.decompress(data)
                else:
                    out += decompressor.decompress(data, max_size + 1 - len(out))
            except zlib.error as error:
                raise ProtocolError(
                    f"compressed message cannot be inflated: {error}",
                    violation=Violation.CORRUPT_COMPRESSED_DATA,
                ) from None
            if max_size is not None and (len(out) > max_size or decompressor.unconsumed_tail):
                raise ProtocolError(
                    f"compressed message inflates past the {max_size}-byte limit",
                    violation=Violation.INFLATED_TOO_BIG,
                )
            if not decompressor.eof:
                break
            # A BFINAL block ended the stream: what follows (the next message, or more of
            # this one) is a new stream over the same window (RFC 7692 §7.2.3.3).
            rest = decompressor.unused_data
            if self._recv_takeover:
                self._remember(out[remembered:])
                remembered = len(out)
                decompressor = zlib.decompressobj(-self._recv_bits, zdict=self._history)
            else:
                decompressor = zlib.decompressobj(-self._recv_bits)
            self._decompressor = decompressor
            if not rest or rest == TAIL:
                return out
            data = rest  # shorter each time round: the loop ends
        if self._recv_takeover:
            self._remember(out[remembered:])
        return out

    def _remember(self, out: bytes) -> None:
        window = 1 << self._recv_bits
        self._history = (self._history + out[-window:])[-window:]

    def check_header(self, b0: int, continuation: bool) -> None:
        if continuation and b0 & RSV1:
            # §6.1: only a message's first frame carries the Per-Message Compressed bit.
            raise ProtocolError(
                "RSV1 set on a continuation frame (RFC 7692 §6)",
                violation=Violation.RSV1_ON_CONTINUATION,
            )
