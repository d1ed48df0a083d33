"""HTTP/1.1 messages (RFC 9110, RFC 9112), with the WebSocket opening handshake (RFC 6455 §4).

    GET /chat HTTP/1.1                      ← request line: method, target, version
    Host: server.example.com                ← header fields: name ":" value, one per line
    Upgrade: websocket
    ...
                                            ← an empty line ends the head
    [body, framed by Content-Length or chunked transfer coding]

The dissector is tolerant: it reports what is wrong (a missing blank line, a
header line without a colon, a Sec-WebSocket-Accept that does not match the
key) as `problem`s and never raises. Bytes are decoded as ISO-8859-1 so that
character positions are byte positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from simulator.dissect.fields import Buffer, Dissection, Field, FieldValue
from simulator.dissect.registry import Kind, alias, define
from simulator.http import HttpError, read_head
from simulator.text import plural
from simulator.ws.handshake import accept_key, check_request, is_valid_key

METHODS = (
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
    b"PATCH ",
)

METHOD_EXPLANATIONS = {
    "GET": "GET asks for the target resource. The WebSocket opening handshake is always a "
    "GET (RFC 6455 §4.1).",
    "HEAD": "HEAD is GET without the body: only the response's head comes back.",
    "POST": "POST sends the body to the target for it to process.",
    "PUT": "PUT replaces the target resource with the body.",
    "DELETE": "DELETE asks the server to remove the target resource.",
    "CONNECT": "CONNECT asks a proxy to open a tunnel to the target host and port.",
    "OPTIONS": "OPTIONS asks what the server allows for the target.",
    "TRACE": "TRACE asks the server to echo the request back, for diagnostics.",
    "PATCH": "PATCH applies a partial change to the target resource.",
}

STATUS_EXPLANATIONS = {
    101: "Switching Protocols: the server accepts the Upgrade. Right after this response's "
    "empty line, both sides speak the new protocol (here WebSocket frames) on the same "
    "connection.",
    200: "OK: the request succeeded. For a WebSocket request this means no upgrade took "
    "place: the request was answered in plain HTTP, so no WebSocket connection exists.",
    400: "Bad Request: the request was malformed, e.g. a missing or invalid Sec-WebSocket-Key.",
    401: "Unauthorized: credentials are needed; the WWW-Authenticate header says which kind.",
    403: "Forbidden: understood but refused, e.g. a WebSocket request from an Origin the "
    "server does not allow.",
    404: "Not Found: nothing answers at this target (path).",
    426: "Upgrade Required: the server will only answer over another protocol, named in its "
    "Upgrade header. A WebSocket server also uses it, with Sec-WebSocket-Version, for a "
    "version it does not speak.",
}
STATUS_CLASSES = {
    1: "informational: an interim answer, the final one follows",
    2: "success",
    3: "redirection: look elsewhere (see Location)",
    4: "client error: the request was at fault",
    5: "server error: the server failed",
}

HEADER_EXPLANATIONS = {
    "host": "The host name (and port, if not the default) the request is for; required in "
    "every HTTP/1.1 request, so one server can host many sites.",
    "origin": "The web origin (scheme, host, port) of the page that made the request. "
    "Browsers set it and scripts cannot change it, so a server can refuse pages it does not "
    "trust (403); non-browser clients may omit it or send anything.",
    "content-length": "The body's size in bytes: it tells the receiver where this message "
    "ends and the next one starts.",
    "content-type": "The media type of the body (text/html, application/json…).",
    "transfer-encoding": "How the body is framed; 'chunked' sends it in pieces, each with "
    "its size in hex, ending with a zero-size chunk.",
    "user-agent": "The client software, for statistics and workarounds.",
    "server": "The server software.",
    "date": "When the message was created.",
    "cache-control": "Caching rules for this message.",
    "pragma": "An HTTP/1.0 cache directive, kept for old caches.",
    "accept": "The media types the client prefers in the response.",
    "accept-encoding": "The content codings (gzip, br…) the client can decode.",
    "accept-language": "The languages the client prefers.",
    "cookie": "State the server stored earlier with Set-Cookie, sent back with the request. "
    "Browsers send it on WebSocket requests too.",
    "set-cookie": "Asks the client to store a cookie and send it back later.",
    "location": "Where to look instead (for a redirect) or what was created.",
    "authorization": "The client's credentials.",
    "www-authenticate": "How to authenticate, sent with 401.",
    "sec-websocket-version": "The WebSocket protocol version. RFC 6455 defines 13, the only "
    "one in use.",
}
TRAILER_EXPLANATION = (
    "A trailer field: like a header field, but sent after a chunked body, for what is "
    "known only at its end (a checksum, say); it never changes how the body is framed "
    "(RFC 9110 §6.5)."
)
CHUNKS_SHOWN = 100  # chunks of one body dissected one by one; the rest are counted
TRAILERS_SHOWN = 100  # trailer fields, likewise
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

define("http", Kind.PROTOCOL, "Hypertext Transfer Protocol, HTTP/1.1 (RFC 9110, RFC 9112)")
define("http.request_line", Kind.TEXT, "A request's first line: method, target, version")
define("http.request.method", Kind.TEXT, "The request method: GET, POST, …")
define("http.request.target", Kind.TEXT, "The resource asked for: a path and optional query")
define("http.request.version", Kind.TEXT, "A request's protocol version: HTTP/1.1")
define("http.status_line", Kind.TEXT, "A response's first line: version, code, phrase")
define("http.response.version", Kind.TEXT, "A response's protocol version: HTTP/1.1")
define("http.response.code", Kind.UINT, "The three-digit status code: 200, 101, 404, …")
define("http.response.phrase", Kind.TEXT, "The status code's words for people: OK, Not Found")
define("http.header", Kind.TEXT, "One header field line; its value is the field's value")
define("http.header.name", Kind.TEXT, "A header field's name (any case)")
define("http.header.value", Kind.TEXT, "A header field's value, without the spaces around it")
define("http.more_lines", Kind.UINT, "Header lines past the first 100, counted, not dissected")
define("http.blank_line", Kind.LABEL, "The empty line that ends the head")
define("http.body", Kind.BYTES, "The message body (content), as framed by the head")
define("http.chunk", Kind.BYTES, "One chunk of a chunked body")
define("http.chunk.size", Kind.UINT, "A chunk's size line, in hexadecimal on the wire")
define("http.chunk.data", Kind.BYTES, "A chunk's data")
define("http.chunk.more", Kind.UINT, "Chunks past the first 100, counted, not dissected")
define("http.trailer", Kind.TEXT, "A trailer field, sent after a chunked body")
define("http.trailer.more", Kind.UINT, "Trailer fields past the first 100, counted")

# Wireshark's names for the same things.
alias("http.request", Kind.BOOL, "The message is a request", of=("http.request_line",))
alias("http.response", Kind.BOOL, "The message is a response", of=("http.status_line",))
alias("http.request.uri", Kind.TEXT, "The request target", of=("http.request.target",))
alias("http.version", Kind.TEXT, "The protocol version of a request or a response",
      of=("http.request.version", "http.response.version"))  # fmt: skip
alias("http.chunk_size", Kind.UINT, "A chunk's size", of=("http.chunk.size",))
alias("http.chunk_data", Kind.BYTES, "A chunk's data", of=("http.chunk.data",))
for _header, _name in (
    ("Host", "http.host"),
    ("User-Agent", "http.user_agent"),
    ("Content-Type", "http.content_type"),
    ("Content-Length", "http.content_length"),
    ("Content-Length", "http.content_length_header"),
    ("Content-Encoding", "http.content_encoding"),
    ("Transfer-Encoding", "http.transfer_encoding"),
    ("Connection", "http.connection"),
    ("Upgrade", "http.upgrade"),
    ("Server", "http.server"),
    ("Date", "http.date"),
    ("Location", "http.location"),
    ("Accept", "http.accept"),
    ("Accept-Encoding", "http.accept_encoding"),
    ("Accept-Language", "http.accept_language"),
    ("Cache-Control", "http.cache_control"),
    ("Cookie", "http.cookie"),
    ("Set-Cookie", "http.set_cookie"),
    ("Referer", "http.referer"),
    ("Authorization", "http.authorization"),
    ("WWW-Authenticate", "http.www_authenticate"),
    ("Last-Modified", "http.last_modified"),
    ("Sec-WebSocket-Key", "http.sec_websocket_key"),
    ("Sec-WebSocket-Accept", "http.sec_websocket_accept"),
    ("Sec-WebSocket-Version", "http.sec_websocket_version"),
    ("Sec-WebSocket-Protocol", "http.sec_websocket_protocol"),
    ("Sec-WebSocket-Extensions", "http.sec_websocket_extensions"),
):
    _kind = Kind.UINT if _name == "http.content_length" else Kind.TEXT
    alias(_name, _kind, f"The {_header} header field's value", header=_header)


def looks_like_http(data: bytes) -> bool:
    """Does `data` begin with an HTTP/1.x request line or status line?"""
    if data.startswith(b"HTTP/1."):
        return True
    if not data.startswith(METHODS):
        return False
    newline = data.find(b"\n", 0, 8192)
    return newline < 0 or b" HTTP/" in data[:newline]


def start_line(data: bytes) -> str:
    """The message's first line, for a packet list ("GET /chat HTTP/1.1")."""
    line = data[:200].split(b"\n", 1)[0].rstrip(b"\r")
    return line.decode("latin-1")


