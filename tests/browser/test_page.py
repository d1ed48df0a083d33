"""The browser page, driven in headless Chromium against wirelab's own server.

Each test checks both sides: what the page saw (its `window.wirelabLog`) and
what the server's trace recorded on the wire (the handshake, the frames, RSV1
on compressed messages, the close frame's code).
"""

from __future__ import annotations

import json

from simulator.http import Head
from simulator.ws.frames import Opcode
from tests.browser.support import (
    Connection,
    Site,
    entries,
    frames_of,
    has,
    messages,
    run,
    site,
)

TEXT = "héllo, wirelab ✓ " * 8  # non-ASCII, and long enough for DEFLATE to shrink it
HEX = "00 01 7f 80 fe ff 00 00 41 42 43"


def websocket_connections(state: Site, path: str) -> list[Connection]:
    """The connections that upgraded on `path`, in the order they were accepted."""
    found = []
    for conn in state.connections().values():
        if not conn.received.startswith(f"GET {path} ".encode()):
            continue
        response, _ = conn.response()
        if response.start[1] == "101":
            found.append(conn)
    return found


def offered_deflate(request: Head) -> bool:
    return any(
        offer.split(";")[0].strip() == "permessage-deflate"
        for offer in request.get_all("Sec-WebSocket-Extensions")
    )


def test_page_loads_and_echoes_text_and_binary_compressed(chromium: str) -> None:
    async def scenario() -> None:
        async with site(chromium) as state:
            page = await state.page("/")
            port = state.server.port
            assert await page.evaluate("document.getElementById('url').value") == (
                f"ws://127.0.0.1:{port}/echo"
            )
            await page.click("connect")
            opened = await page.wait_for(has("open"))
            assert "permessage-deflate" in opened["extensions"]
            assert await page.evaluate("document.getElementById('state').dataset.state") == "open"

            await page.fill("text", TEXT)
            await page.click("send-text")
            text = await page.wait_for(has("message", "e.kind === 'text'"))
            assert text["data"] == TEXT
            assert text["bytes"] == len(TEXT.encode())

            await page.fill("text", HEX)
            await page.evaluate("document.getElementById('binary-as').value = 'hex'")
            await page.click("send-binary")
            binary = await page.wait_for(has("message", "e.kind === 'binary'"))
            assert binary["data"] == HEX
            assert binary["bytes"] == 11

            assert [e["kind"] for e in await entries(page, "message")] == ["text", "binary"]
            shown = await page.evaluate(
                "[...document.querySelectorAll('#log [data-event=message]')]"
                ".map(e => [e.dataset.kind, e.dataset.bytes, e.querySelector('.data').textContent])"
            )
            assert shown == [["text", str(len(TEXT.encode())), TEXT], ["binary", "11", HEX]]
            assert await entries(page, "error") == []
            assert page.problems() == []

            # --- the trace: the page itself, then the WebSocket connection ---
            files = {}
            for conn in state.connections().values():
                request, _ = conn.request()
                if request.start[1] in ("/", "/app.js", "/style.css"):
                    response, body = conn.response()
                    assert response.start[1] == "200", response.start
                    files[request.start[1]] = (response.get("Content-Type"), body)
            assert files["/"][0] == "text/html; charset=utf-8"
            assert b"app.js" in files["/"][1]
            assert files["/app.js"][0] == "text/javascript; charset=utf-8"
            assert files["/style.css"][0] == "text/css; charset=utf-8"

            [echo] = websocket_connections(state, "/echo")
            request, from_browser = echo.request()
            response, from_server = echo.response()
            assert offered_deflate(request)
            agreed = response.get("Sec-WebSocket-Extensions")
            assert agreed is not None and agreed.startswith("permessage-deflate")
            assert opened["extensions"] == agreed  # the page sees the server's answer

            # What the browser sent: masked frames, RSV1 set, inflating to the messages.
            sent = messages(frames_of(from_browser, masked=True))
            assert [(m.opcode, m.data, m.compressed) for m in sent] == [
                (Opcode.TEXT, TEXT.encode(), True),
                (Opcode.BINARY, bytes.fromhex(HEX), True),
            ]
            # What the server sent back: the same messages, compressed too.
            echoed = messages(frames_of(from_server, masked=False))
            assert [(m.opcode, m.data) for m in echoed] == [
                (Opcode.TEXT, TEXT.encode()),
                (Opcode.BINARY, bytes.fromhex(HEX)),
            ]
            assert all(m.compressed for m in echoed)
            server_frames = frames_of(from_server, masked=False)
            assert len(server_frames[0].payload) < len(TEXT.encode())  # DEFLATE shrank it

    run(scenario())


