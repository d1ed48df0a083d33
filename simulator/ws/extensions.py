"""The extension negotiation hook (RFC 6455 §9) that permessage-deflate plugs into.

An extension is offered by a client, accepted (or declined) by the server in
the 101 response, and from then on may use RSV bits and transform message
payloads. This module parses `Sec-WebSocket-Extensions` and defines the
interface an extension implements.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from simulator.ws.errors import HandshakeError

Params = tuple[tuple[str, str | None], ...]
ExtensionOffer = tuple[str, Params]

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TOKEN_CHARS for c in text)


def parse_extensions(value: str) -> list[ExtensionOffer]:
    """Parse a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1).

    `"permessage-deflate; client_max_window_bits, x-foo"` →
    `[("permessage-deflate", (("client_max_window_bits", None),)), ("x-foo", ())]`
    """
    offers: list[ExtensionOffer] = []
    for item in _split_outside_quotes(value, ","):
        if not item.strip():
            continue
        parts = _split_outside_quotes(item, ";")
        name = parts[0].strip()
        if not _is_token(name):
            raise HandshakeError(f"invalid extension name {name!r}")
        params: list[tuple[str, str | None]] = []
        for part in parts[1:]:
            key, eq, raw = part.partition("=")
            key = key.strip()
            if not _is_token(key):
                raise HandshakeError(f"invalid extension parameter {part.strip()!r}")
            if not eq:
                params.append((key, None))
                continue
            raw = raw.strip()
            if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                raw = raw[1:-1].replace("\\", "")
            if not _is_token(raw):
                raise HandshakeError(f"invalid value for extension parameter {key!r}")
            params.append((key, raw))
        offers.append((name, tuple(params)))
    return offers


def format_extension(name: str, params: Params) -> str:
    """The inverse of one item of `parse_extensions`."""
    return "; ".join([name, *(k if v is None else f"{k}={v}" for k, v in params)])


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise HandshakeError("unterminated quoted string in Sec-WebSocket-Extensions")
    parts.append("".join(current))
    return parts


class Extension(ABC):
    """One negotiated extension. A fresh instance serves one connection."""

    name: str = ""
    rsv_mask: int = 0x00  # the RSV bits (0x40, 0x20, 0x10) this extension may set
    agreed: Params = ()  # the parameters of the 101 response, once negotiated

    # --- negotiation -----------------------------------------------------
    @abstractmethod
    def offer(self) -> Params:
        """Client: the parameters to offer."""

    @abstractmethod
    def accept_offer(self, params: Params) -> Params | None:
        """Server: the response parameters for a client offer, or None to decline it."""

    @abstractmethod
    def accept_response(self, params: Params) -> None:
        """Client: check the server's response; raise `HandshakeError` to fail."""

    # --- data ------------------------------------------------------------
    @abstractmethod
    def encode(self, opcode: int, payload: bytes | bytearray) -> tuple[bytes | bytearray, int]:
        """Transform an outgoing message; return the payload and RSV bits for its first frame."""

    @abstractmethod
    def decode(
        self, rsv: int, payload: bytes | bytearray, *, fin: bool, max_size: int | None
    ) -> bytes | bytearray:
        """Transform one incoming data frame's payload.

        `rsv` is the message's first-frame RSV bits; `fin` marks its last frame.
        Raise `ProtocolError` naming the `Violation` (INFLATED_TOO_BIG, 1009, when
        decoding would exceed `max_size`).
        """

    def check_header(self, b0: int, continuation: bool) -> None:  # noqa: B027 (optional)
        """Check a data frame's first byte when one of `rsv_mask`'s bits is set, before
        its payload is read; raise `ProtocolError` naming the `Violation` to fail the
        connection."""

    def describe(self) -> str:
        """The negotiated extension as the response header names it."""
        return format_extension(self.name, self.agreed)
