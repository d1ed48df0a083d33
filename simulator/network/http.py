"""Plain HTTP/1.1 (RFC 9110, RFC 9112) for the simulated server and client, sans-IO.

A message is a head — a start line and header fields, each line ending in
CR LF — an empty line, then a body whose end the receiver knows from
`Content-Length` or the chunked transfer coding (RFC 9112 §6). Nothing here
touches a socket or a clock: bytes in, messages out; messages in, bytes out.

- `read_request(buf)` and `read_response(buf, method=…)` cut one message from
  the start of a buffer, or say it is not complete yet, or raise `HttpError`
  with the status a server answers (400 for malformed, …).
- `Site` is the server's small resource table: which target gets which status
  (200, 401 with a Basic challenge, 403, 404, 405) and which body.
- `build_request` / `build_response` write messages; every response carries
  `Content-Length`.

The head is parsed by the same strict reader the WebSocket handshake uses
(`simulator.http.read_head`), so one HTTP parser serves both; responses are
written by `simulator.http`'s builder, with its reason phrases.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from simulator import http
from simulator.http import Head, Headers, HttpError, read_head

MAX_BODY = 64 * 1024  # the largest request body the server takes (else 413)

_VERSION = re.compile(r"HTTP/(\d)\.(\d)")


def _all(headers: Headers, name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def _tokens(headers: Headers, name: str) -> list[str]:
    return [t.strip().lower() for v in _all(headers, name) for t in v.split(",") if t.strip()]


class _HasHeaders:
    """Header lookups shared by requests and responses."""

    __slots__ = ()
    headers: Headers

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        values = _all(self.headers, name)
        return values[0] if values else None

    def tokens(self, name: str) -> list[str]:
        """A comma-separated header's items, lower-case."""
        return _tokens(self.headers, name)


