"""Wireshark's field names mean in wirelab what they mean in Wireshark, on a real tshark
capture of a browser session: the page and its files over HTTP, then a compressed
WebSocket echo, a ping and a close."""

from __future__ import annotations

from pathlib import Path

from tests.browser.support import has, run, site
from tests.wireshark.names import disagreements
from tests.wireshark.support import loopback_capture, require_tshark


def test_filters_select_what_tshark_selects(chromium: str, tmp_path: Path) -> None:
    require_tshark()
    path = tmp_path / "browser.pcapng"

    async def scenario() -> int:
        async with site(chromium) as state:
            port = state.server.port
            # Waits for one connection to end in the capture: the WebSocket's, closed
            # below; the page's HTTP connections may stay open, as a browser keeps them.
            async with loopback_capture(port, path, connections=1):
                page = await state.page("/")
                await page.click("connect")
                await page.wait_for(has("open"))
                await page.fill("text", "hello from the browser")
                await page.click("send-text")
                await page.wait_for(has("message", "e.kind === 'text'"))
                await page.click("ping")
                await page.wait_for(has("notice", "e.notice === 'pong'"))
                await page.fill("close-code", "4000")
                await page.fill("close-reason", "bye")
                await page.click("close")
                await page.wait_for(has("close"))
            return port

    port = run(scenario())
    assert disagreements(path, "-d", f"tcp.port=={port},http") == []
