"""The class answers over the classroom channel: the teacher's side tallies, reveals,
exports; followers learn their verdict only at the reveal; hostile followers are shut
out with 1008 while the class goes on."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import simulator.live.poll
from simulator.live.classroom import (
    BURST,
    NO_CLASS,
    Follower,
    Position,
    Share,
    Verdict,
    class_url,
    share_server,
)
from simulator.live.client import connect
from simulator.live.poll import MAX_ANSWER, Poll, clean
from simulator.live.server import Server
from simulator.ws import CloseCode, CloseReceived, Config, TextMessage
from tests.live.support import run

LESSON = ("tcp-handshake", "0123456789abcdef", "The TCP handshake")
STEPS = 6
ASKING = 2  # the step with a checkpoint
MIX = ("61", "62", "64", " 61 ")  # follower i answers MIX[i % 4]; "61" is right


class Judge:
    """A lesson with one checkpoint, at step ASKING, whose answer is 61."""

    def __init__(self) -> None:
        self.judged: list[str] = []

    def expected(self, lesson: str, step: int) -> str | None:
        return "61" if lesson == LESSON[0] and step == ASKING else None

    def judge(self, lesson: str, step: int, answer: str) -> bool:
        self.judged.append(answer)
        return answer.strip() == "61"

    def question(self, lesson: str, step: int) -> str:
        return "What TTL does the server see?"


class Student:
    """A `Follower` and what it was told."""

    def __init__(self, url: str, name: str = "") -> None:
        self.moments: list[Position] = []
        self.verdicts: list[Verdict] = []
        self.notes: list[str] = []
        self.statuses: list[str] = []
        self.follower = Follower(
            url,
            lambda kind, position: self.moments.append(position),
            self.statuses.append,
            name=name,
            on_verdict=self.verdicts.append,
            on_note=self.notes.append,
            delays=(0.05, 0.1),
        )
        self.task = asyncio.ensure_future(self.follower.run())

    async def stop(self) -> None:
        self.follower.stop()
        await asyncio.wait_for(self.task, 5)


@asynccontextmanager
async def teaching(**options: Any) -> AsyncIterator[tuple[Share, Server, str]]:
    """A `Share(**options)` on its server, on a free port: (share, server, the class's
    ws:// URL); shut down afterwards."""
    share = Share(**options)
    server = share_server(share, port=0)
    await server.start()
    try:
        yield share, server, "ws://" + class_url(server, share)
    finally:
        await server.shutdown()


async def until(condition: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def move(share: Share, step: int, revealed: tuple[int, ...] = ()) -> None:
    share.move(*LESSON, step=step, steps=STEPS, revealed=revealed)


@pytest.mark.parametrize("size", [2, 200])
def test_a_class_answers_the_teacher_reveals_and_the_results_are_that_mix(
    size: int, tmp_path: Path
) -> None:
    async def scenario() -> None:
        judge = Judge()
        async with teaching(judge=judge) as (share, _server, url):
            move(share, ASKING)
            students = [Student(url, name=f"s{i}") for i in range(size)]
            await until(lambda: all(s.follower.number for s in students), "every welcome")
            for i, student in enumerate(students):
                student.follower.answer(LESSON[0], ASKING, MIX[i % 4])
            await until(
                lambda: len(share.poll.answers.get((LESSON[0], ASKING), {})) == size,
                "every answer",
            )
            # Before the reveal: how many answered, nothing about right or wrong, for
            # the teacher's screen or anyone's; nothing judged yet.
            assert share.tally_line(LESSON[0], ASKING) == f"Class: {size} of {size} answered"
            await asyncio.sleep(0.2)
            assert not any(s.verdicts for s in students)
            assert judge.judged == []
            share.results = tmp_path / "live.json"
            move(share, ASKING, revealed=(ASKING,))
            await until(lambda: all(s.verdicts for s in students), "every verdict")
            # Written at the reveal already: a teacher's crash after it loses nothing.
            assert len(json.loads(share.results.read_text())["answers"]) == size
            for i, student in enumerate(students):
                (verdict,) = student.verdicts
                assert verdict.right == (MIX[i % 4].strip() == "61")
                assert verdict.answer == MIX[i % 4].strip()
                assert verdict.expected == "61"
                assert student.moments[-1].revealed == (ASKING,)
            right = sum(MIX[i % 4].strip() == "61" for i in range(size))
            wrong = {answer: sum(MIX[i % 4] == answer for i in range(size)) for answer in MIX[1:3]}
            assert len(judge.judged) == 2 + (size > 2)  # each distinct text judged once
            common = sorted(wrong.items(), key=lambda item: -item[1])
            expected_line = (
                f"Class: {size} of {size} answered · {right} right "
                f"({round(100 * right / size)} %) · wrong: "
                + ", ".join(f"“{answer}” ×{n}" for answer, n in common if n)
            )
            assert share.tally_line(LESSON[0], ASKING) == expected_line
            # An answer after the reveal is not counted, and the student is told why.
            students[0].follower.answer(LESSON[0], ASKING, "62")
            await until(lambda: students[0].notes, "the note")
            assert "revealed that answer already" in students[0].notes[0]
            # The results, as CSV and as JSON: exactly that mix.
            share.poll.write(tmp_path / "class.csv", judge)
            share.poll.write(tmp_path / "class.json", judge)
            with (tmp_path / "class.csv").open(newline="") as file:
                rows = list(csv.DictReader(file))
            document = json.loads((tmp_path / "class.json").read_text())
            assert len(rows) == len(document["answers"]) == size
            assert len(document["followers"]) == size
            for row, record in zip(rows, document["answers"], strict=True):
                i = int(row["name"][1:])
                assert row["answer"] == record["answer"] == MIX[i % 4].strip()
                assert row["right"] == ("yes" if MIX[i % 4].strip() == "61" else "no")
                assert record["right"] is (MIX[i % 4].strip() == "61")
                assert row["step"] == str(ASKING + 1) and row["lesson"] == LESSON[0]
                assert row["question"] == "What TTL does the server see?"
                assert row["answered_at"].endswith("+00:00")
            for student in students:
                await student.stop()

    run(scenario(), timeout=120)


def test_verdicts_at_once_when_the_teacher_chooses_so() -> None:
    async def scenario() -> None:
        async with teaching(judge=Judge(), verdicts="now") as (share, _server, url):
            move(share, ASKING)
            student = Student(url)
            await until(lambda: student.follower.number, "the welcome")
            student.follower.answer(LESSON[0], ASKING, "64")
            await until(lambda: student.verdicts, "the verdict")
            assert student.verdicts[0] == Verdict(LESSON[0], ASKING, "64", False, "61")
            assert share.tally_line(LESSON[0], ASKING) == "Class: 1 of 1 answered"
            await student.stop()

    run(scenario(), timeout=30)


def test_a_wrong_join_code_is_refused_and_the_follower_says_so() -> None:
    async def scenario() -> None:
        async with teaching(code="k7q2") as (share, server, _url):
            student = Student(f"ws://127.0.0.1:{server.port}/abcd")
            await until(lambda: student.task.done(), "the follower gives up")
            assert student.follower.last_close == (CloseCode.POLICY_VIOLATION, NO_CLASS)
            assert student.statuses[-1].startswith("refused by the teacher's wirelab: no class")
            assert share.count == 0

    run(scenario(), timeout=30)


async def _closed_with(url: str, *messages: str) -> tuple[int, str]:
    """Connect, send `messages`, and read until the server closes: its code and reason."""
    client = await connect(url, config=Config(max_size=1 << 20))
    for message in messages:
        client.send_text(message)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        event = await client.recv(timeout=5)
        if isinstance(event, CloseReceived):
            await client.close()
            return event.code, event.reason
        if event is None:
            break
    raise AssertionError(f"not closed after {messages[0][:40]!r}…")


def test_hostile_followers_are_closed_with_1008_and_the_class_goes_on() -> None:
    join = json.dumps({"type": "join", "key": "k" * 16, "name": "x"})
    answer = {"type": "answer", "lesson": LESSON[0], "step": ASKING, "answer": "61"}
    cases = [
        (("not json",), "not JSON"),
        (("[" * 3000,), "not JSON"),
        (("[1, 2]",), "not a JSON object"),
        (('{"type": "moment"}',), "may only join and answer"),
        (('{"type": "reveal", "step": 2}',), "may only join and answer"),
        ((json.dumps(answer),), "join before answering"),
        ((json.dumps({"type": "join", "key": "short"}),), "'key' is not"),
        ((json.dumps({"type": "join", "key": "k" * 16, "name": 7}),), "'name' is not"),
        ((join, json.dumps({**answer, "step": -1})), "'step' is not"),
        ((join, json.dumps({**answer, "answer": "x" * (MAX_ANSWER + 1)})), "'answer' is not"),
        ((join, json.dumps({**answer, "lesson": ["x"]})), "'lesson' is not"),
        ((join,) * (BURST + 5), "too many messages"),
        # Quoted in the reason: cut to a close frame's 123 bytes, on a character's edge.
        ((json.dumps({"type": "é" * 200}),), "may only join and answer, not 'éé"),
    ]

    async def scenario() -> None:
        async with teaching(judge=Judge()) as (share, _server, url):
            move(share, ASKING)
            good = Student(url, name="Ada")
            await until(lambda: good.follower.number, "the good student")
            for messages, why in cases:
                code, reason = await _closed_with(url, *messages)
                assert code == CloseCode.POLICY_VIOLATION, (messages[0][:40], code, reason)
                assert why in reason, (why, reason)
            # Bigger than any message the channel carries: 1009, as the engine says.
            code, _ = await _closed_with(url, json.dumps({**answer, "answer": "x" * 5000}))
            assert code == CloseCode.MESSAGE_TOO_BIG
            # Meanwhile the good follower answered and still follows.
            good.follower.answer(LESSON[0], ASKING, "61")
            move(share, ASKING + 1)
            await until(lambda: good.moments[-1].step == ASKING + 1, "the next moment")
            assert share.count == 1
            assert len(share.poll.answers[(LESSON[0], ASKING)]) == 1
            await good.stop()

    run(scenario(), timeout=60)


def test_names_and_answers_arrive_as_bounded_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulator.live.poll, "MAX_MEMBERS", 3)
    hostile = "\x1b[2J\x1b]0;pwned\x07[b red]Ada[/]\u202eevil\r\n" + "x" * 500

    async def scenario() -> None:
        async with teaching(judge=Judge()) as (share, _server, url):
            move(share, ASKING)
            student = Student(url, name=hostile)
            await until(lambda: student.follower.number, "the welcome")
            student.follower.answer(LESSON[0], ASKING, hostile)
            await until(lambda: share.poll.answers, "the answer")
            (member,) = share.poll.members.values()
            (answer,) = share.poll.answers[(LESSON[0], ASKING)].values()
            for text in (member.name, answer.text):
                assert not any(ord(c) < 32 or c == "\u202e" or ord(c) == 127 for c in text)
                assert text.startswith("[2J]0;pwned[b red]Ada[/]evil x")
            assert len(member.name) == 32 and 150 < len(answer.text) <= MAX_ANSWER
            # A class remembers a bounded number of students, whatever keys they invent.
            others = [Student(url) for _ in range(3)]
            await until(lambda: sum(s.task.done() for s in others) == 1, "one refused")
            assert len(share.poll.members) == 3
            refused = next(s for s in others if s.task.done())
            assert refused.follower.last_close == (CloseCode.POLICY_VIOLATION, "the class is full")
            for one in (student, *others):
                await one.stop()

    run(scenario(), timeout=30)


def test_a_reconnecting_follower_keeps_its_number_and_resends_its_answer() -> None:
    async def scenario() -> None:
        share = Share(judge=Judge(), code="k7q2")
        server = share_server(share, port=0)
        await server.start()
        port = server.port
        move(share, ASKING)
        student = Student("ws://" + class_url(server, share))
        await until(lambda: student.follower.number, "the welcome")
        number = student.follower.number
        await server.shutdown()
        student.follower.answer(LESSON[0], ASKING, "61")  # while the teacher is away
        server = share_server(share, port=port)
        await server.start()
        try:
            await until(lambda: student.follower.connections == 2, "the reconnection")
            await until(lambda: share.poll.answers, "the answer, sent again")
            assert student.follower.number == number
            assert len(share.poll.members) == 1
            move(share, ASKING, revealed=(ASKING,))
            await until(lambda: student.verdicts, "the verdict")
            assert student.verdicts[0].right
            await student.stop()
        finally:
            await server.shutdown()

    run(scenario(), timeout=40)


def test_poll_text_is_cleaned_and_csv_cells_cannot_be_formulas(tmp_path: Path) -> None:
    assert clean("  a\tb\n\x1b[31mc\u200b ", 10) == "a b [31mc"
    poll = Poll()
    member = poll.join("k" * 16, '=HYPERLINK("x")')
    assert member is not None
    poll.answer(member, LESSON[0], ASKING, "@SUM(A1)")
    poll.write(tmp_path / "r.csv", Judge())
    with (tmp_path / "r.csv").open(newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert row["name"] == '\'=HYPERLINK("x")' and row["answer"] == "'@SUM(A1)"
    assert not list(tmp_path.glob(".r.csv*"))  # no temporary file left behind


def test_the_follower_protocol_refuses_what_a_teacher_would_never_send() -> None:
    from simulator.live.classroom import ClassroomError, decode

    for bad, why in [
        ('{"type": "verdict", "lesson": "x", "step": 1, "answer": "a", "right": "yes", '
         '"expected": "b"}', "'right' is not true or false"),
        ('{"type": "note", "text": 5}', "'text' is not a string"),
        ('{"type": "welcome", "number": -1, "name": ""}', "'number' is not"),
        ('{"type": "answer"}', "unknown message type"),
    ]:  # fmt: skip
        with pytest.raises(ClassroomError, match=why):
            decode(bad)
    event = TextMessage('{"type":"note","text":"ok"}')
    assert decode(event.data) == ("note", "ok")


ROUNDS = 3


def test_floods_garbage_and_stalls_cost_the_teacher_bounded_memory() -> None:
    """Rounds of followers flooding 4 KB answers, sending garbage and never reading:
    each is closed (1008, or 1013 for a stalled reader), the class's record stays
    bounded, the good follower gets every moment in order, and the teacher's process
    grows by a bounded amount (measured: 16 MB after the first round, mostly the
    allocator's high-water mark; under 3 MB more over four more rounds)."""
    import psutil

    big = json.dumps({"type": "answer", "lesson": LESSON[0], "step": ASKING,
                      "answer": "x" * MAX_ANSWER}) + " " * 3700  # fmt: skip

    async def flooder(url: str, n: int) -> None:
        client = await connect(url, config=Config(max_size=1 << 20))
        client.send_text(json.dumps({"type": "join", "key": f"flood{n:08d}", "name": "f" * 128}))
        for _ in range(60):
            client.send_text(big)
        while (event := await client.recv(timeout=5)) is not None:
            if isinstance(event, CloseReceived):
                assert event.code == CloseCode.POLICY_VIOLATION
                break
        await client.close()

    async def scenario() -> None:
        from tests.live.support import Stalled

        share = Share(judge=Judge())
        server = share_server(share, port=0)
        server.send_buffer_limit = 16 * 1024
        await server.start()
        url = "ws://" + class_url(server, share)
        process = psutil.Process()
        try:
            move(share, ASKING)
            good = Student(url, name="Ada")
            await until(lambda: good.follower.number, "the good student")
            before = process.memory_info().rss
            for round_ in range(ROUNDS):
                if round_ == 1:  # the allocator has its high-water mark: nothing more stays
                    settled = process.memory_info().rss
                stalled = [await Stalled.open(server.port, f"/{share.code}") for _ in range(30)]
                await asyncio.gather(*(flooder(url, n) for n in range(50)))
                for _ in range(30):
                    _ = [await _closed_with(url, "\x00garbage" * 400) for _ in range(3)]
                for n in range(300):  # the stalled ones back up and are dropped
                    move(share, n % STEPS)
                    if n % 20 == 0:
                        await asyncio.sleep(0.01)
                for one in stalled:
                    one.writer.close()
                await until(lambda: share.count == 1, "only the good student left")
            after = process.memory_info().rss
            grown, kept = after - before, after - settled
            assert len(share.poll.members) <= 52  # 50 flooders (the same keys twice) and Ada
            assert not share.poll.answers or len(share.poll.answers[(LESSON[0], ASKING)]) <= 51
            assert grown < 40 * 1024 * 1024, f"the teacher grew by {grown / 1e6:.0f} MB"
            assert kept < 8 * 1024 * 1024, f"{kept / 1e6:.0f} MB more after the first round"
            await until(lambda: good.moments[-1] == share.position, "the good one in step")
            seqs = [m.seq for m in good.moments]
            assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
            await good.stop()
        finally:
            await server.shutdown()

    run(scenario(), timeout=120)


def test_students_are_told_a_reachable_address_never_a_wildcard() -> None:
    from simulator.live.addresses import join_hosts
    from simulator.live.classroom import follow_url

    assert join_hosts("127.0.0.1") == ["127.0.0.1"]
    assert join_hosts("192.168.1.20") == ["192.168.1.20"]
    for wildcard in ("0.0.0.0", "::"):
        hosts = join_hosts(wildcard)
        assert hosts and "0.0.0.0" not in hosts and "::" not in hosts
        assert all(not h.startswith("127.") or hosts == ["127.0.0.1"] for h in hosts)
    # What the bar shows works typed as it is, or with either scheme.
    for typed in ("192.168.1.20:8766/k7q2", "http://192.168.1.20:8766/k7q2",
                  "ws://192.168.1.20:8766/k7q2", " 192.168.1.20:8766/k7q2 "):  # fmt: skip
        assert follow_url(typed) == "ws://192.168.1.20:8766/k7q2"


def test_a_browser_that_reads_slowly_gets_the_latest_view_and_stays() -> None:
    """A browser gets a `view` (up to 32 KiB) at every moment. One that reads slowly
    must not be sent a queue of them and dropped with 1013 for it: while its buffer
    holds more than VIEW_BACKLOG it is skipped, and it gets the latest once it caught up."""
    from simulator.live.classroom import SHARE_BUFFER_LIMIT
    from tests.live.support import Stalled
    from tests.must_cases import masked

    async def scenario() -> None:
        share = Share()
        share.viewer = lambda position: {"step": position.step, "pad": "x" * 20_000}
        server = share_server(share, port=0)
        await server.start()
        try:
            move(share, 0)
            slow = await Stalled.open(server.port, f"/{share.code}")
            join = json.dumps({"type": "join", "key": "b" * 16, "view": True})
            slow.writer.write(masked(0x1, join.encode()))
            await until(lambda: any(seat.view for seat in share.seats.values()), "the join")
            session = slow.session_in(share.followers.values())
            peak = 0
            for n in range(60):
                move(share, n % STEPS)
                assert session.transport is not None
                peak = max(peak, session.transport.get_write_buffer_size())
                await asyncio.sleep(0.01)
            assert not session.dropped and peak < SHARE_BUFFER_LIMIT
            last = share.position
            assert last is not None
            reader = asyncio.ensure_future(slow.drain())
            await asyncio.sleep(1.0)  # reading at last: the latest view follows
            await server.shutdown()
            frames = await reader
            views = [
                json.loads(f.payload) for f in frames if f.payload.startswith(b'{"type":"view"')
            ]
            assert views and views[-1]["seq"] == last.seq and views[-1]["step"] == last.step
            assert len(views) < 30  # not one per moment
        finally:
            await server.shutdown()

    run(scenario(), timeout=60)
