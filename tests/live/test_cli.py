"""The `wirelab` command line, run as a child process with the venv's interpreter."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.typing import Origin

from simulator.live import ClientError, connect
from simulator.ws import CloseReceived, TextMessage
from tests.live.support import STEP, ServeProcess, run, wirelab


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit status 1, one line on stderr starting with `wirelab:`, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wirelab: "), result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def unused_port() -> Iterator[int]:
    """A port bound by us but not listening: connecting to it is refused, and nobody takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port someone else already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# --- help, version, accept ----------------------------------------------------------------


def test_no_arguments_prints_help() -> None:
    result = wirelab()
    assert result.returncode == 0
    assert result.stdout.startswith("usage: wirelab")
    for command in ("serve", "client", "accept"):
        assert command in result.stdout


def test_python_dash_m_simulator_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: wirelab")


def test_version() -> None:
    result = wirelab("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("wirelab ")


def test_accept_shows_the_rfc_example_step_by_step() -> None:
    result = wirelab("accept", "dGhlIHNhbXBsZSBub25jZQ==")
    assert result.returncode == 0, result.stderr
    # RFC 6455 §1.3: SHA-1 of key + GUID, then base64.
    assert "b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea" in result.stdout
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in result.stdout
    assert "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in result.stdout
    assert "note:" not in result.stdout


def test_accept_without_a_key_uses_a_random_one() -> None:
    result = wirelab("accept")
    assert result.returncode == 0, result.stderr
    assert "(random)" in result.stdout
    assert "Sec-WebSocket-Accept: " in result.stdout


def test_accept_notes_an_invalid_key() -> None:
    result = wirelab("accept", "short")
    assert result.returncode == 0, result.stderr
    assert "400" in result.stdout


def test_accept_rejects_a_non_ascii_key() -> None:
    assert_one_line_error(wirelab("accept", "clé"), "ASCII")


# --- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--port", "abc"), "argument --port: not a TCP port: 'abc'"),
        (("serve", "--port", "70000"), "argument --port: not a TCP port: '70000'"),
        (("serve", "--max-size", "lots"), "argument --max-size: not a size: 'lots'"),
        (("client",), "the following arguments are required: url"),
        (("client", "ws://127.0.0.1:1/", "--count", "x"), "argument --count: not a positive"),
        (("client", "ws://127.0.0.1:1/", "--count", "0"), "argument --count: not a positive"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
    ids=[
        "port-abc",
        "port-too-big",
        "max-size-lots",
        "client-no-url",
        "count-x",
        "count-0",
        "no-such-command",
    ],
)
def test_bad_arguments_exit_2_with_argparse_message(args: tuple[str, ...], message: str) -> None:
    result = wirelab(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "usage: wirelab" in result.stderr
    assert "Traceback" not in result.stderr


# --- client -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    process = ServeProcess()
    yield process.url
    process.stop()


def test_client_sends_and_prints_the_echoes(echo_url: str) -> None:
    result = wirelab("client", f"{echo_url}x", "--send", "hi", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"connected to {echo_url}x"
    assert lines[1:4] == ["< hi", "< hi", "< hi"]
    assert lines[4].startswith("closed: 1000")
    assert len(lines) == 5


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_and_client_on_either_event_loop(loop: str) -> None:
    """uvloop by default where it is installed; asyncio's own loop stays a full path. A
    server accepting 4 MiB echoes a 3 MiB message (read into a buffer of its own)
    and small text ones on either loop, to a client on the other."""
    pytest.importorskip("uvloop")
    process = ServeProcess("--loop", loop, "--max-size", "4MiB")
    try:
        process.wait_line(rf"; event loop: {loop}$")
        other = "uvloop" if loop == "asyncio" else "asyncio"
        result = wirelab("client", f"{process.url}echo", "--send", "hi", "--count", "2",
                         "--loop", other)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[1:3] == ["< hi", "< hi"]

        async def large() -> bytes:
            async with ws_connect(process.url, max_size=None, compression=None) as ws:
                payload = bytes(range(256)) * (3 << 12)  # 3 MiB
                await ws.send(payload)
                echo = await asyncio.wait_for(ws.recv(), STEP)
                assert isinstance(echo, bytes)
                assert echo == payload
                return echo

        assert len(run(large())) == 3 << 20
    finally:
        process.stop()


def test_client_binary(echo_url: str) -> None:
    result = wirelab("client", echo_url, "--send", "hi", "--binary")
    assert result.returncode == 0, result.stderr
    assert "< [binary 2 bytes] 68 69" in result.stdout.splitlines()


def test_client_never_prints_escape_sequences_from_the_server(echo_url: str) -> None:
    """Seen: screen clears, colours, the window title (OSC 0) and clipboard writes
    (OSC 52) from a server's text reached the terminal. They are shown as escapes."""
    hostile = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\u202etxt.exe ok"
    result = wirelab("client", echo_url, "--send", hostile)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    shown = result.stdout.splitlines()[1]
    assert shown == "< \\x1b[2J\\x1b]0;pwned\\x07\\x1b]52;c;ZXZpbA==\\x07\\u202etxt.exe ok"


def test_client_against_a_closed_port(unused_port: int) -> None:
    result = wirelab("client", f"ws://127.0.0.1:{unused_port}/")
    assert_one_line_error(result, f"cannot connect to 127.0.0.1:{unused_port}")


@pytest.mark.parametrize(
    ("url", "needle"),
    [("http://127.0.0.1:1/", "not a ws:// URL"), ("wss://127.0.0.1:1/", "wss://")],
)
def test_client_with_a_bad_url(url: str, needle: str) -> None:
    assert_one_line_error(wirelab("client", url), needle)


def test_client_against_something_that_is_not_websocket(busy_port: int) -> None:
    """A listener that accepts and never answers: the client gives up after --timeout."""
    result = wirelab("client", f"ws://127.0.0.1:{busy_port}/", "--timeout", "0.5")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- serve ------------------------------------------------------------------------------


def test_serve_prints_its_url(serve_process: type[ServeProcess]) -> None:
    process = serve_process()
    assert process.url == f"ws://127.0.0.1:{process.port}/"
    assert 0 < process.port < 65536


def test_serve_on_a_busy_port(busy_port: int) -> None:
    result = wirelab("serve", "--headless", "--port", str(busy_port), timeout=20)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{busy_port}")


def test_sigterm_closes_clients_with_1001_and_exits_0(serve_process: type[ServeProcess]) -> None:
    process = serve_process()

    async def scenario() -> None:
        async with ws_connect(process.url) as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), STEP) == "hi"
            process.proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosedOK) as info:
                await asyncio.wait_for(ws.recv(), STEP)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1001

    run(scenario())
    assert process.proc.wait(timeout=STEP) == 0
    process.wait_line(r"^stopping: closing 1 connection with 1001$")


