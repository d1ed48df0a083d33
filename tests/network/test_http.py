"""Plain HTTP in the simulated network: status codes, keep-alive, polling, and the
WebSocket upgrade's refusals, all read back from the bytes on the wire."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from simulator.lessons.actions import parse_action, run_action
from simulator.lessons.parse import parse_lesson
from simulator.lessons.run import LessonRun, build_scenario
from simulator.network import Scenario
from simulator.network.http import (
    HttpError,
    Resource,
    Site,
    build_response,
    read_request,
    read_response,
)
from simulator.network.scenario import Step, tcp_payload_length
from simulator.trace.segments import FIN, SYN, tcp_segment
from simulator.trace.streams import Pdu, Reassembler
from simulator.ws import Config
from simulator.ws.handshake import accept_key

LESSONS = Path(__file__).resolve().parents[2] / "lessons"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key
UPGRADE = [
    "GET /chat HTTP/1.1",
    "Host: 10.0.0.2",
    "Upgrade: websocket",
    "Connection: Upgrade",
]


def http_messages(scenario: Scenario) -> list[Pdu]:
    """Every HTTP message the client's link carried, cut from the captured packets."""
    reassembler = Reassembler()
    pdus = reassembler.feed_all(scenario.capture()) + reassembler.finish()
    return [p for p in pdus if p.kind == "http"]


def parse(data: bytes) -> tuple[str, dict[str, str], bytes]:
    """Start line, headers (lower-case names) and body of one message, read independently
    of the code under test."""
    head, blank, body = data.partition(b"\r\n\r\n")
    assert blank, data
    start, *lines = head.decode("ascii").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        assert colon and name == name.strip(), line
        assert name.lower() not in headers, f"{name} twice"
        headers[name.lower()] = value.strip()
    return start, headers, body


def responses(scenario: Scenario) -> list[tuple[str, dict[str, str], bytes]]:
    return [parse(p.data) for p in http_messages(scenario) if p.data.startswith(b"HTTP/")]


def step_packets(scenario: Scenario, step: Step) -> list[bytes]:
    return [r.data for r in scenario.trace[step.first : step.end]]


def syns(scenario: Scenario) -> int:
    return sum(
        1
        for record in scenario.capture()
        if (seg := tcp_segment(record)) is not None and seg.flags == SYN
    )


# --- status codes on the wire ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "status", "content_type"),
    [
        ("/", [], "200 OK", "text/html; charset=utf-8"),
        ("/messages", [], "200 OK", "application/json"),
        ("/private", [], "401 Unauthorized", "text/plain; charset=utf-8"),
        ("/private", ["Authorization: Basic c3R1ZGVudDp3aXJlbGFi"], "200 OK", None),
        ("/private", ["Authorization: basic c3R1ZGVudDp3aXJlbGFi"], "200 OK", None),
        ("/private", ["Authorization: Basic c3R1ZGVudDpubw=="], "401 Unauthorized", None),
        ("/admin", [], "403 Forbidden", None),
        ("/admin", ["Authorization: Basic c3R1ZGVudDp3aXJlbGFi"], "403 Forbidden", None),
        ("/nowhere", [], "404 Not Found", None),
        ("/messages?since=3", [], "200 OK", "application/json"),
    ],
)
def test_status_codes_on_the_wire(
    path: str, headers: list[str], status: str, content_type: str | None
) -> None:
    scenario = Scenario(seed=4)
    scenario.http_get(path, headers)
    request, response = http_messages(scenario)
    start, fields, body = parse(request.data)
    assert start == f"GET {path} HTTP/1.1"
    assert fields["host"] == "10.0.0.2"
    start, fields, body = parse(response.data)
    assert start == f"HTTP/1.1 {status}"
    assert int(fields["content-length"]) == len(body) > 0
    if content_type is not None:
        assert fields["content-type"] == content_type
    if status.startswith("401"):
        # RFC 9110 §15.5.2: a 401 carries a challenge.
        assert fields["www-authenticate"] == 'Basic realm="wirelab"'
    else:
        assert "www-authenticate" not in fields
    if path.startswith("/messages"):
        assert json.loads(body)["messages"][0]["text"] == "Hello"
    # The client app parsed the same response.
    (seen,) = scenario.http.responses
    assert f"{seen.status} {seen.reason}" == status and seen.body == body
    assert seen.size == len(response.data)


