"""wirelab's own site on one port: the page and its files, /chat, /ping, slow readers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import cast

import pytest

from simulator.live import WebSocketClient, connect
from simulator.live.static import CONTENT_TYPES, answer, asset_for
from simulator.resources import assets_dir
from simulator.ws import BinaryMessage, CloseCode, Config, Event, Ping, TextMessage
from tests.live.support import (
    STEP,
    Raw,
    Stalled,
    TapRecord,
    close_of,
    open_websocket,
    parse_response,
    run,
    server_frames,
    serving,
)
from tests.must_cases import masked

# --- the page and its files ----------------------------------------------------------------


async def http_get(port: int, target: str, method: str = "GET") -> bytes:
    raw = await Raw.open(port)
    await raw.send(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    data = await raw.read_to_eof()
    await raw.close()
    return data


def test_get_slash_returns_the_page_and_each_file_has_its_type() -> None:
    async def scenario() -> dict[str, bytes]:
        async with serving() as server:
            files = ["/", "/app.js", "/style.css"]
            return {name: await http_get(server.port, name) for name in files}

    answers = run(scenario())
    page = parse_response(answers["/"])
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.body == (assets_dir() / "index.html").read_bytes()
    assert int(page.headers["content-length"]) == len(page.body)
    assert page.headers["connection"] == "close"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert b"new WebSocket(" in parse_response(answers["/app.js"]).body
    assert parse_response(answers["/app.js"]).headers["content-type"].startswith("text/javascript")
    assert parse_response(answers["/style.css"]).headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "target",
    [
        "/../pyproject.toml",
        "/..%2Fpyproject.toml",
        "/%2e%2e/pyproject.toml",
        "//etc/passwd",
        "/assets/index.html",
        "/README.md",  # in assets/, but not a type the site serves
        "/.hidden.html",
        "/index.html/",
        "/nope.html",
        "/C:\\Windows\\win.ini",
    ],
)
def test_nothing_outside_the_page_files_is_served(target: str) -> None:
    data = answer("GET", target)
    assert data is not None
    assert parse_response(data).status == 404


def test_only_plain_names_with_known_types_map_to_files(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>hi</p>")
    (tmp_path / "data.bin").write_bytes(b"\x00")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.html").write_text("no")
    assert asset_for("/page.html", tmp_path) == tmp_path / "page.html"
    assert asset_for("/data.bin", tmp_path) is None
    assert asset_for("/sub/x.html", tmp_path) is None
    assert asset_for("/sub", tmp_path) is None
    assert set(CONTENT_TYPES) >= {".html", ".js", ".css", ".svg"}


def test_head_has_the_headers_and_no_body_and_post_gets_405() -> None:
    head = parse_response(answer("HEAD", "/") or b"")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == (assets_dir() / "index.html").stat().st_size
    post = parse_response(answer("POST", "/") or b"")
    assert post.status == 405 and post.headers["allow"] == "GET, HEAD"


def test_plain_get_of_a_websocket_path_gets_426_from_the_engine() -> None:
    async def scenario() -> bytes:
        async with serving() as server:
            return await http_get(server.port, "/chat")

    response = parse_response(run(scenario()))
    assert response.status == 426
    assert response.headers["sec-websocket-version"] == "13"


def test_upgrade_on_slash_and_any_other_path_echoes() -> None:
    async def scenario() -> list[Event | None]:
        async with serving() as server:
            got = []
            for path in ("", "echo", "anything/else?x=1"):
                client = await connect(server.url + path)
                client.send_text(f"to {path}")
                got.append(await client.recv(STEP))
                await client.close()
            return got

    assert run(scenario()) == [TextMessage("to "), TextMessage("to echo"),
                               TextMessage("to anything/else?x=1")]  # fmt: skip


# --- /chat ---------------------------------------------------------------------------------


async def next_message(client: object, timeout: float = STEP) -> Event:
    while True:
        event = await client.recv(timeout)  # type: ignore[attr-defined]
        if not isinstance(event, Ping):
            return event  # type: ignore[no-any-return]


def notice(event: Event | None) -> dict[str, object]:
    assert isinstance(event, TextMessage), event
    parsed = json.loads(event.data)
    assert isinstance(parsed, dict)
    return parsed


def test_chat_relays_to_every_other_client_once_in_order_and_announces_joins() -> None:
    count, per_client = 6, 20

    async def scenario() -> None:
        async with serving() as server:
            url = server.url + "chat"
            clients: list[WebSocketClient] = []
            for i in range(count):
                client = await connect(url)
                welcome = notice(await client.recv(STEP))
                assert welcome == {"type": "welcome", "client": welcome["client"], "clients": i + 1}
                for earlier in clients:
                    joined = notice(await earlier.recv(STEP))
                    assert joined == {"type": "join", "client": welcome["client"], "clients": i + 1}
                clients.append(client)
            # Every client sends its messages interleaved with the others'.
            for n in range(per_client):
                for i, client in enumerate(clients):
                    if n % 2:
                        client.send_binary(bytes([i, n]))
                    else:
                        client.send_text(f"{i}:{n}")
            expected = (count - 1) * per_client
            for i, client in enumerate(clients):
                seen = [await client.recv(STEP) for _ in range(expected)]
                mine = [e for e in seen if _sender(e) == i]
                assert not mine, "a message came back to its sender"
                for j in range(count):
                    if j == i:
                        continue
                    from_j = [e for e in seen if _sender(e) == j]
                    assert from_j == [
                        BinaryMessage(bytes([j, n])) if n % 2 else TextMessage(f"{j}:{n}")
                        for n in range(per_client)
                    ]  # each exactly once, in the order sent
            # The server's order is one order for everyone: compare two receivers on the
            # messages they both got.
            # Leaving is announced.
            leaver = clients.pop(0)
            await leaver.close(CloseCode.GOING_AWAY, "bye")
            for client in clients:
                left = notice(await client.recv(STEP))
                assert left["type"] == "leave" and left["clients"] == count - 1
            for client in clients:
                await client.close()

    run(scenario(), timeout=30)


def _sender(event: Event | None) -> int:
    if isinstance(event, BinaryMessage):
        return event.data[0]
    assert isinstance(event, TextMessage), event
    return int(event.data.split(":")[0])


def test_all_receivers_see_the_server_order() -> None:
    async def scenario() -> None:
        async with serving() as server:
            url = server.url + "chat"
            a, b, c = [await connect(url) for _ in range(3)]
            for client, joins in ((a, 2), (b, 1), (c, 0)):
                for _ in range(1 + joins):
                    await client.recv(STEP)  # welcome and later joins
            for n in range(50):
                (a if n % 2 else b).send_text(f"{'a' if n % 2 else 'b'}{n}")
            seen_by_c = [(await c.recv(STEP)).data for _ in range(50)]  # type: ignore[union-attr]
            arrival = [int(text[1:]) for text in seen_by_c]
            # a's and b's messages interleave the same way the server received them;
            # within each sender the order is the sending order.
            assert [n for n in arrival if n % 2] == list(range(1, 50, 2))
            assert [n for n in arrival if not n % 2] == list(range(0, 50, 2))
            for client in (a, b, c):
                await client.close()

    run(scenario())


# --- ping via the server -------------------------------------------------------------------


def test_ping_command_sends_a_ping_and_reports_the_pong() -> None:
    tap = TapRecord()

    async def scenario() -> None:
        async with serving(tap=tap, config=Config()) as server:
            raw = await open_websocket(server.port, path="/echo")
            await raw.send(masked(0x1, b"/ping"))
            header = await raw.read_exactly(2)
            ping = server_frames(header + await raw.read_exactly(header[1]))[0]
            assert ping.opcode == 0x9 and ping.payload == b"wirelab"
            await raw.send(masked(0xA, ping.payload))
            header = await raw.read_exactly(2)
            [report] = server_frames(header + await raw.read_exactly(header[1]))
            note = json.loads(report.payload)
            assert note["type"] == "pong" and note["payload"] == "wirelab"
            assert isinstance(note["ms"], float | int) and note["ms"] >= 0
            await raw.close()

    run(scenario())


# --- slow readers --------------------------------------------------------------------------


def test_a_reader_that_stops_is_dropped_with_1013_and_its_buffer_stays_bounded() -> None:
    limit = 64 * 1024
    message = "x" * 1000

    async def scenario() -> None:
        async with serving(config=Config(), send_buffer_limit=limit) as server:
            url = server.url + "chat"
            slow = await Stalled.open(server.port, "/chat")
            await asyncio.sleep(0.2)  # let it join before the flood
            fast = await connect(url)
            sender = await connect(url)
            slow_session = slow.session_in(server.sessions)
            peak = sent = 0
            for _ in range(2000):
                sender.send_text(message)
                sent += 1
                await asyncio.sleep(0.001)  # let the server relay it
                if slow_session.transport is not None:
                    peak = max(peak, slow_session.transport.get_write_buffer_size())
                if slow_session.dropped:
                    break
            assert slow_session.dropped, "the slow reader was never dropped"
            assert sent < 2000
            assert peak <= limit + 2 * len(message)
            # The others carry on and get every message.
            for _ in range(sent + 1):  # a join notice, then the messages
                event = await fast.recv(STEP)
                assert isinstance(event, TextMessage)
            # The slow reader, reading at last, finds the 1013 close after what fitted.
            frames = await slow.drain()
            assert close_of(frames[-1]) == (
                CloseCode.TRY_AGAIN_LATER,
                "you read too slowly; reconnect",
            )
            relayed = [f for f in frames if f.opcode == 0x1 and f.payload == message.encode()]
            assert 0 < len(relayed) < sent
            # It can come back and gets a fresh welcome.
            again = await connect(url)
            assert notice(await again.recv(STEP))["type"] == "welcome"
            for client in (fast, sender, again):
                await client.close()

    run(scenario(), timeout=30)


# --- permessage-deflate on the wire --------------------------------------------------------


async def deflate_websocket(
    port: int, offer: str, path: str = "/echo"
) -> tuple[Raw, dict[str, str]]:
    from simulator.ws.handshake import accept_key, build_request
    from tests.live.support import KEY

    raw = await Raw.open(port)
    await raw.send(build_request(host=f"127.0.0.1:{port}", path=path, key=KEY, extensions=(offer,)))
    response = parse_response(await raw.read_head())
    assert response.status == 101
    assert response.headers["sec-websocket-accept"] == accept_key(KEY)
    return raw, response.headers


def test_a_decompression_bomb_is_closed_with_1009_on_the_wire() -> None:
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(bytes(64 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]  # 64 MiB of zeros in about 64 kB

    async def scenario() -> list[tuple[int, str]]:
        async with serving() as server:
            raw, headers = await deflate_websocket(server.port, "permessage-deflate")
            assert headers["sec-websocket-extensions"].startswith("permessage-deflate")
            await raw.send(masked(0x2, bomb, rsv1=True))
            frames = server_frames(await raw.read_to_eof())
            await raw.close()
            return [close_of(frames[-1])]

    [(code, reason)] = run(scenario())
    assert code == CloseCode.MESSAGE_TOO_BIG
    assert "inflates past" in reason


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; no_such_parameter",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    ],
)
def test_an_offer_we_cannot_read_is_declined_and_the_connection_runs_uncompressed(
    offer: str,
) -> None:
    async def scenario() -> None:
        async with serving() as server:
            raw, headers = await deflate_websocket(server.port, offer)
            assert "sec-websocket-extensions" not in headers
            await raw.send(masked(0x1, b"plain"))
            [echo] = server_frames(await raw.read_exactly(7))
            assert (echo.rsv1, echo.payload) == (False, b"plain")
            # RSV1 is now a protocol error: no extension defines it.
            await raw.send(masked(0x1, b"x", rsv1=True))
            frames = server_frames(await raw.read_to_eof())
            assert close_of(frames[-1])[0] == CloseCode.PROTOCOL_ERROR
            await raw.close()

    run(scenario())


def test_chat_compresses_each_broadcast_once_for_every_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seen: /chat with permessage-deflate compressed every broadcast once per member on
    the event loop (about 22 ms a member per MB: 100 members and 1 MB texts held other
    clients' echoes for 2 s). The broker's connections start every message afresh
    (server_no_context_takeover, which a server may choose, RFC 7692 §7.1.1.1), so one
    compressed frame serves them all; /echo keeps its context."""
    from simulator.ws.deflate import PerMessageDeflate

    calls: list[int] = []
    encode = PerMessageDeflate.encode

    def counted(
        self: PerMessageDeflate, opcode: int, payload: bytes | bytearray
    ) -> tuple[bytes | bytearray, int]:
        calls.append(len(payload))
        return encode(self, opcode, payload)

    monkeypatch.setattr(PerMessageDeflate, "encode", counted)
    text = "the same words again and again, " * 6000  # 192 kB, compresses well

    async def scenario() -> None:
        async with serving() as server:
            raw, headers = await deflate_websocket(server.port, "permessage-deflate", "/chat")
            assert "server_no_context_takeover" in headers["sec-websocket-extensions"]
            await raw.close()
            raw, headers = await deflate_websocket(server.port, "permessage-deflate")
            assert "server_no_context_takeover" not in headers["sec-websocket-extensions"]
            await raw.close()
            members = [await connect(server.url + "chat") for _ in range(20)]
            for member in members:
                while cast(int, notice(await member.recv(STEP))["clients"]) < len(members):
                    pass  # the welcome and the joins after it
            calls.clear()
            members[0].send_text(text)
            for member in members[1:]:
                assert await member.recv(STEP) == TextMessage(text)
            big = [n for n in calls if n == len(text.encode())]
            assert len(big) == 2, calls  # the sender's own, then the server's, once
            for member in members:
                await member.close()

    run(scenario(), timeout=30)
