"""Writing HTTP/1.1 responses (RFC 9112 §4, §6): one builder for every server here."""

from __future__ import annotations

from collections.abc import Iterable

from simulator.http.head import Headers
from simulator.http.status import reason


def build_response(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    head_only: bool = False,
) -> bytes:
    """A response: the status line with its reason phrase, `headers` as given and in
    that order (the caller writes Content-Length and Connection), the empty line, and
    `body` unless `head_only` (the answer to HEAD, RFC 9110 §9.3.2)."""
    lines = [f"HTTP/1.1 {status} {reason(status)}", *(f"{k}: {v}" for k, v in headers)]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def build_error_response(status: int, message: str, headers: Headers = ()) -> bytes:
    """A short plain-text HTTP error that closes the connection (`headers` first)."""
    body = (message + "\n").encode("utf-8")
    # RFC 9110 §7.8: a message carrying Upgrade also lists "upgrade" in Connection.
    upgrade = any(k.lower() == "upgrade" for k, _ in headers)
    fields = [
        *headers,
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "Upgrade, close" if upgrade else "close"),
    ]
    return build_response(status, fields, body)