def test_two_pages_chat_and_a_chosen_close_code_reaches_the_wire(chromium: str) -> None:
    async def scenario() -> None:
        async with site(chromium) as state:
            a = await state.page("/")
            b = await state.page("/")
            for page in (a, b):
                await page.click("use-chat")
                assert (await page.evaluate("document.getElementById('url').value")).endswith(
                    "/chat"
                )

            await a.click("connect")
            welcome_a = await a.wait_for(has("notice", "e.notice === 'welcome'"))
            assert welcome_a["clients"] == 1
            await b.click("connect")
            welcome_b = await b.wait_for(has("notice", "e.notice === 'welcome'"))
            assert welcome_b["clients"] == 2
            number_a, number_b = welcome_a["client"], welcome_b["client"]
            assert number_a != number_b
            join = await a.wait_for(has("notice", "e.notice === 'join'"))
            assert (join["client"], join["clients"]) == (number_b, 2)
            assert "you are client" in await b.evaluate(
                "document.getElementById('chat-status').textContent"
            )

            # A's two messages reach B, in order; B's answer reaches A. The server sends
            # on each connection in order, so once A has B's answer, anything relayed to
            # A before it (an echo of A's own message) would be in A's log already.
            await a.fill("text", "hello from A")
            await a.click("send-text")
            await b.wait_for(has("message", "e.data === 'hello from A'"))
            await a.fill("text", "second from A")
            await a.click("send-text")
            await b.wait_for(has("message", "e.data === 'second from A'"))
            await b.fill("text", "hi from B")
            await b.click("send-text")
            await a.wait_for(has("message", "e.data === 'hi from B'"))
            assert [e["data"] for e in await entries(b, "message")] == [
                "hello from A",
                "second from A",
            ]
            assert [e["data"] for e in await entries(a, "message")] == ["hi from B"]

            # A leaves with its own code and a non-ASCII reason.
            reason = "A says bye ✓"
            await a.fill("close-code", "4001")
            await a.fill("close-reason", reason)
            await a.click("close")
            closed = await a.wait_for(has("close"))
            assert closed["wasClean"] is True
            assert closed["code"] == 4001  # the server's close frame echoes the code
            leave = await b.wait_for(has("notice", "e.notice === 'leave'"))
            assert (leave["client"], leave["clients"]) == (number_a, 1)
            assert await b.evaluate("document.getElementById('state').dataset.state") == "open"
            assert a.problems() == [] and b.problems() == []

            # --- the trace ---
            conns = state.connections()
            _, from_a = conns[number_a].request()
            frames_a = messages(frames_of(from_a, masked=True))
            assert [(m.opcode, m.data) for m in frames_a] == [
                (Opcode.TEXT, b"hello from A"),
                (Opcode.TEXT, b"second from A"),
                (Opcode.CLOSE, (4001).to_bytes(2, "big") + reason.encode()),
            ]
            _, to_b = conns[number_b].response()
            relayed = [
                m.data for m in messages(frames_of(to_b, masked=False)) if m.opcode == Opcode.TEXT
            ]
            notices = [json.loads(data) for data in relayed if data.startswith(b"{")]
            assert [n["type"] for n in notices] == ["welcome", "leave"]
            assert [data for data in relayed if not data.startswith(b"{")] == [
                b"hello from A",
                b"second from A",
            ]

    run(scenario())