@dataclass(frozen=True, slots=True)
class HttpRequest(_HasHeaders):
    """One request as it crossed the wire; `size` counts its bytes (head and body)."""

    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""
    size: int = 0

    @property
    def path(self) -> str:
        """The target's path, without the query (origin-form or absolute-form)."""
        target = self.target
        match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", target)
        if match:
            target = target[match.end() :] or "/"
        return target.split("?", 1)[0].split("#", 1)[0]

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless `Connection: close` (RFC 9112 §9.3);
        HTTP/1.0 closes unless `Connection: keep-alive`."""
        tokens = self.tokens("Connection")
        if "close" in tokens:
            return False
        return self.version != "HTTP/1.0" or "keep-alive" in tokens

    def __str__(self) -> str:
        return f"HTTP {self.method} {self.target} [{self.size} bytes]"


@dataclass(frozen=True, slots=True)
class HttpResponse(_HasHeaders):
    """One response as it crossed the wire; `size` counts its bytes (head and body)."""

    version: str
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    size: int = 0

    @property
    def closes(self) -> bool:
        """The sender closes the connection after this response."""
        return "close" in self.tokens("Connection") or self.version == "HTTP/1.0"

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason} [{self.size} bytes, body {len(self.body)}]"


# --- reading ---------------------------------------------------------------------------


def _chunked(buf: bytes | bytearray, start: int, limit: int) -> tuple[bytes, int] | None:
    """A chunked body from `start` (RFC 9112 §7.1): (data, end) or None if incomplete."""
    body = bytearray()
    pos = start
    while True:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            if len(buf) - pos > 1024:
                raise HttpError("chunk size line too long")
            return None
        size_text = bytes(buf[pos:nl]).split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 8 or not re.fullmatch(rb"[0-9A-Fa-f]+", size_text):
            raise HttpError(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if len(body) + size > limit:
            raise HttpError("body too large", 413)
        data_at = nl + 2
        if size == 0:  # the last chunk; then trailer fields, ended by an empty line
            end = data_at
            while True:
                nl = buf.find(b"\r\n", end)
                if nl < 0:
                    return None
                empty = nl == end
                end = nl + 2
                if empty:
                    return bytes(body), end
        if len(buf) < data_at + size + 2:
            return None
        if buf[data_at + size : data_at + size + 2] != b"\r\n":
            raise HttpError("chunk data not followed by CR LF")
        body += buf[data_at : data_at + size]
        pos = data_at + size + 2


def _content_length(headers: Headers) -> int | None:
    values = [t.strip() for v in _all(headers, "Content-Length") for t in v.split(",")]
    if not values:
        return None
    # RFC 9112 §6.3: a list of identical values may be taken as one; anything else is an error.
    if len(set(values)) != 1 or not values[0].isdigit() or len(values[0]) > 15:
        raise HttpError(f"invalid Content-Length {', '.join(values)[:40]!r}")
    return int(values[0])


Framing = tuple[Literal["none", "length", "chunked", "close"], int]


def _request_framing(headers: Headers) -> Framing:
    codings = _tokens(headers, "Transfer-Encoding")
    if codings:
        if _all(headers, "Content-Length"):
            raise HttpError("both Transfer-Encoding and Content-Length")
        if codings[-1] != "chunked":
            raise HttpError("the last transfer coding of a request must be chunked")
        if codings != ["chunked"]:
            raise HttpError(f"transfer coding {codings[0]!r} not supported", 501)
        return "chunked", 0
    length = _content_length(headers)
    if length is None or length == 0:
        return "none", 0
    if length > MAX_BODY:
        raise HttpError(f"a {length}-byte body is more than this server takes", 413)
    return "length", length


def is_websocket_upgrade(head: Head) -> bool:
    """Does the request ask to switch to WebSocket (an `Upgrade: websocket` header)?"""
    return "websocket" in _tokens(head.headers, "Upgrade")


def parse_request_head(buf: bytes | bytearray) -> tuple[Head, int] | None:
    """The head at the start of `buf` (leading empty lines skipped, RFC 9112 §2.2): (head,
    where it ends), or None if incomplete. Raises `HttpError` (400, 431) for a bad head."""
    return read_head(_skip_empty_lines(buf))


def _skip_empty_lines(buf: bytes | bytearray) -> bytes | bytearray:
    skipped = 0
    while buf[skipped : skipped + 2] == b"\r\n":
        skipped += 2
    return buf[skipped:] if skipped else buf


def leading_empty_lines(buf: bytes | bytearray) -> int:
    """How many bytes of CR LF pairs precede the request line (a server ignores them)."""
    return len(buf) - len(_skip_empty_lines(buf))


def read_request(buf: bytes | bytearray) -> tuple[HttpRequest, int] | None:
    """One request from the start of `buf`: (request, bytes used), or None if incomplete.

    Raises `HttpError` with the server's answer: 400 malformed (RFC 9112 §3: a request
    line of method, target and version; exactly one Host in HTTP/1.1), 413, 431, 501, 505.
    """
    skip = leading_empty_lines(buf)
    parsed = read_head(buf[skip:])
    if parsed is None:
        return None
    head, used = parsed
    used += skip
    method, target, version = head.start
    match = _VERSION.fullmatch(version)
    if match is None:
        raise HttpError(f"malformed HTTP version {version[:20]!r}")
    if match.group(1) != "1":
        raise HttpError(f"{version} is not supported", 505)
    if not all(0x21 <= ord(c) <= 0x7E and c not in '"(),/:;<=>?@[\\]{}' for c in method):
        raise HttpError(f"malformed method {method[:20]!r}")
    if not (target.startswith("/") or "://" in target or (target == "*" and method == "OPTIONS")):
        raise HttpError(f"malformed request target {target[:40]!r}")
    hosts = _all(head.headers, "Host")
    if version == "HTTP/1.1" and len(hosts) != 1:
        # RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without
        # exactly one Host header field.
        raise HttpError("an HTTP/1.1 request needs exactly one Host header")
    kind, length = _request_framing(head.headers)
    if kind == "chunked":
        got = _chunked(buf, used, MAX_BODY)
        if got is None:
            return None
        body, end = got
    else:
        end = used + length
        if len(buf) < end:
            return None
        body = bytes(buf[used:end])
    request = HttpRequest(method, target, version, head.headers, body, end)
    return request, end


def _response_framing(head: Head, status: int, method: str) -> Framing:
    # RFC 9112 §6.3: in this order.
    if method == "HEAD" or status < 200 or status in (204, 304):
        return "none", 0
    codings = _tokens(head.headers, "Transfer-Encoding")
    if codings:
        return ("chunked", 0) if codings[-1] == "chunked" else ("close", 0)
    length = _content_length(head.headers)
    if length is None:
        return "close", 0
    return "length", length


def read_response(
    buf: bytes | bytearray, *, method: str = "GET", eof: bool = False, limit: int = 1 << 24
) -> tuple[HttpResponse, int] | None:
    """One response from the start of `buf` to a request with `method`: (response, bytes
    used), or None if incomplete. `eof`: no more bytes will come (a body framed by the
    connection closing ends there). Raises `HttpError` for a malformed response."""
    parsed = read_head(buf)
    if parsed is None:
        if eof and buf:
            raise HttpError("the connection closed in the middle of a response head")
        return None
    head, used = parsed
    version, code, reason = head.start
    if _VERSION.fullmatch(version) is None or len(code) != 3 or not code.isdigit():
        raise HttpError(f"malformed status line {' '.join(head.start)[:40]!r}")
    status = int(code)
    kind, length = _response_framing(head, status, method)
    if kind == "chunked":
        got = _chunked(buf, used, limit)
        if got is None:
            if eof:
                raise HttpError("the connection closed in the middle of a chunked body")
            return None
        body, end = got
    elif kind == "close":
        if not eof:
            return None
        body, end = bytes(buf[used:]), len(buf)
    else:
        end = used + length
        if len(buf) < end:
            if eof:
                raise HttpError(f"the connection closed {end - len(buf)} bytes before the end")
            return None
        body = bytes(buf[used:end])
    return HttpResponse(version, status, reason, head.headers, body, end), end


# --- writing ---------------------------------------------------------------------------


def build_request(
    method: str, target: str, host: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """A request: request line, `Host` first (RFC 9110 §7.2), the headers, and with a body
    its `Content-Length`."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body and not any(k.lower() == "content-length" for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def build_response(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    close: bool = False,
    head_only: bool = False,
) -> bytes:
    """A response with `Content-Length` first (of the body a GET gets, even for HEAD;
    field order carries no meaning, RFC 9110 §5.3), and `Connection: close` when the
    server closes after it."""
    fields = [("Content-Length", str(len(body))), *headers]
    if close:
        fields.append(("Connection", "close"))
    return http.build_response(status, fields, body, head_only=head_only)