def problems_of(fields: Iterable[Field]) -> tuple[str, ...]:
    """Every problem in the trees, depth first, as "label: problem"."""
    found: list[str] = []
    stack = list(fields)[::-1]
    while stack:
        field = stack.pop()
        if field.problem:
            found.append(f"{field.label}: {field.problem}")
        stack.extend(field.children[::-1])
    return tuple(found)


# --- lines -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    start: int  # first byte
    end: int  # end of content, before CR LF
    next: int  # first byte after the line terminator
    text: str
    bare_lf: bool  # terminated by LF alone


class _Rest(NamedTuple):
    """The head's lines past the ones shown: where they are and how many."""

    start: int
    end: int
    lines: int


def _lines(data: bytes) -> tuple[list[_Line], int | None, _Rest | None]:
    """The head's lines up to the empty one, at most `LINES_SHOWN` and the empty one; where
    the head ends (None if no empty line); and the lines past the ones shown, if any."""
    lines: list[_Line] = []
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            if pos < len(data):  # an unfinished last line
                text = data[pos:].decode("latin-1")
                lines.append(_Line(pos, len(data), len(data), text, False))
            return lines, None, None
        end = nl - 1 if nl > pos and data[nl - 1] == 0x0D else nl
        if end == pos and lines:
            lines.append(_Line(pos, end, nl + 1, "", end == nl))
            return lines, nl + 1, None
        lines.append(_Line(pos, end, nl + 1, data[pos:end].decode("latin-1"), end == nl))
        pos = nl + 1
        if len(lines) >= LINES_SHOWN:
            break
    # Too many to show: find the empty line at C speed and count what lies before it.
    blank = _BLANK_LINE.search(data, pos - 1)
    if blank is None:
        count = data.count(b"\n", pos) + (not data.endswith(b"\n"))
        return lines, None, _Rest(pos, len(data), count) if pos < len(data) else None
    stop, after = blank.start() + 1, blank.end()
    bare_lf = data[after - 2] != 0x0D
    lines.append(_Line(stop, stop, after, "", bare_lf))
    return lines, after, _Rest(pos, stop, data.count(b"\n", pos, stop)) if stop > pos else None