def test_head_gets_the_length_without_the_body_and_other_methods_get_405() -> None:
    scenario = Scenario(seed=4)
    scenario.http_get("/")
    scenario.http_get("/", method="HEAD")
    scenario.http_get("/", method="DELETE")
    get, head, delete = responses(scenario)
    assert head[0] == "HTTP/1.1 200 OK" and head[2] == b""
    assert head[1]["content-length"] == get[1]["content-length"] == str(len(get[2]))
    assert delete[0] == "HTTP/1.1 405 Method Not Allowed"
    assert delete[1]["allow"] == "GET, HEAD"  # RFC 9110 §15.5.6
    assert [r.status for r in scenario.http.responses] == [200, 200, 405]
    assert scenario.http.connections == 1


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["GARBAGE"], "malformed start line"),
        (["GET / HTTP/1.1"], "Host"),  # RFC 9112 §3.2: HTTP/1.1 needs exactly one Host
        (["GET / HTTP/1.1", "Host: a", "Host: b"], "Host"),
        (["GET / HTTP/1.1", "Host: 10.0.0.2", "Bad Header Line"], "malformed header"),
        (["GET / HTTP/1.1", "Host: 10.0.0.2", "Content-Length: ten"], "Content-Length"),
        (["GET / HTTP/1.1", "Host: 10.0.0.2", " folded"], "folding"),
        (["GET / HTTPS/1.1", "Host: 10.0.0.2"], "version"),
    ],
)
def test_a_malformed_request_gets_400_and_the_server_closes(lines: list[str], reason: str) -> None:
    scenario = Scenario(seed=5)
    step = scenario.http_request(lines)
    (start, fields, body), = responses(scenario)  # fmt: skip
    assert start == "HTTP/1.1 400 Bad Request"
    assert fields["connection"] == "close"
    assert int(fields["content-length"]) == len(body)
    assert reason.lower() in body.decode().lower()
    # The server closes first (RFC 9112 §9.6), then the client.
    fins = [
        seg.src.port
        for r in scenario.trace[step.first : step.end]
        if (seg := tcp_segment(r)) is not None and seg.flags & FIN
    ]
    assert fins[0] == 80 and len(fins) == 2


def test_http_2_gets_505() -> None:
    scenario = Scenario(seed=5)
    scenario.http_request(["GET / HTTP/2.0", "Host: 10.0.0.2"])
    ((start, _, _),) = responses(scenario)
    assert start == "HTTP/1.1 505 HTTP Version Not Supported"


# --- one connection, many requests ------------------------------------------------------


def test_keep_alive_two_requests_one_connection() -> None:
    scenario = Scenario(seed=6)
    first = scenario.http_get("/")
    second = scenario.http_get("/messages")
    assert syns(scenario) == 1  # one TCP handshake for both
    messages = http_messages(scenario)
    assert len(messages) == 4
    assert len({m.connection for m in messages}) == 1
    # The second request's packets carry no SYN: only data and ACKs.
    for data in step_packets(scenario, second):
        assert not data[20 + 13] & 0x02
    assert len(step_packets(scenario, first)) > len(step_packets(scenario, second))
    assert [r.status for r in scenario.http.responses] == [200, 200]
    assert scenario.http.connections == 1
    assert len(scenario.server.sessions) == 1


def test_connection_close_is_honoured_and_the_next_request_reconnects() -> None:
    scenario = Scenario(seed=6)
    step = scenario.http_get("/", ["Connection: close"])
    ((_, fields, _),) = responses(scenario)
    assert fields["connection"] == "close"
    fins = [
        seg.src.port
        for r in scenario.trace[step.first : step.end]
        if (seg := tcp_segment(r)) is not None and seg.flags & FIN
    ]
    assert fins[0] == 80 and len(fins) == 2
    scenario.http_get("/")
    assert syns(scenario) == 2
    assert scenario.http.connections == 2
    assert [r.status for r in scenario.http.responses] == [200, 200]


def test_http_1_0_closes_after_one_response() -> None:
    scenario = Scenario(seed=6)
    scenario.http_request(["GET / HTTP/1.0"])
    ((start, fields, _),) = responses(scenario)
    assert start == "HTTP/1.1 200 OK" and fields["connection"] == "close"


def test_pipelined_requests_are_answered_in_order() -> None:
    scenario = Scenario(seed=7)
    http = scenario.http

    def two() -> None:
        http.request(b"GET /messages HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n")
        http.request(b"GET /admin HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n")

    step = scenario._step("pipelined", two, None)
    data = [d for d in step_packets(scenario, step) if tcp_payload_length(d)]
    # Both requests leave before the first response comes back.
    assert [b"GET " in d for d in data] == [True, True, False, False]
    assert [r.status for r in http.responses] == [200, 403]


