"""permessage-deflate (RFC 7692) for the dissectors: compressed messages inflated in order.

permessage-deflate compresses whole messages, not frames, and with context
takeover a message may copy bytes from the ones sent before it. So a
compressed message is inflated by a `MessageInflater`, one per connection and
direction, fed every compressed message of that direction in order (the
message dissector in `simulator.dissect.messages` does this); the WebSocket
dissector then shows a frame with its `CompressedPart`, and its message's last
frame with the inflated bytes. A frame dissected on its own is inflated on its
own (`inflate_alone`), which works unless it refers back. Inflating stops at
`INFLATE_LIMIT` bytes, so a decompression bomb costs at most that much memory
and time.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from simulator.text import plural
from simulator.ws.deflate import TAIL

# Inflating a message stops after this many bytes: 16 times the engine's default
# message size limit (1 MiB), room for peers with larger limits, while a
# decompression bomb (DEFLATE reaches about 1000:1) costs at most this much.
INFLATE_LIMIT = 16 << 20
_INFLATE_STEP = 1 << 20  # output asked of zlib at a time
# Why a message may be missing context its sender assumed the receiver had.
NOT_CAPTURED = "earlier messages not in this capture"
FAILED_BEFORE = "an earlier message that could not be inflated"
CUT_BEFORE = "an earlier message whose inflating was cut short"


@dataclass(frozen=True, slots=True)
class Inflated:
    """A compressed message inflated (RFC 7692 §7.2.2), or as far as it would go."""

    data: bytes  # the inflated bytes kept: all of them, unless `size` says more came out
    size: int  # how many bytes inflating produced (at most INFLATE_LIMIT)
    compressed: int  # the message's compressed bytes: its frames' payloads, tail not counted
    frames: int  # how many frames carried it
    text: bool  # a text message, whose inflated bytes must be UTF-8
    cut: bool = False  # there was more: inflating stopped at INFLATE_LIMIT
    problem: str | None = None  # why inflating failed or stopped
    takeover: bool | None = None  # may it refer to earlier messages? (None: not known)

    @property
    def whole(self) -> bool:
        """Every inflated byte is here: nothing failed, nothing was cut or left out."""
        return self.problem is None and not self.cut and len(self.data) == self.size

    def ratio(self) -> str:
        """'9 bytes → 5 bytes (×0.6)', '1 byte' when it is one."""
        factor = f" (×{self.size / self.compressed:.1f})" if self.compressed else ""
        return f"{plural(self.compressed, 'byte')} → {plural(self.size, 'byte')}{factor}"


@dataclass(frozen=True, slots=True)
class CompressedPart:
    """One frame of a compressed message: which one, and (on the last) the message inflated."""

    index: int  # 0 for the first frame, the one with RSV1 set
    inflated: Inflated | None = None  # on the message's last frame


@dataclass(slots=True)
class _Message:
    """A compressed message being inflated."""

    text: bool
    keep: int  # how many inflated bytes to keep
    lost: str | None  # context it may need that the decompressor does not have
    out: bytearray = field(default_factory=bytearray)
    size: int = 0
    compressed: int = 0
    frames: int = 0
    cut: bool = False
    error: str | None = None


class MessageInflater:
    """One direction's decompressor, fed that direction's compressed messages in order.

    RFC 7692 §7.1.1: unless `*_no_context_takeover` was agreed for this
    direction (`takeover=False`), the sender keeps its compressor from one
    message to the next, so a message may copy strings out of the ones before
    it; one decompressor then serves the whole direction and must see every
    compressed message. When one went by unseen (`missed`), or could not be
    inflated, the next message starts from an empty window: zlib refuses a
    reference into bytes it never had ("invalid distance too far back") rather
    than making them up, so what comes out is always right, and a message that
    cannot come out says why. Keeping context is always safe: a message that
    does not refer back inflates the same either way.

        inflater.begin(text=True)    # the first frame, RSV1 = 1
        inflater.feed(payload)       # each frame's clear payload, in order
        inflated = inflater.end()    # after the frame with FIN = 1
    """

    def __init__(self, *, takeover: bool | None = True, lost: str | None = None) -> None:
        self.takeover = takeover
        self.lost = lost  # why earlier context is missing; None while every message was seen
        self._decompressor: Any = None  # zlib's Decompress type is not public
        self._message: _Message | None = None

    def missed(self, what: str = NOT_CAPTURED) -> None:
        """Frames of this direction went by unseen: any message in progress is dropped."""
        self._message = None
        self._lose(what)

    def begin(self, *, text: bool, keep: int = INFLATE_LIMIT) -> None:
        """A compressed message starts (its first frame has RSV1 set)."""
        if self._decompressor is None or self.takeover is False:
            # §7.2.2: no context takeover, each message from an empty window. Inflating
            # with the largest window (15 bits) reads any smaller one too (§7.1.2).
            self._decompressor = zlib.decompressobj(wbits=-15)
        lost = None if self.takeover is False else self.lost
        self._message = _Message(text, min(keep, INFLATE_LIMIT), lost)

    @property
    def in_message(self) -> bool:
        return self._message is not None

    def feed(self, payload: bytes) -> None:
        """The clear payload of the message's next frame."""
        message = self._message
        if message is None:
            return
        message.compressed += len(payload)
        message.frames += 1
        self._inflate(message, payload)

    def end(self) -> Inflated | None:
        """The message's last frame has been fed: put back the tail and finish (§7.2.2)."""
        message, self._message = self._message, None
        if message is None:
            return None
        self._inflate(message, TAIL)
        if self._decompressor is not None and (self.takeover is False or self._decompressor.eof):
            # No takeover: the next message starts afresh anyway. At eof the sender ended
            # the DEFLATE stream with a final block (BFINAL = 1, which RFC 7692 allows): a
            # stream that has ended takes no more input, so the next message starts anew.
            self._decompressor = None
        problem = None
        if message.error is not None:
            if message.lost is not None and "too far back" in message.error:
                problem = f"refers to {message.lost}, so it cannot be inflated here"
            else:
                problem = "cannot be inflated"
            problem += f" (zlib: {message.error})"
        elif message.cut:
            problem = (
                f"inflated output cut at {INFLATE_LIMIT} bytes: the inspector inflates no "
                "further (a receiver closes with 1009 once a message passes its size limit)"
            )
        return Inflated(
            bytes(message.out), message.size, message.compressed, message.frames,
            message.text, message.cut, problem, self.takeover,
        )  # fmt: skip

    def _lose(self, why: str) -> None:
        """The window no longer matches the sender's: the next message starts empty."""
        self._decompressor = None
        if self.takeover is not False:
            self.lost = why

    def _inflate(self, message: _Message, data: bytes) -> None:
        decompressor = self._decompressor
        if decompressor is None or message.error is not None or message.cut:
            return
        pending = data
        while True:
            # Ask for one byte past the limit, and only ever a bounded amount at a time:
            # a bomb is stopped there, never inflated whole.
            ask = min(_INFLATE_STEP, INFLATE_LIMIT + 1 - message.size)
            try:
                piece = decompressor.decompress(pending, ask)
            except zlib.error as error:
                message.error = str(error).removeprefix("Error -3 while decompressing data: ")
                self._lose(FAILED_BEFORE)
                return
            room = message.keep - len(message.out)
            if room > 0:
                message.out += piece[:room]
            message.size += len(piece)
            if message.size > INFLATE_LIMIT:
                message.size = INFLATE_LIMIT
                message.cut = True
                self._lose(CUT_BEFORE)
                return
            if decompressor.eof:
                # A final block (BFINAL) ended the DEFLATE stream; what follows is a new
                # stream over the same window (RFC 7692 §7.2.3.3). zlib takes no more input
                # after its end (it would pile up in unused_data, output nothing, and this
                # loop would never end): start another, with the window this message built
                # when its bytes are all kept. Each stream consumes input, so this ends.
                pending = decompressor.unused_data
                if not pending:
                    return
                whole = len(message.out) == message.size
                window = bytes(message.out[-32768:]) if whole else b""
                decompressor = self._decompressor = zlib.decompressobj(wbits=-15, zdict=window)
                continue
            pending = decompressor.unconsumed_tail
            if not pending and len(piece) < ask:
                return


def inflate_alone(payload: bytes, *, text: bool) -> Inflated:
    """One whole compressed message inflated with a fresh window, as if nothing came before."""
    inflater = MessageInflater(takeover=None, lost="earlier messages not shown here")
    inflater.begin(text=text)
    inflater.feed(payload)
    inflated = inflater.end()
    assert inflated is not None
    return inflated