def test_ping_via_the_server_is_answered_by_the_browser(chromium: str) -> None:
    async def scenario() -> None:
        async with site(chromium) as state:
            page = await state.page("/")
            await page.click("connect")
            await page.wait_for(has("open"))
            await page.click("ping")
            pong = await page.wait_for(has("notice", "e.notice === 'pong'"))
            assert isinstance(pong["ms"], int | float) and pong["ms"] >= 0
            # JavaScript never sees the Ping or the Pong frame, nor an echo of /ping.
            assert await entries(page, "message") == []

            [echo] = websocket_connections(state, "/echo")
            _, from_browser = echo.request()
            _, from_server = echo.response()
            to_page = messages(frames_of(from_server, masked=False))
            from_page = messages(frames_of(from_browser, masked=True))
            assert [(m.opcode, m.data) for m in from_page] == [
                (Opcode.TEXT, b"/ping"),
                (Opcode.PONG, b"wirelab"),  # RFC 6455 §5.5.3: the ping's data, echoed
            ]
            assert [m.opcode for m in to_page] == [Opcode.PING, Opcode.TEXT]
            assert to_page[0].data == b"wirelab"
            assert json.loads(to_page[1].data)["type"] == "pong"

    run(scenario())


def test_close_checks_mirror_the_browser(chromium: str) -> None:
    async def scenario() -> None:
        async with site(chromium) as state:
            page = await state.page("/")
            await page.click("connect")
            await page.wait_for(has("open"))

            refused = {
                "1001": ("", "InvalidAccessError"),
                "999": ("", "InvalidAccessError"),
                "5000": ("", "InvalidAccessError"),
                "1000": ("é" * 62, "SyntaxError"),  # 124 bytes of UTF-8, 62 characters
            }
            for code, (reason, error) in refused.items():
                await page.fill("close-code", code)
                await page.fill("close-reason", reason)
                await page.click("close")
                check = await page.evaluate("document.getElementById('close-check').textContent")
                assert error in check, check
                # The browser agrees: on the page's open socket, the same call throws
                # exactly that (and so leaves the connection open).
                thrown = await page.evaluate(
                    f"(() => {{ try {{ ws.close({code}, {json.dumps(reason)}); return 'nothing'; }}"
                    " catch (e) { return e.name; } })()"
                )
                assert thrown == error, (code, thrown)
            await page.fill("close-code", "")
            await page.fill("close-reason", "why")
            await page.click("close")
            check = await page.evaluate("document.getElementById('close-check').textContent")
            assert "A reason needs a code" in check
            assert await page.evaluate("document.getElementById('state').dataset.state") == "open"
            assert await entries(page, "close") == []

            # No code and no reason: a Close frame with an empty body; the server reports
            # 1005 for it (RFC 6455 §7.1.5), and its own Close frame carries no code either.
            await page.fill("close-reason", "")
            await page.click("close")
            closed = await page.wait_for(has("close"))
            assert closed["wasClean"] is True
            assert closed["code"] == 1005

            [echo] = websocket_connections(state, "/echo")
            _, from_browser = echo.request()
            [close] = frames_of(from_browser, masked=True)
            assert (close.opcode, close.payload) == (Opcode.CLOSE, b"")

    run(scenario())


def test_page_fits_a_narrow_screen_and_follows_the_dark_setting(chromium: str) -> None:
    async def scenario() -> None:
        async with site(chromium) as state:
            page = await state.page("/")
            await page.call(
                "Emulation.setDeviceMetricsOverride",
                width=320,
                height=640,
                deviceScaleFactor=1,
                mobile=True,
            )
            background = "getComputedStyle(document.body).backgroundColor"
            colors = {}
            for scheme in ("light", "dark"):
                await page.call(
                    "Emulation.setEmulatedMedia",
                    features=[{"name": "prefers-color-scheme", "value": scheme}],
                )
                colors[scheme] = await page.evaluate(background)
            assert colors["light"] != colors["dark"]
            # Long content must wrap, not widen the page: a long URL, a long message.
            await page.fill("url", f"ws://127.0.0.1:{state.server.port}/echo?" + "x" * 300)
            await page.click("connect")
            await page.wait_for(has("open"))
            await page.fill("text", "y" * 500)
            await page.click("send-text")
            await page.wait_for(has("message"))
            width = await page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert width[0] <= width[1], f"the page scrolls sideways at 320 px: {width}"
            # Nothing from elsewhere: every resource the page loaded came from the server.
            urls = await page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
            assert urls and all(
                u.startswith(f"http://127.0.0.1:{state.server.port}/") for u in urls
            )
            assert page.problems() == []

    run(scenario())
