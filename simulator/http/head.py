"""One HTTP/1.1 message head (RFC 9112 §2-§5): a start line, header fields, an empty line.

The reader is deliberately strict and small: lines end in CR LF, no obsolete line
folding, ASCII only, and a head has at most `MAX_HEAD` bytes and `MAX_HEADERS`
fields. Bodies are the caller's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulator.http.errors import HttpError

Headers = tuple[tuple[str, str], ...]

MAX_HEAD = 16 * 1024  # bytes of start line + headers we accept
MAX_HEADERS = 100

# RFC 9110 §5.6.2: a field name is a token (tchar+).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# §5.5: a field value holds no control character but HTAB (nor DEL).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Head:
    """An HTTP message head: its start line split in three, and its header fields."""

    start: tuple[str, str, str]
    headers: Headers

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    def get(self, name: str) -> str | None:
        """The one value of header `name`, or None; `HttpError` (400) if it appears twice."""
        values = self.get_all(name)
        if len(values) > 1:
            raise HttpError(f"{name} appears more than once")
        return values[0] if values else None

    def tokens(self, name: str) -> list[str]:
        """A comma-separated list header, all of its fields, split and stripped."""
        return [t.strip() for v in self.get_all(name) for t in v.split(",") if t.strip()]


def read_head(buf: bytes | bytearray) -> tuple[Head, int] | None:
    """Parse one HTTP head from the start of `buf`: (head, bytes used), or None if incomplete.

    Raises `HttpError` (400, or 431 when too large) for anything malformed.
    """
    end = buf.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise HttpError("request head too large", 431)
        if buf.find(b"\n\n", 0, MAX_HEAD + 2) >= 0:
            # A head ended by bare LFs would never end here: say so now, not at a timeout.
            raise HttpError("lines end with LF alone, not CR LF (RFC 9112 §2.2)")
        return None
    try:
        text = bytes(buf[:end]).decode("ascii")
    except UnicodeDecodeError:
        raise HttpError("non-ASCII bytes in the HTTP head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) != 3 or not all(parts):
        raise HttpError(f"malformed start line {lines[0]!r}")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError("too many header fields", 431)
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            raise HttpError("obsolete line folding is not allowed (RFC 9112 §5.2)")
        name, colon, value = line.partition(":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise HttpError(f"malformed header line {line!r}")
        value = value.strip(" \t")
        if _CONTROL.search(value) is not None:
            raise HttpError(f"control character in header {name}")
        headers.append((name, value))
    return Head((parts[0], parts[1], parts[2]), tuple(headers)), end + 4