def test_sigint_closes_clients_with_1001_and_exits_0(serve_process: type[ServeProcess]) -> None:
    process = serve_process()

    async def scenario() -> None:
        client = await connect(process.url)
        client.send_text("hi")
        assert await client.recv(STEP) == TextMessage("hi")
        process.proc.send_signal(signal.SIGINT)
        event = await client.recv(STEP)
        assert isinstance(event, CloseReceived)
        assert event.code == 1001
        await client.close()

    run(scenario())
    assert process.proc.wait(timeout=STEP) == 0
    assert "Traceback" not in process.stderr()


def test_sigterm_with_no_clients_exits_0(serve_process: type[ServeProcess]) -> None:
    process = serve_process()
    assert process.signal(signal.SIGTERM) == 0
    process.wait_line(r"^stopping: closing 0 connections with 1001$")


def test_max_size_closes_with_1009(serve_process: type[ServeProcess]) -> None:
    process = serve_process("--max-size", "10")

    async def scenario() -> None:
        client = await connect(process.url)
        client.send_text("x" * 10)  # exactly the limit passes
        assert await client.recv(STEP) == TextMessage("x" * 10)
        client.send_text("x" * 11)
        event = await client.recv(STEP)
        assert isinstance(event, CloseReceived)
        assert event.code == 1009
        await client.close()

    run(scenario())
    process.wait_line(r"failed with 1009")
    result = wirelab("client", process.url, "--send", "x" * 11)
    assert result.returncode == 1
    assert result.stderr.startswith("connection ended: CLOSE 1009"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_origin_refuses_other_origins_with_403(serve_process: type[ServeProcess]) -> None:
    process = serve_process("--origin", "http://a.example")

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(process.url, origin=Origin("http://b.example")):
                pass
        assert info.value.response.status_code == 403
        with pytest.raises(ClientError, match="403"):
            await connect(process.url)  # no Origin at all
        async with ws_connect(process.url, origin=Origin("http://a.example")) as ws:
            await ws.send("welcome")
            assert await asyncio.wait_for(ws.recv(), STEP) == "welcome"

    run(scenario())
    process.wait_line(r"handshake refused: 403")