def basic_credentials(user: str, password: str) -> str:
    """The `Authorization` value for Basic authentication (RFC 7617): base64 of
    "user:password" — an encoding, not encryption."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


# --- the server's resources ------------------------------------------------------------

Access = Literal["public", "private", "forbidden"]


@dataclass(frozen=True, slots=True)
class Resource:
    """What the server has at a path. `private`: only with valid credentials (else 401);
    `forbidden`: never served, whoever asks (403)."""

    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    access: Access = "public"


DEFAULT_RESOURCES: Mapping[str, Resource] = {
    "/": Resource(
        b"<!DOCTYPE html>\n<html><head><title>wirelab</title></head>\n"
        b"<body><p>Hello from the wirelab server.</p></body></html>\n",
        "text/html; charset=utf-8",
    ),
    "/messages": Resource(
        b'{"messages": [{"id": 1, "from": "server", "text": "Hello"}]}\n',
        "application/json",
    ),
    "/private": Resource(b"Only for signed-in users: hello, student.\n", access="private"),
    "/admin": Resource(b"The admin console.\n", access="forbidden"),
}
DEFAULT_CREDENTIALS: Mapping[str, str] = {"student": "wirelab"}
REALM = "wirelab"
ALLOWED_METHODS = ("GET", "HEAD")


class Site:
    """The server's resource table: request in, (status, headers, body) out."""

    def __init__(
        self,
        resources: Mapping[str, Resource] | None = None,
        credentials: Mapping[str, str] | None = None,
        realm: str = REALM,
    ) -> None:
        self.resources = dict(DEFAULT_RESOURCES if resources is None else resources)
        self.credentials = dict(DEFAULT_CREDENTIALS if credentials is None else credentials)
        self.realm = realm

    def authenticated(self, request: HttpRequest) -> bool:
        """Valid `Authorization: Basic …` credentials (RFC 7617; the scheme name is
        case-insensitive, RFC 9110 §11.1)."""
        value = request.header("Authorization")
        if value is None:
            return False
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user, colon, password = decoded.partition(":")
        return bool(colon) and self.credentials.get(user) == password

    def respond(self, request: HttpRequest) -> tuple[int, Headers, bytes]:
        """The status, headers (without Content-Length) and body for `request`."""
        resource = self.resources.get(request.path)
        if resource is None:
            return _text(404, f"Nothing here at {request.path}.")
        if request.method not in ALLOWED_METHODS:
            # RFC 9110 §15.5.6: a 405 lists the methods the target supports.
            status, headers, body = _text(405, f"{request.method} is not allowed here.")
            return status, (("Allow", ", ".join(ALLOWED_METHODS)), *headers), body
        if resource.access == "forbidden":
            # RFC 9110 §15.5.4: understood and refused; credentials would not change that.
            return _text(403, "This resource is forbidden.")
        if resource.access == "private" and not self.authenticated(request):
            # RFC 9110 §15.5.2: a 401 carries at least one challenge.
            status, headers, body = _text(401, "Credentials needed.")
            challenge = ("WWW-Authenticate", f'Basic realm="{self.realm}"')
            return status, (challenge, *headers), body
        return 200, (("Content-Type", resource.content_type),), resource.body


def _text(status: int, message: str) -> tuple[int, Headers, bytes]:
    return (
        status,
        (("Content-Type", "text/plain; charset=utf-8"),),
        (message + "\n").encode("utf-8"),
    )


def error_response(error: HttpError) -> bytes:
    """The answer to a request the server could not take; it closes the connection."""
    status, headers, body = _text(error.status, f"{http.reason(error.status)}: {error.reason}")
    return build_response(status, (*error.headers, *headers), body, close=True)


__all__ = [
    "ALLOWED_METHODS",
    "DEFAULT_CREDENTIALS",
    "DEFAULT_RESOURCES",
    "MAX_BODY",
    "HttpError",
    "HttpRequest",
    "HttpResponse",
    "Resource",
    "Site",
    "basic_credentials",
    "build_request",
    "build_response",
    "error_response",
    "is_websocket_upgrade",
    "leading_empty_lines",
    "parse_request_head",
    "read_request",
    "read_response",
]
