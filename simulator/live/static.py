"""Plain HTTP for the browser page: wirelab's own `assets/`, nothing else.

A request that is not a WebSocket upgrade gets one of these answers, then the
connection closes (`Connection: close`): the page and the files beside it for
GET and HEAD, 404 for any other name, 405 for other methods. Only files directly
in `assets/` whose name is plain (letters, digits, `.`, `_`, `-`) and whose type
is known are served, so no request can reach a file outside it.
"""

from __future__ import annotations

import re
from email.utils import formatdate
from pathlib import Path

from simulator.http import build_response
from simulator.resources import assets_dir

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
WEBSOCKET_PATHS = ("/echo", "/chat")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# The page may connect to any ws:// server the learner types in; everything else is
# its own origin's.
_POLICY = "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'"


def asset_for(path: str, root: Path | None = None) -> Path | None:
    """The file a request path names, or None. `/` is `index.html`."""
    name = "index.html" if path == "/" else path[1:] if path.startswith("/") else ""
    if not _NAME.fullmatch(name) or Path(name).suffix not in CONTENT_TYPES:
        return None
    file = (root or assets_dir()) / name
    return file if file.is_file() else None


def answer(method: str, path: str, root: Path | None = None) -> bytes | None:
    """The whole HTTP response to a request that is not a WebSocket upgrade, or None
    for the WebSocket endpoints, whose engine explains the missing upgrade (426)."""
    if path in WEBSOCKET_PATHS:
        return None
    if method not in ("GET", "HEAD"):
        return response(
            405, b"Only GET and HEAD are served here.\n", extra=(("Allow", "GET, HEAD"),)
        )
    file = asset_for(path, root)
    if file is None:
        body = f"Not found: {path[:200]}. The page is at /.\n".encode()
        return response(404, body, head=method == "HEAD")
    return response(
        200, file.read_bytes(), content_type=CONTENT_TYPES[file.suffix], head=method == "HEAD"
    )


def response(
    status: int,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    head: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """An HTTP/1.1 response that closes the connection after it (RFC 9112 §9.6)."""
    headers = [
        ("Date", formatdate(usegmt=True)),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", _POLICY),
        ("Connection", "close"),
        *extra,
    ]
    return build_response(status, headers, body, head_only=head)
