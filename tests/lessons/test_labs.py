"""Troubleshooting labs: networks broken on purpose, byte for byte, and repaired.

- every fault produces exactly its fault on the wire (asserted on the bytes) and
  the same network without it does not; tshark finds nothing malformed in
  either capture, except where a malformed frame is the fault (said per fault);
- every lab of the course: its symptom shows in the broken run and not in the
  repaired one, where what healthy looks like does, and `lessons check` passes;
- a `fix` checkpoint runs the lab again with the learner's action: a real
  repair is right, anything else is wrong and says what the run showed;
- `lessons check` refuses a lab whose fault never shows, whose repaired network
  still shows it, or whose fix does not repair it; a bad [lab] table is a
  problem with its line.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.dissect.fields import Dissection, FieldValue
from simulator.dissect.stream_view import StreamDissector
from simulator.faults import FAULTS, parse_fault
from simulator.lessons import Lesson, LessonError, load_course, parse_lesson
from simulator.lessons.checkpoints import ask
from simulator.lessons.run import LessonRun
from simulator.network import Scenario
from simulator.network.faults import apply_fault
from simulator.trace.records import Trace
from simulator.ws.handshake import accept_key
from tests.wireshark.support import require_tshark, tshark

LABS = [lesson for lesson in load_course(user=False).lessons if lesson.lab is not None]


# --- each fault on the wire ---------------------------------------------------------------


def run(
    fault: str | None, actions: Callable[[Scenario], object], *, finish: bool = True,
    routers: int = 0,
) -> Scenario:  # fmt: skip
    scenario = Scenario(seed=7, routers=routers)
    if fault is not None:
        apply_fault(scenario, parse_fault(fault))
    actions(scenario)
    if finish:  # everything still pending: a stalled reader is probed for ever
        scenario.finish()
    return scenario


def seen(scenario: Scenario) -> list[Dissection]:
    """What the client's link saw, dissected."""
    link = scenario.capture_link(None).index
    trace = Trace([r for r in scenario.trace if r.interface == link])
    dissect = StreamDissector(trace)
    return [dissect(record) for record in trace]


def values(packets: list[Dissection], name: str) -> list[object]:
    return [f.value for p in packets for _, f in p.walk() if f.name == name]


def sent_by(packets: list[Dissection], address: str) -> list[Dissection]:
    return [p for p in packets if values([p], "ip.src")[:1] == [address]]


def websocket_frames(packets: list[Dissection], address: str) -> list[dict[str, FieldValue]]:
    """Each WebSocket frame `address` sent, as {field name: value}."""
    out = []
    for packet in sent_by(packets, address):
        for top in packet.fields:
            if top.name == "ws":
                out.append({f.name: f.value for _, f in top.walk()})
    return out


def open_and_send(text: str, fragment_size: int | None = None) -> Callable[[Scenario], None]:
    def actions(scenario: Scenario) -> None:
        scenario.open()
        if scenario.client.conn.state.value == "open":
            scenario.send_text(text, fragment_size=fragment_size)

    return actions


CLIENT, SERVER = "10.0.0.1", "10.0.0.2"


def test_every_fault_has_a_test_here() -> None:
    tested = {"missing-route", "stalled-reader", "strip-upgrade", "wrong-accept",
              "server-masks", "client-unmasked", "latin1-client"}  # fmt: skip
    assert set(FAULTS) == tested


def test_missing_route_icmp_unreachable_from_that_router() -> None:
    def ping(scenario: Scenario) -> None:
        scenario.traceroute()

    broken = seen(run("missing-route r2 10.0.3.0/24", ping, routers=3))
    # Type 3 code 0 (net unreachable) from r2, its address on the r1-r2 link.
    unreachable = [p for p in broken if 3 in values([p], "icmp.type")]
    # Its own source first, then that of the echo request it quotes (the client's).
    assert unreachable
    assert all(values([p], "ip.src") == ["10.0.1.2", "10.0.0.1"] for p in unreachable)
    assert all(values([p], "icmp.code")[0] == 0 for p in unreachable)
    assert 0 not in values(broken, "icmp.type")  # no echo reply
    repaired = seen(run(None, ping, routers=3))
    assert 3 not in values(repaired, "icmp.type") and 0 in values(repaired, "icmp.type")


