"""A small driver for headless Chromium over the DevTools protocol (CDP).

`Chromium` starts the browser with a throwaway profile and stops it by its PID
(and the process group it leads), so no browser process outlives a test module.
`Cdp` is one WebSocket connection to the browser's DevTools endpoint: commands
go out as `{"id", "method", "params", "sessionId"}` and come back matched by id;
everything else is an event, kept in arrival order. `Page` is one tab, attached
in "flat" mode so its commands travel over the same connection, tagged with the
tab's session id.

Every wait is bounded: a command, a navigation, a condition polled in the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

START_TIMEOUT = 20.0  # Chromium writing DevToolsActivePort
COMMAND_TIMEOUT = 10.0  # one CDP command
WAIT_TIMEOUT = 8.0  # a condition in a page becoming true
POLL = 0.05  # seconds between two looks at a condition
STOP_TIMEOUT = 5.0


class BrowserError(Exception):
    """Chromium did not start, a command failed or a page threw."""


def find_chromium() -> str | None:
    """The Chromium executable on PATH, if any."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    return None


class Chromium:
    """A headless Chromium process with a temporary profile. Use `start()` then `stop()`."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.profile = Path(tempfile.mkdtemp(prefix="wirelab-chromium-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws_url = ""

    def args(self) -> list[str]:
        args = [
            self.executable,
            "--headless=new",
            "--remote-debugging-port=0",  # the browser picks one and writes it down
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-proxy-server",  # 127.0.0.1 directly, whatever the environment says
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--disable-sync",
            "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
            "--mute-audio",
            "--password-store=basic",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run sandboxed as root
        return [*args, "about:blank"]

    def start(self) -> str:
        """Start the browser; returns its DevTools WebSocket URL."""
        log = (self.profile / "chromium.log").open("wb")
        try:
            self.proc = subprocess.Popen(
                self.args(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group, so stop() reaches its helpers
            )
        finally:
            log.close()
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"Chromium exited with {self.proc.returncode}: {self.output()}")
            lines = port_file.read_text().splitlines() if port_file.exists() else []
            if len(lines) >= 2 and lines[0].isdigit():
                # Line 1: the port; line 2: the browser target's path.
                self.ws_url = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
                return self.ws_url
            time.sleep(POLL)
        raise BrowserError(
            f"Chromium did not open DevTools in {START_TIMEOUT:g} s: {self.output()}"
        )

    def output(self, limit: int = 2000) -> str:
        """The end of what Chromium printed (for error messages)."""
        log = self.profile / "chromium.log"
        return log.read_text(errors="replace")[-limit:] if log.exists() else ""

    def stop(self) -> None:
        """End the browser (ours, by its PID and process group) and remove the profile."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=STOP_TIMEOUT)
            # Helpers (renderer, GPU, zygote) normally end with the browser; any that
            # did not are still in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            self.proc = None
        shutil.rmtree(self.profile, ignore_errors=True)


class Cdp:
    """One DevTools connection: `call()` commands, read `events`."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []  # {"method", "params", "sessionId"?}, in order
        self.arrived = asyncio.Event()  # set (and cleared) whenever an event arrives
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, ws_url: str) -> Cdp:
        # DevTools answers with large messages (a page's DOM, a screenshot): no 1 MiB cap.
        socket = await asyncio.wait_for(connect(ws_url, max_size=None), COMMAND_TIMEOUT)
        return cls(socket)

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                if "id" in message:
                    future = self.pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    self.events.append(message)
                    self.arrived.set()
                    self.arrived.clear()
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(BrowserError("the DevTools connection closed"))

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command; its result, or BrowserError with the browser's message."""
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.socket.send(json.dumps(message))
        try:
            answer = await asyncio.wait_for(future, COMMAND_TIMEOUT)
        finally:
            self.pending.pop(ident, None)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def wait_event(
        self, method: str, session: str | None, since: int, timeout: float = WAIT_TIMEOUT
    ) -> dict[str, Any]:
        """The first event `method` of `session` at or after index `since` in `events`."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = since
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise BrowserError(f"no {method} event within {timeout:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(left, POLL * 4))

    async def close(self) -> None:
        await self.socket.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.reader, COMMAND_TIMEOUT)


class Page:
    """One browser tab, driven through its DevTools session."""

    def __init__(self, cdp: Cdp, target: str, session: str) -> None:
        self.cdp = cdp
        self.target = target
        self.session = session

    @classmethod
    async def open(cls, cdp: Cdp) -> Page:
        """A new blank tab with the Page, Runtime and Log domains on (for their events)."""
        created = await cdp.call("Target.createTarget", url="about:blank")
        target = created["targetId"]
        attached = await cdp.call("Target.attachToTarget", targetId=target, flatten=True)
        page = cls(cdp, target, attached["sessionId"])
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call("Log.enable")  # blocked loads, CSP violations, network errors
        return page

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.cdp.call(method, self.session, **params)

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event; fails if the page could not load."""
        since = len(self.cdp.events)
        result = await self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"loading {url}: {result['errorText']}")
        await self.cdp.wait_event("Page.loadEventFired", self.session, since)

    async def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page (awaiting a promise); its value as JSON data."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {text}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = WAIT_TIMEOUT) -> Any:
        """Poll `expression` until it is truthy; its value. Fails after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() >= deadline:
                # wirelab's page keeps its event log in window.wirelabLog: show its end.
                recent = await self.evaluate(
                    "(window.wirelabLog || []).slice(-8).map(e => e.event + ': ' + e.summary)"
                )
                raise AssertionError(
                    f"still false after {timeout:g} s: {expression}; the page's log ends"
                    f" {recent}; page problems: {self.problems()}"
                )
            await asyncio.sleep(POLL)

    async def click(self, element_id: str) -> None:
        """Click the element with this id (it must exist and be enabled)."""
        await self.evaluate(
            f"(() => {{ const e = document.getElementById({json.dumps(element_id)});"
            f" if (!e) throw new Error('no #' + {json.dumps(element_id)});"
            f" if (e.disabled) throw new Error('#' + e.id + ' is disabled');"
            " e.click(); })()"
        )

    async def fill(self, element_id: str, value: str) -> None:
        """Set a field's value as if typed, firing its input and change events."""
        await self.evaluate(
            f"(() => {{ const e = document.getElementById({json.dumps(element_id)});"
            f" e.value = {json.dumps(value)};"
            " e.dispatchEvent(new Event('input', { bubbles: true }));"
            " e.dispatchEvent(new Event('change', { bubbles: true })); })()"
        )

    def problems(self) -> list[str]:
        """Uncaught exceptions and console errors this page reported so far."""
        found = []
        for event in self.cdp.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description") or str(details))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(arg.get("value")) for arg in params.get("args", [])))
            elif event["method"] == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found

    async def close(self) -> None:
        with contextlib.suppress(BrowserError, TimeoutError):
            await self.cdp.call("Target.closeTarget", targetId=self.target)
