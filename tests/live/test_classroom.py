"""Classroom follow over wirelab's own server: 200 followers, a slow one, reconnects."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import pytest

from simulator.live.classroom import (
    ClassroomError,
    Follower,
    Position,
    Share,
    class_url,
    decode,
    encode,
    share_server,
)
from simulator.live.server import Server
from simulator.ws import CloseCode
from tests.live.support import STEP, Stalled, close_of, run

LESSON = ("tcp-handshake", "0123456789abcdef", "The TCP handshake")


class Student:
    """A follower's core with what it saw."""

    def __init__(self, url: str) -> None:
        self.seen: list[tuple[str, Position]] = []
        self.arrived: dict[int, float] = {}  # seq → when it arrived
        self.statuses: list[str] = []
        self.follower = Follower(url, self._position, self.statuses.append, delays=(0.05, 0.1, 0.2))
        self.task = asyncio.ensure_future(self.follower.run())

    def _position(self, kind: str, position: Position) -> None:
        self.seen.append((kind, position))
        self.arrived[position.seq] = time.perf_counter()

    @property
    def steps(self) -> list[int]:
        return [position.seq for kind, position in self.seen if kind == "moment"]

    async def stop(self) -> None:
        self.follower.stop()
        await asyncio.wait_for(self.task, STEP)


def url_of(server: Server, share: Share) -> str:
    return "ws://" + class_url(server, share)


async def until(condition: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# --- the protocol ---------------------------------------------------------------------------


def test_messages_round_trip_and_bad_ones_are_refused() -> None:
    position = Position(*LESSON, step=3, steps=12, seq=7)
    assert decode(encode("hello", position)) == ("hello", position)
    assert decode(encode("moment", position)) == ("moment", position)
    playing = Position(*LESSON, step=3, steps=12, seq=8, shown=2, playing=True, picked=9,
                       revealed=(1, 3))  # fmt: skip
    assert decode(encode("moment", playing)) == ("moment", playing)
    hello = json.loads(encode("hello", position))
    for bad, why in [
        ("nope", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"type": "rm -rf"}', "unknown message type"),
        (json.dumps({**hello, "version": 1}), "same wirelab version"),
        (json.dumps({**hello, "step": "3"}), "'step' is not a whole number"),
        (json.dumps({**hello, "step": -1}), "'step' is not a whole number"),
        (json.dumps({**hello, "step": True}), "'step' is not a whole number"),
        (json.dumps({**hello, "step": 12}), "past the lesson's last"),
        (json.dumps({**hello, "steps": 10**9}), "'steps' is not a whole number"),
        (json.dumps({**hello, "lesson": None}), "'lesson' is not a string"),
        (json.dumps({**hello, "title": "x" * 500}), "'title' is not a string"),
        (json.dumps({**hello, "playing": 1}), "'playing' is not true or false"),
        (json.dumps({**hello, "revealed": [12]}), "'revealed' is not a list"),
        (json.dumps({**hello, "revealed": list(range(13))}), "'revealed' is not a list"),
        ("[" * 100_000, "not JSON"),
    ]:
        with pytest.raises(ClassroomError, match=why):
            decode(bad)


# --- a full classroom -----------------------------------------------------------------------


def test_two_hundred_followers_get_every_step_in_order() -> None:
    followers, moves = 200, 30
    counts: list[int] = []

    async def scenario() -> list[float]:
        share = Share()
        share.on_change = lambda: counts.append(share.count)
        server = share_server(share, port=0)
        await server.start()
        url = url_of(server, share)
        try:
            share.move(*LESSON, step=0, steps=moves + 1)
            students = [Student(url) for _ in range(followers)]
            await until(lambda: share.count == followers, "200 followers")
            await until(lambda: all(s.seen for s in students), "every hello")
            assert {s.seen[0] for s in students} == {("hello", share.position)}
            reach = []
            for n in range(1, moves + 1):
                started = time.perf_counter()
                share.move(*LESSON, step=n, steps=moves + 1)
                seq = share.position.seq  # type: ignore[union-attr]
                await until(lambda seq=seq: all(s.seen[-1][1].seq == seq for s in students),
                            f"move {n}")  # fmt: skip
                reach.append(max(s.arrived[seq] for s in students) - started)
            expected = list(range(2, moves + 2))
            for student in students:
                assert student.steps == expected  # every step, once, in order
                assert [p.step for _, p in student.seen] == list(range(moves + 1))
            for student in students[:50]:
                await student.stop()
            await until(lambda: share.count == followers - 50, "50 leave")
            for student in students[50:]:
                await student.stop()
            await until(lambda: share.count == 0, "all leave")
            return reach
        finally:
            await server.shutdown()

    reach = run(scenario(), timeout=90)
    assert max(counts) == followers and counts[-1] == 0
    print(f"\none step to all {followers}: median {statistics.median(reach) * 1000:.1f} ms")


def test_a_follower_that_stops_reading_is_dropped_and_resyncs() -> None:
    limit = 8 * 1024

    async def scenario() -> None:
        share = Share()
        server = share_server(share, port=0)
        server.send_buffer_limit = limit
        await server.start()
        url = url_of(server, share)
        try:
            share.move(*LESSON, step=0, steps=5)
            good = Student(url)
            stalled = await Stalled.open(server.port, f"/{share.code}")
            await until(lambda: share.count == 2, "two followers")
            slow = stalled.session_in(share.followers.values())
            peak = moves = 0
            while not slow.dropped and moves < 5000:
                moves += 1
                share.move(*LESSON, step=moves % 5, steps=5)
                if moves % 20 == 0:
                    await asyncio.sleep(0.001)
                if slow.transport is not None:
                    peak = max(peak, slow.transport.get_write_buffer_size())
            assert slow.dropped, "the slow follower was never dropped"
            assert peak <= limit + 200  # the limit plus at most one message
            # The one that reads got every move.
            await until(lambda: len(good.steps) == moves, "every move")
            assert good.steps == list(range(2, moves + 2))
            # The slow one, reading at last, finds 1013 after what fitted.
            frames = await stalled.drain()
            assert close_of(frames[-1])[0] == CloseCode.TRY_AGAIN_LATER
            # A follower dropped like that reconnects and is back in step.
            await until(lambda: share.count == 1, "the slow one gone")
            again = Student(url)
            await until(lambda: again.seen and again.seen[-1][1] == share.position, "resync")
            for student in (good, again):
                await student.stop()
        finally:
            await server.shutdown()

    run(scenario(), timeout=60)


def test_followers_reconnect_when_the_teacher_restarts() -> None:
    async def scenario() -> None:
        share = Share(code="abcd")
        server = share_server(share, port=0)
        await server.start()
        port = server.port
        share.move(*LESSON, step=1, steps=5)
        student = Student(url_of(server, share))
        await until(lambda: student.seen, "the hello")
        await server.shutdown()  # closes with 1001
        await until(
            lambda: any("the teacher ended the class" in s for s in student.statuses), "1001"
        )
        share = Share(code="abcd")  # the teacher started again with the same code
        server = share_server(share, port=port)
        await server.start()
        try:
            share.move(*LESSON, step=3, steps=5)
            await until(lambda: student.follower.connections == 2, "a reconnect", timeout=20)
            await until(lambda: student.seen[-1] == ("hello", share.position), "resync")
            await student.stop()
        finally:
            await server.shutdown()

    run(scenario(), timeout=40)