def test_stalled_reader_closes_the_window_and_the_sender_probes() -> None:
    def upload(scenario: Scenario) -> None:
        scenario.open()
        scenario.send_binary(bytes(100_000))
        scenario.wait(3.0)

    broken = run("stalled-reader server", upload, finish=False)
    packets = seen(broken)
    from_server = sent_by(packets, SERVER)
    assert 0 in values(from_server, "tcp.window")
    # The application read the upgrade request, then nothing more: no echo.
    assert broken.session().received_bytes < 1000
    assert not [f for f in websocket_frames(packets, SERVER) if f["ws.opcode"] == 2]
    # Persist probes (RFC 9293 §3.8.6.1): one-byte segments into the zero window.
    payloads = [v for p in sent_by(packets, CLIENT) for v in values([p], "tcp.payload")]
    lengths = [len(v) for v in payloads if isinstance(v, bytes)]
    assert lengths.count(1) >= 2
    repaired = run(None, upload, finish=False)
    assert 0 not in values(sent_by(seen(repaired), SERVER), "tcp.window")
    assert repaired.session().received_bytes > 100_000


def test_a_proxy_without_websocket_support_turns_the_upgrade_into_a_plain_get() -> None:
    broken = seen(run("strip-upgrade", lambda s: s.open()))
    request = next(p for p in broken if "http.request.method" in {n for n, _ in names(p)})
    # On the wire the request is the client's, Upgrade and all ...
    assert "websocket" in [str(v).lower() for v in values([request], "http.header.value")]
    # ... but the server answered a plain GET: 200 and its page, never 101.
    assert values(broken, "http.response.code") == [200]
    # The client fails the connection (RFC 6455 §4.1) and so closes TCP first.
    assert first_fin(broken) == CLIENT
    repaired = seen(run(None, lambda s: s.open()))
    assert values(repaired, "http.response.code") == [101]
    assert first_fin(repaired) is None


def names(packet: Dissection) -> list[tuple[str, object]]:
    return [(f.name, f.value) for _, f in packet.walk()]


def first_fin(packets: list[Dissection]) -> str | None:
    for packet in packets:
        flags = dict(names(packet))
        if flags.get("tcp.flags.fin"):
            return str(flags["ip.src"])
    return None


def test_wrong_accept_is_the_key_hashed_without_the_guid() -> None:
    broken = seen(run("wrong-accept", lambda s: s.open()))
    headers = {
        f.label: str(f.value) for p in broken for _, f in p.walk() if f.name == "http.header"
    }
    key, sent = headers["Sec-WebSocket-Key"], headers["Sec-WebSocket-Accept"]
    assert sent == base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
    assert sent != accept_key(key)
    assert values(broken, "http.response.code") == [101]
    assert first_fin(broken) == CLIENT  # the client checked it and gave up
    repaired = seen(run(None, lambda s: s.open()))
    right = {
        f.label: str(f.value) for p in repaired for _, f in p.walk() if f.name == "http.header"
    }
    assert right["Sec-WebSocket-Accept"] == accept_key(right["Sec-WebSocket-Key"])
    assert first_fin(repaired) is None


@pytest.mark.parametrize(
    ("fault", "sender", "failer", "reason"),
    [
        ("server-masks", SERVER, CLIENT, "server frame is masked"),
        ("client-unmasked", CLIENT, SERVER, "client frame is not masked"),
    ],
)
def test_masking_by_the_wrong_side_fails_with_1002(
    fault: str, sender: str, failer: str, reason: str
) -> None:
    broken = seen(run(fault, open_and_send("hello")))
    wrong = websocket_frames(broken, sender)[0]
    assert wrong["ws.opcode"] == 1 and wrong["ws.mask"] is (sender == SERVER)
    closes = [f for f in websocket_frames(broken, failer) if f["ws.opcode"] == 8]
    assert closes and closes[0]["ws.close.code"] == 1002
    assert closes[0]["ws.close.reason"] == reason
    repaired = seen(run(None, open_and_send("hello")))
    echo = websocket_frames(repaired, SERVER)
    assert [f["ws.text"] for f in echo] == ["hello"] and echo[0]["ws.mask"] is False
    assert all(f["ws.mask"] is True for f in websocket_frames(repaired, CLIENT))


