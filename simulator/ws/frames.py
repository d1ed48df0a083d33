"""WebSocket frames (RFC 6455 §5): parse, serialize, and name every header field.

      0                   1                   2                   3
      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     +-+-+-+-+-------+-+-------------+-------------------------------+
     |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
     |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
     |N|V|V|V|       |S|             |   (if payload len==126/127)   |
     | |1|2|3|       |K|             |                               |
     +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
     |     Extended payload length continued, if payload len == 127  |
     + - - - - - - - - - - - - - - - +-------------------------------+
     |                               |Masking-key, if MASK set to 1  |
     +-------------------------------+-------------------------------+
     | Masking-key (continued)       |          Payload Data         |
     +-------------------------------- - - - - - - - - - - - - - - - +

`FrameReader` is the one parser: the connection uses it on live bytes and the
dissectors use it on recorded bytes. It only enforces what any frame must obey
(the 64-bit length's high bit, a size limit); role-specific rules are checked
by the caller through the `check_header` hook, before the payload is buffered.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from simulator.ws.close_codes import explain
from simulator.ws.errors import ProtocolError
from simulator.ws.mask import NUMPY_THRESHOLD, apply_mask, mask_inplace, xor_small
from simulator.ws.violations import Violation

# RFC 6455 §5.2: the bits of the first two header bytes.
FIN = 0x80
RSV1 = 0x40
RSV2 = 0x20
RSV3 = 0x10
OPCODE = 0x0F
MASK = 0x80
LENGTH = 0x7F

LENGTH_16 = 126  # "payload len" value announcing a 16-bit extended length
LENGTH_64 = 127  # ... and a 64-bit one
MAX_CONTROL_PAYLOAD = 125  # RFC 6455 §5.5


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 §5.2, §11.8)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """Control frames have the high opcode bit set (RFC 6455 §5.5)."""
        return self >= 0x8


DATA_OPCODES = frozenset({Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY})
KNOWN_OPCODES = frozenset(int(op) for op in Opcode)


@dataclass(frozen=True, slots=True)
class FieldSpan:
    """Where one header field sits in a frame's bytes.

    `start`/`end` are byte offsets from the frame's first byte (end exclusive).
    `bits`, for fields narrower than their bytes, is the absolute bit range
    (start, end), counted from the most significant bit of byte 0.
    """

    name: str
    start: int
    end: int
    value: int | bool | bytes | None
    bits: tuple[int, int] | None = None


class Frame(NamedTuple):
    """One frame: its header bits, its application data (unmasked) and its header bytes."""

    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masking_key: bytes | None
    payload: bytes
    header: bytes  # the header exactly as it is on the wire

    @property
    def masked(self) -> bool:
        return self.masking_key is not None

    @property
    def raw(self) -> bytes:
        """The whole frame as it crosses the wire (payload masked if it was)."""
        if self.masking_key is None:
            return self.header + self.payload
        return self.header + apply_mask(self.payload, self.masking_key)

    @property
    def length_form(self) -> int:
        """7, 16 or 64: which payload-length encoding the header used."""
        marker = self.header[1] & LENGTH
        return 16 if marker == LENGTH_16 else 64 if marker == LENGTH_64 else 7

    def fields(self) -> list[FieldSpan]:
        """Every header field with its byte span and, for sub-byte fields, its bit span."""
        b0, b1 = self.header[0], self.header[1]
        spans = [
            FieldSpan("fin", 0, 1, self.fin, (0, 1)),
            FieldSpan("rsv1", 0, 1, self.rsv1, (1, 2)),
            FieldSpan("rsv2", 0, 1, self.rsv2, (2, 3)),
            FieldSpan("rsv3", 0, 1, self.rsv3, (3, 4)),
            FieldSpan("opcode", 0, 1, b0 & OPCODE, (4, 8)),
            FieldSpan("mask", 1, 2, bool(b1 & MASK), (8, 9)),
            FieldSpan("payload_length", 1, 2, b1 & LENGTH, (9, 16)),
        ]
        pos = 2
        if self.length_form == 16:
            spans.append(FieldSpan("extended_payload_length", 2, 4, len(self.payload)))
            pos = 4
        elif self.length_form == 64:
            spans.append(FieldSpan("extended_payload_length", 2, 10, len(self.payload)))
            pos = 10
        if self.masking_key is not None:
            spans.append(FieldSpan("masking_key", pos, pos + 4, self.masking_key))
            pos += 4
        spans.append(FieldSpan("payload", pos, pos + len(self.payload), self.payload))
        return spans

    def __str__(self) -> str:
        try:
            name = Opcode(self.opcode).name
        except ValueError:
            name = f"OPCODE {self.opcode:#x}"
        size = len(self.payload)
        notes = [f"{size} byte{'s' * (size != 1)}"]
        if self.masked:
            notes.append("masked")
        if not self.fin:
            notes.append("FIN=0")
        if self.rsv1 or self.rsv2 or self.rsv3:
            notes.append("RSV=" + "".join("1" if b else "0" for b in self.rsv_bits))
        return f"{name} {_describe_payload(self.opcode, self.payload)}[{', '.join(notes)}]"

    @property
    def rsv_bits(self) -> tuple[bool, bool, bool]:
        return (self.rsv1, self.rsv2, self.rsv3)


def _describe_payload(opcode: int, payload: bytes) -> str:
    if opcode == Opcode.CLOSE:
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            reason = payload[2:].decode("utf-8", "replace")
            text = f"{code} ({explain(code).split(':')[0]})"
            return f"{text} {reason!r} " if reason else f"{text} "
        return ""
    if opcode == Opcode.TEXT or opcode in (Opcode.PING, Opcode.PONG):
        text = payload[:40].decode("utf-8", "replace")
        return f"{text!r}{'…' if len(payload) > 40 else ''} "
    if not payload:
        return ""
    return payload[:16].hex(" ") + (" … " if len(payload) > 16 else " ")


def encode_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    masking_key: bytes | None = None,
) -> bytes:
    """The header bytes for a frame, using the shortest length form (RFC 6455 §5.2)."""
    b0 = (FIN if fin else 0) | (RSV1 if rsv1 else 0) | (RSV2 if rsv2 else 0)
    b0 |= (RSV3 if rsv3 else 0) | opcode
    return pack_header(b0, length, masking_key)


def pack_header(b0: int, length: int, masking_key: bytes | None) -> bytes:
    """The header for first byte `b0` (FIN, RSV, opcode) and a payload of `length` bytes."""
    mask_bit = MASK if masking_key is not None else 0
    if length < LENGTH_16:
        header = bytes((b0, mask_bit | length))
    elif length < 0x10000:
        header = struct.pack("!BBH", b0, mask_bit | LENGTH_16, length)
    else:
        header = struct.pack("!BBQ", b0, mask_bit | LENGTH_64, length)
    return header if masking_key is None else header + masking_key


def serialize_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    masking_key: bytes | None = None,
) -> bytes:
    """A whole frame's wire bytes; `payload` is masked when a `masking_key` is given."""
    header = encode_header(
        opcode, len(payload), fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, masking_key=masking_key
    )
    if masking_key is None:
        return header + payload
    if len(payload) < NUMPY_THRESHOLD:
        return header + xor_small(payload, masking_key)
    out = bytearray(header)
    out += payload
    mask_inplace(out, masking_key, len(header))
    return bytes(out)


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    masking_key: bytes | None = None,
) -> Frame:
    """A `Frame` value for what `serialize_frame` would put on the wire."""
    header = encode_header(
        opcode, len(payload), fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, masking_key=masking_key
    )
    return Frame(fin, rsv1, rsv2, rsv3, opcode, masking_key, payload, header)


