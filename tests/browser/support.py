"""Helpers for the browser tests: the server in-process, pages on it, the trace read back.

The server and the DevTools connection share one asyncio loop (`run()` per test);
Chromium itself is one process per test module (the `chromium` fixture). What
the trace recorded is read back per connection and split into the HTTP head and
the WebSocket frames after it; compressed messages (RSV1, RFC 7692) are inflated
here with zlib, independently of wirelab's own permessage-deflate code.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from simulator.http import Head, read_head
from simulator.live import Server, trace_tap
from simulator.live.site import site as wirelab_site
from simulator.trace import Layer, Trace
from simulator.ws.frames import Frame, Opcode, parse_frames
from tests.browser.cdp import Cdp, Page

T = TypeVar("T")

SCENARIO_TIMEOUT = 25.0  # an upper bound for one whole test, never an expectation of speed
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.2: the receiver appends it before inflating


def run(coro: Coroutine[Any, Any, T], timeout: float = SCENARIO_TIMEOUT) -> T:
    """Run one scenario in a fresh event loop; fail after `timeout`."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@dataclass
class Site:
    """wirelab's server (the default site: page, /echo, /chat) with its trace, and a browser."""

    server: Server
    trace: Trace
    cdp: Cdp
    pages: list[Page]

    async def page(self, path: str = "/") -> Page:
        """A new tab showing the server's page at `path`."""
        page = await Page.open(self.cdp)
        self.pages.append(page)
        await page.goto(f"http://127.0.0.1:{self.server.port}{path}")
        await page.wait_for("Array.isArray(window.wirelabLog)")
        return page

    def connections(self) -> dict[int, Connection]:
        """What each connection carried, by the server's connection number."""
        return connections(self.trace, self.server.port)


@asynccontextmanager
async def site(ws_url: str) -> AsyncIterator[Site]:
    """Start the server with a trace tap and connect to the browser; undo both afterwards."""
    trace = Trace()
    server = wirelab_site(host="127.0.0.1", port=0, tap=trace_tap(trace))
    await server.start()
    try:
        cdp = await Cdp.open(ws_url)
        state = Site(server, trace, cdp, [])
        try:
            yield state
        finally:
            for page in state.pages:
                await page.close()
            await cdp.close()
    finally:
        await asyncio.wait_for(server.shutdown(), 10.0)


# --- page state --------------------------------------------------------------------------


async def entries(page: Page, event: str | None = None) -> list[dict[str, Any]]:
    """The page's `window.wirelabLog` (only entries of `event`, if given)."""
    log: list[dict[str, Any]] = await page.evaluate("window.wirelabLog")
    return [entry for entry in log if event is None or entry["event"] == event]


def has(event: str, condition: str = "true") -> str:
    """A JS expression: the first log entry `e` of `event` for which `condition` holds."""
    return f"window.wirelabLog.find(e => e.event === {event!r} && ({condition}))"


# --- the trace, per connection -------------------------------------------------------------


@dataclass
class Connection:
    number: int
    received: bytes  # from the browser to the server
    sent: bytes  # from the server to the browser

    def request(self) -> tuple[Head, bytes]:
        """The browser's HTTP request head and what followed it."""
        return split_head(self.received)

    def response(self) -> tuple[Head, bytes]:
        return split_head(self.sent)


def connections(trace: Trace, server_port: int) -> dict[int, Connection]:
    found: dict[int, Connection] = {}
    for record in trace:
        if record.layer is not Layer.STREAM or record.connection is None:
            continue
        conn = found.setdefault(record.connection, Connection(record.connection, b"", b""))
        assert record.src is not None
        if record.src.port == server_port:
            conn.sent += record.data
        else:
            conn.received += record.data
    return found


def split_head(data: bytes) -> tuple[Head, bytes]:
    parsed = read_head(data)
    assert parsed is not None, f"no complete HTTP head in {data[:200]!r}"
    head, used = parsed
    return head, data[used:]


def frames_of(data: bytes, *, masked: bool) -> list[Frame]:
    """Whole frames in `data`; a client's are all masked, a server's none (RFC 6455 §5.1)."""
    frames, rest = parse_frames(data)
    assert rest == b"", f"{len(rest)} bytes of an incomplete frame"
    assert all(frame.masked == masked for frame in frames), [str(f) for f in frames]
    return frames


@dataclass(frozen=True)
class Message:
    opcode: int
    data: bytes  # inflated if it was compressed
    compressed: bool  # RSV1 on its first frame


def messages(frames: list[Frame]) -> list[Message]:
    """Data messages (reassembled, inflated) and control frames, in wire order.

    One inflater for the whole direction: with context takeover (the default) a
    message may refer back to the ones before it (RFC 7692 §7.2.3).
    """
    inflater = zlib.decompressobj(-15)
    out: list[Message] = []
    parts: list[Frame] = []
    for frame in frames:
        if Opcode(frame.opcode).is_control:
            assert not frame.rsv1, f"a control frame with RSV1: {frame}"  # RFC 7692 §6
            out.append(Message(frame.opcode, frame.payload, False))
            continue
        parts.append(frame)
        if not frame.fin:
            continue
        first = parts[0]
        payload = b"".join(part.payload for part in parts)
        if first.rsv1:
            payload = inflater.decompress(payload + TAIL)
        out.append(Message(first.opcode, payload, first.rsv1))
        parts = []
    assert not parts, "a message without its final frame"
    return out