def test_latin1_text_fails_with_1007_where_the_utf8_breaks() -> None:
    broken_run = run("latin1-client", open_and_send("café au lait", fragment_size=4))
    broken = seen(broken_run)
    frames = websocket_frames(broken, CLIENT)
    payloads = [f["ws.payload"] for f in frames[:3]]
    assert payloads == [b"caf\xe9", b" au ", b"lait"]  # é is the one byte 0xE9
    closes = [f for f in websocket_frames(broken, SERVER) if f["ws.opcode"] == 8]
    assert closes and closes[0]["ws.close.code"] == 1007
    repaired_run = run(None, open_and_send("café au lait", fragment_size=4))
    repaired = seen(repaired_run)
    utf8 = [f["ws.payload"] for f in websocket_frames(repaired, CLIENT)]
    assert utf8[:2] == [b"caf\xc3", b"\xa9 au"]  # é split across two fragments: still fine
    assert [f.get("ws.text") for f in websocket_frames(repaired, SERVER)] == ["café au lait"]


def test_a_fault_is_checked_before_it_runs() -> None:
    for text, words in [
        ("missing-link r2", "the first word is one of"),
        ("missing-route r2", "write it as 'missing-route ROUTER PREFIX'"),
        ("missing-route r2 10.0.3.0/33", "is not a prefix"),
        ("stalled-reader proxy", "client or server"),
        ('"unclosed', "No closing quotation"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_fault(text)
    scenario = Scenario(seed=1, routers=1)
    with pytest.raises(ValueError, match="no router named 'r9'"):
        apply_fault(scenario, parse_fault("missing-route r9 10.0.1.0/24"))
    with pytest.raises(ValueError, match=r"no row for 10\.0\.9\.0/24"):
        apply_fault(scenario, parse_fault("missing-route r1 10.0.9.0/24"))


# --- the course's labs -----------------------------------------------------------------


def test_the_course_has_six_labs_or_more() -> None:
    assert len(LABS) >= 6
    assert len({parse_fault(lab.lab.fault).kind for lab in LABS if lab.lab}) >= 6


@pytest.mark.parametrize("lab", LABS, ids=[lab.id for lab in LABS])
def test_a_lab_shows_its_fault_and_the_repaired_network_does_not(lab: Lesson) -> None:
    assert lab.lab is not None
    broken, repaired = LessonRun(lab), LessonRun(lab, repaired=True)
    assert broken.matching(lab.lab.symptom)
    assert not repaired.matching(lab.lab.symptom)
    if lab.lab.healthy is not None:
        assert repaired.matching(lab.lab.healthy)
    assert [p for p in broken.check() if not p.warning] == []


@pytest.mark.parametrize("lab", LABS, ids=[lab.id for lab in LABS])
def test_wireshark_reads_both_networks_of_a_lab(lab: Lesson, tmp_path: Path) -> None:
    """Nothing malformed in either capture: a frame masked by the wrong side or text
    that is not UTF-8 is well-formed to a dissector; the receiving endpoint is what
    must refuse it."""
    require_tshark()
    for name, each in (("broken", LessonRun(lab)), ("repaired", LessonRun(lab, repaired=True))):
        path = tmp_path / f"{name}.pcapng"
        each.scenario.write_pcap(path, all_links=True)
        errors = tshark("-r", str(path), "-q", "-z", "expert,error")
        assert "Malformed" not in errors, (name, errors)


# --- fix checkpoints ------------------------------------------------------------------


def fix_question(lesson: Lesson) -> tuple[LessonRun, int]:
    run = LessonRun(lesson)
    step = next(
        i for i, s in enumerate(lesson.steps) if s.checkpoint and s.checkpoint.kind == "fix"
    )
    return run, step


def test_a_fix_is_judged_by_running_the_lab_again() -> None:
    lab = next(lab for lab in LABS if lab.id == "lab-missing-route")
    run, step = fix_question(lab)
    checkpoint = lab.steps[step].checkpoint
    assert checkpoint is not None
    question = ask(checkpoint, run, step)
    assert question.describe is not None
    right = "route r2 10.0.3.0/24 via=10.0.2.2"
    assert question.judge(right)
    assert "it works" in question.describe(right) and "Echo (ping) reply" in question.describe(
        right
    )
    # A default route on r2 is a repair too: whatever works is right.
    assert question.judge("route r2 0.0.0.0/0 via=10.0.2.2")
    # Back towards r1: the packets loop until their TTL runs out. Not a repair.
    loop = "route r2 10.0.3.0/24 via=10.0.1.1"
    assert not question.judge(loop) and "Time exceeded" in question.describe(loop)
    # The wrong router: r2 still says unreachable.
    elsewhere = "route r1 10.0.3.0/24 via=10.0.1.2"
    assert not question.judge(elsewhere)
    assert "Destination unreachable" in question.describe(elsewhere)
    # Not an action, an action that sends, an action that cannot be done.
    assert "not an action" in question.describe("please fix it")
    assert "one of: route" in question.describe("send_text hi")
    assert "cannot be done" in question.describe("unroute r2 10.0.3.0/24")
    assert not any(question.judge(t) for t in ("please fix it", "send_text hi", ""))


LAB = """+++
id = "mine"
title = "Lab: mine"
order = 1
objectives = ["Diagnose"]

[network]
seed = 3
routers = 3

[lab]
fault = "{fault}"
symptom = "{symptom}"
healthy = "icmp.type == 0"
+++

## Ping

The client pings the server.

```do
ping_host
```

## Repair

```check
kind = "fix"
answer = "{answer}"
question = "Repair it."
```
"""


def lab_file(tmp_path: Path, **parts: str) -> Path:
    values = {"fault": "missing-route r2 10.0.3.0/24", "symptom": "icmp.type == 3",
              "answer": "route r2 10.0.3.0/24 via=10.0.2.2", **parts}  # fmt: skip
    path = tmp_path / "lab.md"
    path.write_text(LAB.format(**values), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    return [str(p) for p in LessonRun(parse_lesson(path)).check()]


def test_lessons_check_passes_a_working_lab(tmp_path: Path) -> None:
    assert problems_of(lab_file(tmp_path)) == []


def test_lessons_check_refuses_a_fix_that_does_not_repair(tmp_path: Path) -> None:
    path = lab_file(tmp_path, answer="route r1 10.0.3.0/24 via=10.0.1.2")
    (problem,) = problems_of(path)
    line = path.read_text().splitlines().index("```check") + 1
    assert f":{line}:" in problem and "does not repair the network" in problem


def test_lessons_check_refuses_a_symptom_that_never_shows(tmp_path: Path) -> None:
    (problem,) = problems_of(lab_file(tmp_path, symptom="icmp.type == 11"))
    assert ":11:" in problem and "no packet of the broken network matches" in problem


def test_lessons_check_refuses_a_symptom_the_repaired_network_shows_too(tmp_path: Path) -> None:
    problems = problems_of(lab_file(tmp_path, symptom="icmp"))
    assert any("without the fault, packet 1 still matches" in p for p in problems), problems


def test_a_bad_lab_table_is_a_problem_with_its_line(tmp_path: Path) -> None:
    for parts, words in [
        ({"fault": "missing-link r2"}, "the first word is one of"),
        ({"symptom": "icmp.type =="}, "symptom = 'icmp.type =='"),
        ({"answer": "send_text hi"}, "a fix is one of route"),
    ]:
        with pytest.raises(LessonError) as raised:
            parse_lesson(lab_file(tmp_path, **parts))
        assert any(words in str(p) for p in raised.value.problems), raised.value.problems
    path = lab_file(tmp_path)
    path.write_text(path.read_text().replace('healthy = "icmp.type == 0"', "loud = 1"))
    with pytest.raises(LessonError, match=r"lab\.md:11: \[lab\] loud: unknown setting"):
        parse_lesson(path)