_BLANK_LINE = re.compile(rb"\n\r?\n")
LINES_SHOWN = 101  # a start line and 100 header fields, as many as a server accepts


# --- the dissector ---------------------------------------------------------------------


def dissect_http(data: bytes, *, buffer: int = 0, offset: int = 0, key: str | None = None) -> Field:
    """Dissect the HTTP/1.1 message at the start of `data`.

    `data[0]` sits at `offset` in buffer `buffer`. `key` is the client's
    Sec-WebSocket-Key, to check a response's Sec-WebSocket-Accept against.
    Bytes after the message's end are left out of the returned field.
    """
    return _Http(data, buffer, offset, key).field()


class _Http:
    def __init__(self, data: bytes, buffer: int, offset: int, key: str | None) -> None:
        self.data = data
        self.buffer = buffer
        self.offset = offset
        self.key = key
        self.lines, self.head_end, self.rest = _lines(data)
        first = self.lines[0].text if self.lines else ""
        self.request = not first.startswith("HTTP/")
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.problems: list[str] = []

    def span(
        self,
        name: str,
        label: str,
        start: int,
        end: int,
        *,
        value: FieldValue = None,
        display: str = "",
        explanation: str = "",
        children: tuple[Field, ...] = (),
        problem: str | None = None,
    ) -> Field:
        """A field at `start:end` of the message, placed in its buffer."""
        return Field(
            name,
            label,
            self.offset + start,
            self.offset + end,
            value,
            display,
            explanation,
            children=children,
            buffer=self.buffer,
            problem=problem,
        )

    def field(self) -> Field:
        children: list[Field] = []
        if self.lines:
            children.append(self._start_line(self.lines[0]))
        for line in self.lines[1:]:
            if line.end == line.start and line.next == self.head_end and self.rest is not None:
                children.append(self._rest(self.rest))
            if line.end == line.start and line.next == self.head_end:
                children.append(
                    self.span(
                        "http.blank_line",
                        "End of head (empty line)",
                        line.start,
                        line.next,
                        display="CR LF" if not line.bare_lf else "LF",
                        explanation="An empty line ends the head; the body, if any, follows.",
                    )
                )
            else:
                children.append(self._header(line))
        end = len(self.data)
        if self.head_end is None and self.rest is not None:
            children.append(self._rest(self.rest))
        if self.head_end is None:
            self.problems.append(
                "incomplete: the head has no empty line yet "
                f"({plural(len(self.data), 'byte')} so far)"
            )
        else:
            body, end = self._body(self.head_end)
            if body is not None:
                children.append(body)
            self._check_handshake()
        start = self.lines[0].text if self.lines else ""
        kind = "request" if self.request else "response"
        return self.span(
            "http",
            f"HTTP {kind}: {start}" if start else f"HTTP {kind}",
            0,
            end,
            explanation=(
                "An HTTP/1.1 message: a start line, header fields, an empty line, then an "
                "optional body. Text on the wire, one message after another on a TCP "
                "connection."
            ),
            children=tuple(children),
            problem="; ".join(self.problems) or None,
        )

    def _rest(self, rest: _Rest) -> Field:
        return self.span(
            "http.more_lines",
            f"[{plural(rest.lines, 'more header line', grouped=True)}]",
            rest.start,
            rest.end,
            value=rest.lines,
            display="not dissected",
            explanation=f"Not dissected: past {LINES_SHOWN - 1} header fields a server "
            "refuses the head (431 Request Header Fields Too Large).",
        )

    # --- start line --------------------------------------------------------------------

    def _start_line(self, line: _Line) -> Field:
        text, s = line.text, line.start
        first = text.find(" ")
        parts: list[Field] = []
        problem = None
        if self.request:
            last = text.rfind(" ")
            if first < 0 or last == first:
                problem = "malformed request line: expected method, target and version"
            method = text[:first] if first >= 0 else text
            parts.append(
                self.span(
                    "http.request.method",
                    "Method",
                    s,
                    s + len(method),
                    value=method,
                    explanation=METHOD_EXPLANATIONS.get(
                        method, "The request method: what the client wants done."
                    ),
                    problem=None if method in METHOD_EXPLANATIONS else "unknown method",
                )
            )
            if problem is None:
                target = text[first + 1 : last]
                parts.append(
                    self.span(
                        "http.request.target",
                        "Request target",
                        s + first + 1,
                        s + last,
                        value=target,
                        explanation=(
                            "Which resource the request is for: usually a path and an "
                            "optional query. For a WebSocket, the path of the ws:// URI."
                        ),
                    )
                )
                parts.append(self._version(text[last + 1 :], s + last + 1, "http.request.version"))
            name, label = "http.request_line", "Request line"
        else:
            version = text[:first] if first >= 0 else text
            parts.append(self._version(version, s, "http.response.version"))
            if first < 0:
                problem = "malformed status line: no status code"
            else:
                rest = text[first + 1 :]
                code_text, space, phrase = rest.partition(" ")
                code_at = s + first + 1
                code = int(code_text) if code_text.isdigit() and len(code_text) == 3 else None
                self.status = code
                meaning = ""
                if code is not None:
                    meaning = STATUS_EXPLANATIONS.get(code, "")
                    if not meaning:
                        meaning = f"{code}: {STATUS_CLASSES.get(code // 100, 'unknown class')}."
                parts.append(
                    self.span(
                        "http.response.code",
                        "Status code",
                        code_at,
                        code_at + len(code_text),
                        value=code,
                        display=code_text,
                        explanation=meaning or "The status code: three digits.",
                        problem=None if code is not None else "not a three-digit status code",
                    )
                )
                if space:
                    phrase_at = code_at + len(code_text) + 1
                    parts.append(
                        self.span(
                            "http.response.phrase",
                            "Reason phrase",
                            phrase_at,
                            phrase_at + len(phrase),
                            value=phrase,
                            explanation=(
                                "Words for people; a client should ignore them and go by the "
                                "status code (RFC 9112 §4)."
                            ),
                        )
                    )
            name, label = "http.status_line", "Status line"
        return self.span(
            name,
            label,
            line.start,
            line.next,
            value=text,
            display=text,
            explanation=(
                "The request line: method, target and protocol version, separated by single spaces."
                if self.request
                else "The status line: protocol version, a three-digit status code and a "
                "reason phrase."
            ),
            children=tuple(parts),
            problem=problem,
        )

    def _version(self, version: str, at: int, name: str) -> Field:
        ok = version in ("HTTP/1.1", "HTTP/1.0")
        return self.span(
            name,
            "Version",
            at,
            at + len(version),
            value=version,
            explanation=(
                "The protocol version. The WebSocket handshake needs HTTP/1.1 (or later), "
                "whose Upgrade mechanism it uses."
            ),
            problem=None if ok else f"unexpected version {version!r}",
        )

    # --- header fields -----------------------------------------------------------------

    def _header(self, line: _Line, *, trailer: bool = False) -> Field:
        text, s = line.text, line.start
        colon = text.find(":")
        if line.next == len(self.data) and self.head_end is None and line.end == line.next:
            line_problem: str | None = "incomplete line"
        else:
            line_problem = None
        if text[:1] in (" ", "\t"):
            return self.span(
                "http.header",
                "Continuation line",
                line.start,
                line.next,
                value=text.strip(),
                explanation="A header line starting with a space continues the previous one "
                "(obsolete line folding).",
                problem="obsolete line folding: not allowed in HTTP/1.1 (RFC 9112 §5.2)",
            )
        if colon <= 0:
            return self.span(
                "http.header",
                "Malformed header line",
                line.start,
                line.next,
                value=text,
                explanation="A header line must be a name, a colon and a value.",
                problem=line_problem or "no colon: not a header field",
            )
        name = text[:colon]
        value_start = colon + 1
        while value_start < len(text) and text[value_start] in " \t":
            value_start += 1
        value = text[value_start:].rstrip(" \t")
        lname = name.lower()
        if trailer:  # RFC 9110 §6.5: metadata sent after the content; it frames nothing
            explanation, display, problem = TRAILER_EXPLANATION, "", None
        else:
            self.headers.append((name, value))
            explanation, display, problem = self._header_meaning(lname, value)
        if name != name.strip():
            problem = "whitespace before the colon: a server must reject this (RFC 9112 §5.1)"
        children = (
            self.span(
                "http.header.name",
                "Name",
                s,
                s + colon,
                value=name,
                explanation="The field name; case does not matter.",
            ),
            self.span(
                "http.header.value",
                "Value",
                s + value_start,
                s + value_start + len(value),
                value=value,
                explanation="The field value, without the spaces around it.",
            ),
        )
        return self.span(
            "http.trailer" if trailer else "http.header",
            name,
            line.start,
            line.next,
            value=value,
            display=display or value,
            explanation=explanation,
            children=children,
            problem=line_problem or problem,
        )

    def _header_meaning(self, lname: str, value: str) -> tuple[str, str, str | None]:
        """(explanation, display, problem) for one header field."""
        tokens = [t.strip().lower() for t in value.split(",")]
        request, status = self.request, self.status
        if lname == "upgrade":
            if request:
                text = (
                    "Asks to switch this connection to another protocol once the response "
                    "is sent; 'websocket' asks for WebSocket (RFC 9110 §7.8)."
                )
            elif status == 101:
                text = (
                    "The protocol the connection switches to, starting right after this "
                    "response's empty line."
                )
            else:
                text = "The protocol(s) the server wants the client to upgrade to."
            return text, "", None
        if lname == "connection":
            text = (
                "Options for this connection only, which proxies must not pass on (RFC 9110 "
                "§7.6.1). A sender of Upgrade must list 'Upgrade' here too (§7.8)."
            )
            if "close" in tokens:
                text += " 'close': the sender closes the connection after this message."
            return text, "", None
        if lname == "sec-websocket-key":
            text = (
                "16 random bytes in base64, fresh for each handshake. The server hashes it "
                "into Sec-WebSocket-Accept to prove it understood a WebSocket request; it is "
                "not a secret or a credential (RFC 6455 §4.1)."
            )
            if not is_valid_key(value):
                return text, "", "not base64 of exactly 16 bytes"
            return text, f"{value} (expected answer: {accept_key(value)})", None
        if lname == "sec-websocket-accept":
            text = (
                f'base64(SHA-1(key + "{WEBSOCKET_GUID}")): the server\'s proof that it '
                "read this client's Sec-WebSocket-Key. The client must check it (RFC 6455 "
                "§4.2.2, §4.1)."
            )
            if self.key is None:
                return text, "", None
            expected = accept_key(self.key)
            if value == expected:
                return text, f"{value} (matches the key)", None
            return (
                text,
                f"{value} (does not match)",
                f"does not match the key (expected {expected})",
            )
        if lname == "sec-websocket-protocol":
            if request:
                text = (
                    "Subprotocols the client can speak over the WebSocket (e.g. 'chat'), "
                    "most preferred first."
                )
            else:
                text = "The one subprotocol the server picked from the client's list."
            return text, "", None
        if lname == "sec-websocket-extensions":
            if request:
                text = (
                    "Extensions the client offers, with parameters. permessage-deflate "
                    "(RFC 7692) compresses each message and marks it with the RSV1 bit."
                )
            else:
                text = (
                    "The extensions the server accepted (a subset of the offer); only these "
                    "may use the RSV bits of frames."
                )
            if "permessage-deflate" in value.lower():
                text += (
                    " Parameters (RFC 7692 §7.1): server_no_context_takeover / "
                    "client_no_context_takeover: that side starts every message with an "
                    "empty window, so no message refers back to an earlier one; "
                    "server_max_window_bits=N / client_max_window_bits=N: that side's LZ77 "
                    "window is at most 2^N bytes (N from 8 to 15; 15, 32 KiB, without it). "
                    "client_max_window_bits without a value, in an offer, lets the server "
                    "choose the client's window."
                )
            return text, "", None
        if lname == "sec-websocket-version":
            text = HEADER_EXPLANATIONS[lname]
            if not request:
                text += " In an error response it lists the versions the server speaks."
                return text, "", None
            return text, "", None if value == "13" else "the only version is 13"
        if lname == "content-length":
            text = HEADER_EXPLANATIONS[lname]
            return (
                text,
                plural(int(value), "byte") if value.isdigit() else "",
                (None if value.isdigit() else "not a number"),
            )
        if lname in HEADER_EXPLANATIONS:
            return HEADER_EXPLANATIONS[lname], "", None
        return "A header field: a name, a colon and a value (RFC 9110 §5).", "", None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def has_token(self, name: str, token: str) -> bool:
        lname = name.lower()
        return any(
            t.strip().lower() == token
            for k, v in self.headers
            if k.lower() == lname
            for t in v.split(",")
        )

    # --- body --------------------------------------------------------------------------

    def _body(self, start: int) -> tuple[Field | None, int]:
        """The body field (None if there is none) and where the message ends."""
        data = self.data
        status = self.status
        if not self.request and status is not None and (status < 200 or status in (204, 304)):
            return None, start  # RFC 9112 §6.3: these responses never have a body
        if self.has_token("Transfer-Encoding", "chunked"):
            return self._chunked(start)
        length_text = self.header("Content-Length")
        if length_text is not None and length_text.strip().isdigit():
            length = int(length_text)
        elif self.request:
            return None, start  # a request without framing headers has no body
        else:
            length = len(data) - start  # the body runs until the connection closes
        if length == 0:
            return None, start
        body = data[start : start + length]
        problem = None
        if len(body) < length:
            problem = f"incomplete: {len(body)} of {plural(length, 'byte')}"
        return (
            self.span(
                "http.body",
                f"Body ({plural(length, 'byte')})",
                start,
                start + len(body),
                value=body,
                display=_show_body(body),
                explanation="The message's content; its length comes from Content-Length "
                "(or, in a response without one, from the connection closing).",
                problem=problem,
            ),
            start + len(body),
        )

    def _chunked(self, start: int) -> tuple[Field | None, int]:
        data = self.data
        chunks: list[Field] = []
        pos = start
        problem = None
        total = 0
        skipped: tuple[int, int] | None = None  # where the chunks not shown start, how many
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                problem = "incomplete: the chunked body has not ended"
                pos = len(data)
                break
            size_text = data[pos:nl].split(b";", 1)[0].strip().decode("latin-1")
            try:
                size = int(size_text, 16)
            except ValueError:
                problem = f"bad chunk size {size_text[:40]!r}"
                pos = len(data)
                break
            data_at = nl + 1
            if size == 0:  # the last chunk, then optional trailer fields and an empty line
                if skipped is not None:
                    chunks.append(self._skipped(*skipped, pos))
                    skipped = None
                last, pos, problem = self._last_chunk(pos, data_at)
                chunks.append(last)
                break
            end = min(data_at + size + 2, len(data))
            total += min(size, len(data) - data_at)
            if len(chunks) < CHUNKS_SHOWN:
                chunks.append(self._chunk(pos, data_at, size, end))
            elif skipped is None:
                skipped = (pos, 1)
            else:
                skipped = (skipped[0], skipped[1] + 1)
            pos = end
            if pos >= len(data):
                problem = "incomplete: the chunked body has not ended"
                break
        if skipped is not None:
            chunks.append(self._skipped(*skipped, pos))
        return (
            self.span(
                "http.body",
                f"Body, chunked ({plural(total, 'byte')} of data)",
                start,
                pos,
                value=data[start:pos],
                explanation="A chunked body: each chunk is its size in hex on a line, the "
                "data, and a line end; a zero-size chunk ends it.",
                children=tuple(chunks),
                problem=problem,
            ),
            pos,
        )

    def _skipped(self, start: int, count: int, end: int) -> Field:
        return self.span(
            "http.chunk.more",
            f"[{plural(count, 'more chunk', grouped=True)}]",
            start,
            end,
            value=count,
            display="counted, not dissected one by one",
            explanation=f"Not dissected one by one: the first {CHUNKS_SHOWN} chunks are; "
            "the body's size counts them all.",
        )

    def _last_chunk(self, start: int, data_at: int) -> tuple[Field, int, str | None]:
        """The zero-size chunk, its trailer fields and the empty line: (field, end, problem)."""
        data = self.data
        end = data_at
        trailers: list[Field] = []
        more, more_at = 0, 0
        problem = None
        while True:
            nl = data.find(b"\n", end)
            if nl < 0:
                problem = "incomplete: the chunked body has not ended"
                end = len(data)
                break
            text_end = nl - 1 if nl > end and data[nl - 1] == 0x0D else nl
            if text_end == end:
                end = nl + 1
                break
            if len(trailers) < TRAILERS_SHOWN:
                line = data[end:text_end].decode("latin-1")
                trailers.append(self._header(_Line(end, text_end, nl + 1, line, text_end == nl),
                                             trailer=True))  # fmt: skip
            else:
                more, more_at = more + 1, more_at or end
            end = nl + 1
        if more:
            trailers.append(
                self.span(
                    "http.trailer.more",
                    f"[{plural(more, 'more trailer field', grouped=True)}]",
                    more_at,
                    end,
                    value=more,
                    display="not dissected one by one",
                    explanation=f"Not dissected one by one: the first {TRAILERS_SHOWN} are.",
                )
            )
        return self._chunk(start, data_at, 0, end, trailers=tuple(trailers)), end, problem

    def _chunk(
        self, start: int, data_at: int, size: int, end: int, *, trailers: tuple[Field, ...] = ()
    ) -> Field:
        content = self.data[data_at : data_at + size]
        children = [
            self.span(
                "http.chunk.size",
                "Chunk size",
                start,
                data_at,
                value=size,
                display=f"{size:#x} ({plural(size, 'byte')})",
                explanation="The chunk's size in hexadecimal, then a line end.",
            ),
        ]
        if size:
            children.append(
                self.span(
                    "http.chunk.data",
                    "Chunk data",
                    data_at,
                    data_at + len(content),
                    value=content,
                    display=_show_body(content),
                    explanation="The chunk's bytes.",
                )
            )
        return self.span(
            "http.chunk",
            "Last chunk" if size == 0 else "Chunk",
            start,
            end,
            display=plural(size, "byte") if size else "0 bytes: the end of the body",
            explanation="The zero-size chunk that ends the body; trailer fields (rare) may "
            "follow it, then an empty line."
            if size == 0
            else "One piece of the body.",
            children=(*children, *trailers),
            problem=None if len(content) == size else "incomplete",
        )

    # --- the WebSocket opening handshake -----------------------------------------------

    def _check_handshake(self) -> None:
        if self.request and self.has_token("Upgrade", "websocket"):
            try:
                parsed = read_head(self.data)
                if parsed is not None:
                    check_request(parsed[0])
            except HttpError as error:  # the engine's HandshakeError is one too
                self.problems.append(
                    f"not a valid WebSocket handshake, a server answers {error.status}: "
                    f"{error.reason}"
                )
        elif not self.request and self.status == 101:
            if not self.has_token("Upgrade", "websocket"):
                self.problems.append("a 101 response for WebSocket needs 'Upgrade: websocket'")
            if not self.has_token("Connection", "upgrade"):
                self.problems.append("a 101 response needs 'Connection: Upgrade'")
            if self.header("Sec-WebSocket-Accept") is None:
                self.problems.append("no Sec-WebSocket-Accept: the client must fail the connection")