RawFrame = tuple[int, bytes | None, bytes | bytearray, int, int]

HeaderCheck = Callable[[int, bool, int], None]
"""Called as check(first_byte, masked, payload_length) once per frame, before its payload."""

#: A frame whose payload is this big is read into a buffer of its own: the bytes arrive
#: there (`get_buffer`) and are unmasked as they come, and the payload is handed out as
#: that buffer, never copied into `bytes`.
BIG_PAYLOAD = 64 * 1024
#: ...once a part of it arrived, 1 / 2**BIG_AFTER of it: a header alone cannot make the
#: reader allocate what it announces (14 bytes claiming a megabyte): memory stays within
#: 2**BIG_AFTER times what the peer sent.
BIG_AFTER = 3
#: The size of the buffer other bytes are read into before they are parsed.
READ_SIZE = 256 * 1024

_reads = threading.local()


def _bytearray_unfilled() -> Callable[[int], bytearray]:
    """A maker of bytearrays whose contents are left as the allocator gave them: a large
    payload's buffer is then not zeroed first, only to be overwritten byte for byte by
    the reads (zeroing took 8 % of the server's time for a 16 MiB message).
    CPython's `PyByteArray_FromStringAndSize(NULL, n)`; elsewhere, plain `bytearray`.

    The reader never gives out a byte of such a buffer it did not receive into it: only
    up to `_fill` (`take_remaining`, `partial_payload`), and the payload once it is full.
    """
    try:
        import ctypes

        make = ctypes.pythonapi.PyByteArray_FromStringAndSize
    except (ImportError, AttributeError, OSError):
        return bytearray
    make.restype = ctypes.py_object
    make.argtypes = (ctypes.c_char_p, ctypes.c_ssize_t)

    def unfilled(length: int) -> bytearray:
        buffer = make(None, length)
        assert type(buffer) is bytearray and len(buffer) == length
        return buffer

    return unfilled