def test_polling_costs_a_request_and_a_response_each_time() -> None:
    scenario = Scenario(seed=8)
    scenario.http_get("/messages")  # the connection is open from here on
    polls = [scenario.http_get("/messages") for _ in range(5)]
    request, response = (m.data for m in http_messages(scenario)[:2])
    for step in polls:
        carrying = [d for d in step_packets(scenario, step) if tcp_payload_length(d)]
        # Exactly one request and one response per poll, nothing else with data.
        assert [tcp_payload_length(d) for d in carrying] == [len(request), len(response)]
    total = sum(tcp_payload_length(d) for s in polls for d in step_packets(scenario, s))
    assert total == len(polls) * (len(request) + len(response))
    # The same news pushed over a WebSocket: one frame, 2 header bytes + the payload.
    scenario.open()
    news = json.dumps(json.loads(response.partition(b"\r\n\r\n")[2])["messages"][0])
    push = scenario.send_text(news, side="server")
    carrying = [d for d in step_packets(scenario, push) if tcp_payload_length(d)]
    assert [tcp_payload_length(d) for d in carrying] == [2 + len(news)]
    assert 2 + len(news) < len(response) < len(request) + len(response)


# --- the WebSocket upgrade next to plain HTTP --------------------------------------------


def test_upgrade_still_works_and_http_clients_do_not_disturb_it() -> None:
    scenario = Scenario(seed=9)
    scenario.http_get("/")
    scenario.open()
    scenario.send_text("hi")
    assert scenario.client.conn.state.value == "open"
    assert scenario.client.events[-1].data == "hi"  # type: ignore[union-attr]
    assert scenario.http.responses[0].status == 200