def _show_body(body: bytes) -> str:
    """Text in quotes if the body reads as text, else its first bytes in hex."""
    text = body[:80].decode("utf-8", "replace")
    readable = all(c.isprintable() or c in "\r\n\t" for c in text)
    if text and readable and "\ufffd" not in text[:-3]:
        return repr(text) + ("…" if len(body) > 80 else "")
    return body[:16].hex(" ") + (" …" if len(body) > 16 else "")


def http_dissection(message_bytes: bytes, *, title: str, key: str | None = None) -> Dissection:
    """One HTTP message (e.g. reassembled from a stream) as a dissection of its own."""
    top = dissect_http(message_bytes, key=key)
    fields = [top]
    if top.end < len(message_bytes):
        rest = len(message_bytes) - top.end
        fields.append(
            Field(
                "data",
                f"Data after the message ({plural(rest, 'byte')})",
                top.end,
                len(message_bytes),
                value=message_bytes[top.end :],
                explanation="Bytes past the end of this HTTP message: the next message, or, "
                "after a 101 response, the first WebSocket frames.",
            )
        )
    return Dissection(
        summary=start_line(message_bytes) or "HTTP",
        protocol="HTTP",
        fields=tuple(fields),
        buffers=(Buffer(title, message_bytes),),
        problems=problems_of(fields),
    )