_unfilled = _bytearray_unfilled()


def read_buffer() -> memoryview:
    """This thread's buffer for reads that are parsed (copied out) at once: one for every
    connection, since a read is consumed before the next one starts."""
    try:
        view: memoryview = _reads.view
    except AttributeError:
        view = _reads.view = memoryview(bytearray(READ_SIZE))
    return view


class FrameReader:
    """Incremental frame parser: feed bytes, take whole frames.

    Bytes come in one of two ways: `feed(data)`, or `get_buffer()` and then
    `buffer_updated(n)` once `n` bytes were written into it (what an
    `asyncio.BufferedProtocol` does), which reads a large payload straight into its
    own buffer. The frames are the same either way, in any chunks.

    `max_payload` bounds a single frame: a header announcing more fails with
    1009 before any of that payload is buffered.

    A payload of `BIG_PAYLOAD` bytes or more that comes over several reads is handed
    out as the `bytearray` it was read into (unmasked in place), not copied into
    `bytes`: treat it as read-only. Its buffer is made once an eighth of it arrived
    (`BIG_AFTER`): what a reader holds stays within eight times what it was given.
    """

    __slots__ = (
        "_big", "_big_b0", "_big_header", "_big_key", "_buf", "_checked", "_fill",
        "_pos", "_read", "_seen", "check_header", "max_payload", "waiting",
    )  # fmt: skip

    def __init__(
        self, *, max_payload: int | None = None, check_header: HeaderCheck | None = None
    ) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._checked = -1  # position of the header already passed to check_header
        self.max_payload = max_payload
        self.check_header = check_header
        # The large frame being read into a buffer of its own, if any: its payload
        # (unmasked up to `_fill`), first byte, masking key and header bytes.
        self._big: bytearray | None = None
        self._fill = 0
        self._big_b0 = 0
        self._big_key: bytes | None = None
        self._big_header = b""
        self._seen = 0  # payload bytes of the incomplete frame `partial_payload` gave out
        self._read: memoryview | None = None  # what get_buffer() gave for small reads
        #: A frame's header was read and checked, and its payload is still arriving.
        self.waiting = False

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._big is not None:
            data = self._fill_big(data)
            if not data:
                return
        if self._pos:
            del self._buf[: self._pos]
            if self._checked >= 0:
                self._checked -= self._pos
            self._pos = 0
        self._buf += data

    def get_buffer(self) -> memoryview:
        """Where the next bytes received should be written; then call `buffer_updated`.

        While a large frame is read, the rest of its payload; else a reusable buffer.
        """
        big = self._big
        if big is not None:
            return memoryview(big)[self._fill :]
        read = self._read
        if read is None:  # this thread's, once: a reader is used by one event loop
            read = self._read = read_buffer()
        return read

    def buffer_updated(self, nbytes: int) -> None:
        """`nbytes` were written at the start of what `get_buffer` returned."""
        big = self._big
        if big is None:
            assert self._read is not None, "buffer_updated() without get_buffer()"
            if self._pos:  # feed(), inline: this is every small message's path
                del self._buf[: self._pos]
                if self._checked >= 0:
                    self._checked -= self._pos
                self._pos = 0
            self._buf += self._read[:nbytes]
            return
        if nbytes > len(big) - self._fill:
            raise ValueError("more bytes than the buffer held")
        self._filled(big, nbytes)

    def _fill_big(self, data: bytes | bytearray | memoryview) -> memoryview:
        """Copy the start of `data` into the large payload; return what follows it."""
        big = self._big
        assert big is not None
        view = data if isinstance(data, memoryview) else memoryview(data)
        start = self._fill
        n = min(len(view), len(big) - start)
        big[start : start + n] = view[:n]
        self._filled(big, n)
        return view[n:]

    def _filled(self, big: bytearray, n: int) -> None:
        """`n` more payload bytes are in `big`: unmask them where they are."""
        start = self._fill
        self._fill = start + n
        if self._big_key is not None:
            mask_inplace(big, _rotated(self._big_key, start), start, start + n)

    @property
    def large(self) -> bool:
        """A large frame's payload is arriving into a buffer of its own: reads made
        into `get_buffer()` land there, without a copy."""
        return self._big is not None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        big = 0 if self._big is None else len(self._big_header) + self._fill
        return len(self._buf) - self._pos + big

    def take_remaining(self) -> bytes:
        """Remove and return everything buffered, as it came (used after a handshake or
        a close, and for what follows the last whole frame of a recording)."""
        rest = bytes(self._buf[self._pos :])
        if self._big is not None:
            part = memoryview(self._big)[: self._fill]  # unmasked as it came: mask it again
            payload = part if self._big_key is None else apply_mask(part, self._big_key)
            rest = self._big_header + bytes(payload) + rest
            self._big = None
        self._buf.clear()
        self._pos = 0
        self._checked = -1
        self._seen = 0
        self.waiting = False
        return rest

    @property
    def pending_header(self) -> int | None:
        """The first header byte of the frame whose payload is still arriving (`waiting`),
        or None."""
        if not self.waiting:
            return None
        return self._big_b0 if self._big is not None else self._buf[self._pos]

    def partial_payload(self) -> bytes | bytearray | memoryview:
        """The unmasked payload bytes of the incomplete frame (see `pending_header`)
        that arrived since the last call: for checking a payload before it is whole."""
        seen = self._seen
        big = self._big
        if big is not None:
            self._seen = self._fill
            return memoryview(big)[seen : self._fill]
        if self.pending_header is None:
            return b""
        buf = self._buf
        pos = self._pos
        b1 = buf[pos + 1]
        marker = b1 & LENGTH
        start = pos + (4 if marker == LENGTH_16 else 10 if marker == LENGTH_64 else 2)
        masked = b1 & MASK
        if masked:
            start += 4
        if len(buf) < start:
            return b""
        length = (
            (buf[pos + 2] << 8) | buf[pos + 3]
            if marker == LENGTH_16
            else int.from_bytes(buf[pos + 2 : pos + 10], "big")
            if marker == LENGTH_64
            else marker
        )
        end = min(len(buf), start + length)
        if end - start <= seen:
            return b""
        self._seen = end - start
        data = buf[start + seen : end]
        if not masked:
            return data
        return apply_mask(data, _rotated(bytes(buf[start - 4 : start]), seen))

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive.

        Raises `ProtocolError` when the bytes cannot be a valid frame.
        """
        item = self.next_item()
        return None if item is None else self.frame(item)

    def frame(self, item: RawFrame) -> Frame:
        """The `Frame` for an item just returned by `next_item`."""
        b0, key, payload, start, hlen = item
        header = self._big_header if start < 0 else bytes(self._buf[start : start + hlen])
        if type(payload) is not bytes:
            payload = bytes(payload)  # a Frame is a value: a copy of a large payload
        return Frame(
            bool(b0 & FIN), bool(b0 & RSV1), bool(b0 & RSV2), bool(b0 & RSV3),
            b0 & OPCODE, key, payload, header,
        )  # fmt: skip

    def next_item(self) -> RawFrame | None:
        """Like `next_frame`, as a bare tuple: the connection's fast path.

        (first header byte, masking key or None, unmasked payload, header offset,
        header length); valid until the next `feed`. A large frame's header offset is
        -1: its header is kept apart.
        """
        big = self._big
        if big is not None:
            if self._fill < len(big):
                return None
            self._big = None
            self._seen = 0
            self.waiting = False
            return self._big_b0, self._big_key, big, -1, len(self._big_header)
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 2:
            return None
        b0 = buf[pos]
        b1 = buf[pos + 1]
        length = b1 & LENGTH
        hlen = 2
        if length == LENGTH_16:
            if avail < 4:
                return None
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            hlen = 4
        elif length == LENGTH_64:
            if avail < 10:
                return None
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            hlen = 10
            if length >> 63:
                # RFC 6455 §5.2: "the most significant bit MUST be 0".
                raise ProtocolError(
                    "64-bit payload length has its most significant bit set",
                    violation=Violation.LENGTH_TOP_BIT,
                )
        masked = b1 & MASK
        if self._checked != pos:
            if self.max_payload is not None and length > self.max_payload:
                raise ProtocolError(
                    f"frame of {length} bytes exceeds the {self.max_payload}-byte limit",
                    violation=Violation.FRAME_TOO_BIG,
                )
            if self.check_header is not None:
                self.check_header(b0, bool(masked), length)
            self._checked = pos  # only once it passed: a refused header stays refused
        start = pos + hlen
        if masked:
            start += 4
        end = start + length
        if len(buf) < end:
            self.waiting = True
            if length >= BIG_PAYLOAD and len(buf) - start >= length >> BIG_AFTER:
                self._read_big(b0, length, start)
            return None
        self._pos = end
        if self.waiting:
            self.waiting = False
            self._seen = 0
        if not masked:
            return b0, None, bytes(buf[start:end]), pos, hlen
        key = bytes(buf[start - 4 : start])
        if length < NUMPY_THRESHOLD:
            payload = xor_small(buf[start:end], key)
        else:
            mask_inplace(buf, key, start, end)
            with memoryview(buf) as view:
                payload = bytes(view[start:end])
        return b0, key, payload, pos, hlen + 4

    def _read_big(self, b0: int, length: int, start: int) -> None:
        """From now on, read the payload of the frame at `_pos` into a buffer of its own."""
        buf = self._buf
        pos = self._pos
        big = _unfilled(length)
        have = len(buf) - start
        key = bytes(buf[start - 4 : start]) if buf[pos + 1] & MASK else None
        with memoryview(buf) as view:
            big[:have] = view[start:]
        if key is not None:
            mask_inplace(big, key, 0, have)
        self._big_header = bytes(buf[pos:start])
        self._big_b0 = b0
        self._big_key = key
        self._big = big
        self._fill = have
        # `partial_payload` counts from the payload's start in either buffer.
        buf.clear()
        self._pos = 0
        self._checked = -1


def _rotated(key: bytes, offset: int) -> bytes:
    """The masking key as it lines up with payload byte `offset` (RFC 6455 §5.3: i mod 4)."""
    shift = offset & 3
    return key[shift:] + key[:shift] if shift else key


def parse_frames(data: bytes) -> tuple[list[Frame], bytes]:
    """Split recorded bytes into whole frames and the incomplete remainder."""
    reader = FrameReader()
    reader.feed(data)
    frames = []
    while (frame := reader.next_frame()) is not None:
        frames.append(frame)
    return frames, reader.take_remaining()