def test_an_upgrade_request_on_a_kept_alive_connection() -> None:
    scenario = Scenario(seed=9)
    scenario.http_get("/messages")
    scenario.http_request([*UPGRADE, f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13"])
    assert scenario.http.connections == 1
    assert scenario.http.switched
    *_, (start, fields, body) = responses(scenario)
    assert start == "HTTP/1.1 101 Switching Protocols"
    assert fields["sec-websocket-accept"] == accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert "sec-websocket-extensions" not in fields and body == b""
    # The next request needs a new connection: the old one speaks WebSocket now.
    scenario.http_get("/")
    assert scenario.http.connections == 2 and scenario.http.responses[-1].status == 200


def test_version_8_gets_426_with_version_13() -> None:
    scenario = Scenario(seed=10)
    scenario.http_request([*UPGRADE, f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 8"])
    ((start, fields, body),) = responses(scenario)
    assert start == "HTTP/1.1 426 Upgrade Required"
    assert fields["sec-websocket-version"] == "13"
    assert fields["upgrade"] == "websocket"  # RFC 9110 §15.5.22: 426 names the protocol
    assert int(fields["content-length"]) == len(body)
    assert scenario.http.responses[0].status == 426


def test_missing_key_gets_400() -> None:
    scenario = Scenario(seed=10)
    scenario.http_request([*UPGRADE, "Sec-WebSocket-Version: 13"])
    ((start, _, body),) = responses(scenario)
    assert start == "HTTP/1.1 400 Bad Request" and b"Sec-WebSocket-Key" in body


def test_origin_outside_the_allow_list_gets_403() -> None:
    allowed = Config(origins=("http://10.0.0.2",))
    scenario = Scenario(seed=11, server_config=allowed, origin="http://elsewhere.example")
    scenario.http_request(
        [*UPGRADE, f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13",
         "Origin: http://elsewhere.example"]
    )  # fmt: skip
    ((start, _, _),) = responses(scenario)
    assert start == "HTTP/1.1 403 Forbidden"
    scenario.open()  # the WebSocket client sends the same Origin: refused too
    assert any(getattr(e, "status", 0) == 403 for e in scenario.client.events)


def test_subprotocol_negotiation_picks_one_the_client_offered() -> None:
    scenario = Scenario(
        seed=12,
        client_config=Config(subprotocols=("chat.v2", "chat")),
        server_config=Config(subprotocols=("chat",)),
    )
    scenario.open()
    request, response = (parse(m.data) for m in http_messages(scenario))
    assert request[1]["sec-websocket-protocol"] == "chat.v2, chat"
    assert response[0] == "HTTP/1.1 101 Switching Protocols"
    assert response[1]["sec-websocket-protocol"] == "chat"
    assert scenario.client.conn.subprotocol == "chat"


def test_offered_extensions_are_not_accepted_here() -> None:
    scenario = Scenario(seed=12)
    scenario.http_request(
        [*UPGRADE, f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13",
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]
    )  # fmt: skip
    ((start, fields, _),) = responses(scenario)
    assert start == "HTTP/1.1 101 Switching Protocols"
    assert "sec-websocket-extensions" not in fields


def test_same_seed_same_bytes() -> None:
    def run() -> list[bytes]:
        scenario = Scenario(seed=13)
        scenario.http_get("/private")
        scenario.http_get("/private", auth=("student", "wirelab"))
        scenario.open()
        scenario.finish()
        return [r.data for r in scenario.trace]

    assert run() == run()


# --- the message layer on its own --------------------------------------------------------


def test_request_reader() -> None:
    head = b"POST /messages HTTP/1.1\r\nHost: h\r\n"
    assert read_request(head) is None  # incomplete
    got = read_request(head + b"Content-Length: 5\r\n\r\nhel")
    assert got is None  # the body is not all there
    full = head + b"Content-Length: 5\r\n\r\nhello" + b"GET / HTTP/1.1\r\n"
    got = read_request(full)
    assert got is not None and got[0].body == b"hello" and full[got[1] :].startswith(b"GET")
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\n"
    got = read_request(chunked)
    assert got is not None and got[0].body == b"hello!" and got[1] == len(chunked)
    got = read_request(b"\r\n" + head + b"\r\n")  # an empty line before the request is ignored
    assert got is not None and got[0].method == "POST" and got[0].size == len(head) + 4
    with pytest.raises(HttpError) as error:
        read_request(head + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert error.value.status == 400
    with pytest.raises(HttpError) as error:
        read_request(head + b"Transfer-Encoding: gzip, chunked\r\n\r\n")
    assert error.value.status == 501
    with pytest.raises(HttpError) as error:
        read_request(head + b"Content-Length: 999999999\r\n\r\n")
    assert error.value.status == 413
    with pytest.raises(HttpError) as error:
        read_request(head + b"Content-Length: 3, 4\r\n\r\n")
    assert error.value.status == 400


def test_response_reader_framing() -> None:
    wire = build_response(200, [("Content-Type", "text/plain")], b"abc")
    got = read_response(wire + b"HTTP/1.1 ...")
    assert got is not None and got[0].body == b"abc" and got[1] == len(wire)
    head_only = build_response(200, [], b"abc", head_only=True)
    got = read_response(head_only, method="HEAD")
    assert got is not None and got[0].body == b"" and got[0].header("Content-Length") == "3"
    until_close = b"HTTP/1.1 200 OK\r\n\r\nsome bytes"
    assert read_response(until_close) is None
    got = read_response(until_close, eof=True)
    assert got is not None and got[0].body == b"some bytes"
    with pytest.raises(HttpError):
        read_response(b"HTTP/1.1 2000 OK\r\n\r\n")


def test_site_table_is_configurable() -> None:
    site = Site({"/x": Resource(b"x", "text/plain", "private")}, {"ann": "pw"}, realm="lab")
    request = read_request(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert request is not None
    status, headers, _ = site.respond(request[0])
    assert status == 401 and ("WWW-Authenticate", 'Basic realm="lab"') in headers
    token = base64.b64encode(b"ann:pw").decode()
    request = read_request(f"GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Basic {token}\r\n\r\n"
                           .encode())  # fmt: skip
    assert request is not None and site.respond(request[0])[0] == 200
    scenario = Scenario(seed=1, resources={"/only": Resource(b"only\n")})
    scenario.http_get("/only")
    scenario.http_get("/")
    assert [r.status for r in scenario.http.responses] == [200, 404]


# --- lessons: actions and [network] keys ---------------------------------------------------


def test_lesson_actions_and_network_keys() -> None:
    scenario = build_scenario(
        {"seed": 2, "subprotocols": ["chat.v2", "chat"], "server_subprotocols": ["chat"]}
    )
    for line in (
        'http_get /private "Accept: text/plain"',
        'http_get /private auth="student:wirelab"',
        'http_request "GET /chat HTTP/1.1" "Host: 10.0.0.2" "Upgrade: websocket" '
        '"Connection: Upgrade" "Sec-WebSocket-Version: 8" '
        '"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="',
        "open",
    ):
        name, args, kwargs = parse_action(line)
        run_action(scenario, name, args, dict(kwargs))
    assert [r.status for r in scenario.http.responses] == [401, 200, 426]
    assert scenario.client.conn.subprotocol == "chat"
    with pytest.raises(ValueError, match="list"):
        build_scenario({"subprotocols": "chat"})
    with pytest.raises(ValueError, match="header line"):
        scenario.http_get("/", ["no colon here"])


@pytest.mark.parametrize("name", ["05-http.md", "06-upgrade.md"])
def test_the_http_lessons_check_clean(name: str) -> None:
    lesson = parse_lesson(LESSONS / name)
    assert LessonRun(lesson).check() == []
