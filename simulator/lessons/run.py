"""A lesson run: the lesson's network, every step's actions done once, up front.

The simulation is deterministic and small, so a lesson is run to its end when
it is opened; each step then knows the packets it caused and the state the
network was in after it (routing tables, both TCP endpoints). Stepping
backwards or jumping is moving a cursor — nothing is simulated again — and a
replay shows the same bytes.

Packets are what one capture point saw (the client's link unless a step's
```show names another link with `at`), numbered from 1 as in a capture file.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.filters import compile_filter
from simulator.dissect.stream_view import StreamDissector
from simulator.errors import WirelabError
from simulator.faults import parse_fault
from simulator.ip import Decision, Route, RoutingTable
from simulator.lessons.actions import parse_action, run_action
from simulator.lessons.model import (
    CHECKPOINT_ROWS,
    CHECKPOINT_TEXT,
    Checkpoint,
    Lesson,
    LessonError,
    Pointer,
    Problem,
)
from simulator.network import LinkSpec, ReadPolicy, Scenario
from simulator.network.faults import apply_fault
from simulator.network.scenario import Side
from simulator.network.topology import Forwarding
from simulator.tcp import TcpConfig
from simulator.trace.records import Trace, WireRecord
from simulator.ws import Config

if TYPE_CHECKING:
    from simulator.lessons.checkpoints import Question


@dataclass(frozen=True)
class TcpSnapshot:
    """One TCP endpoint after a step."""

    state: str
    receive_buffer: int
    readable: int  # bytes waiting for the application
    rcv_wnd: int  # the window it advertises now
    snd_wnd: int  # the window the peer last advertised
    in_flight: int
    unsent: int
    cwnd: int | None = None  # the congestion window (RFC 5681), with congestion control
    ssthresh: int | None = None  # the slow start threshold, once a loss has set it


@dataclass(frozen=True)
class StepState:
    """What one step did and what it left behind."""

    index: int
    first: int  # trace records [first, end) are this step's
    end: int
    start: float
    stop: float
    routes: dict[str, tuple[Route, ...]]
    tcp: dict[str, TcpSnapshot]  # "client" and "server", once connected
    lost: tuple[int, ...]  # trace indexes of packets lost during the step


#: A lesson's TCP unless its [network] says otherwise: an ACK may wait this long for a
#: second full segment (RFC 9293 §3.8.6.3 allows up to 0.5 s; Linux's shortest is 40 ms)
#: and slow start begins with this many segments (RFC 6928).
DELAYED_ACK = 0.04
INITIAL_WINDOW = 10

#: The most simulation events one action of a lesson may take (every lesson of the
#: course takes under a thousand in all); past it the action is a problem with its line.
MAX_EVENTS = 50_000


#: Each numeric [network] key: (default, lowest, highest, whole number). The bounds keep
#: a lesson's run small: a few links, a few clients, no link that takes forever.
NETWORK_NUMBERS: dict[str, tuple[float | None, float, float, bool]] = {
    "seed": (0, 0, 2**32 - 1, True),
    "routers": (0, 0, 16, True),
    "clients": (1, 1, 16, True),
    "port": (80, 1, 65535, True),
    "delay": (0.005, 0, 10, False),  # seconds, each link
    "bandwidth": (100e6, 1e3, 1e12, False),  # bits per second
    "loss": (0.0, 0, 0.5, False),
    "mss": (1460, 8, 65495, True),
    "receive_buffer": (65535, 1, 65535 << 14, True),
    "server_receive_buffer": (65535, 1, 65535 << 14, True),
    "server_read_rate": (None, 1, 1e10, False),  # bytes per second
    "server_read_chunk": (4096, 1, 1 << 20, True),
    "max_size": (1 << 20, 1, 1 << 30, True),
}


def _number(n: dict[str, Any], key: str) -> Any:
    """[network] `key` (taken out of `n`), checked against `NETWORK_NUMBERS`."""
    default, low, high, whole = NETWORK_NUMBERS[key]
    value = n.pop(key, default)
    if value is None and default is None:
        return None
    kind = "a whole number" if whole else "a number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (whole and not isinstance(value, int))
    ):
        raise ValueError(f"{key} = {value!r}: {kind} from {low:,g} to {high:,g}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{key} = {value!r}: {kind} from {low:,g} to {high:,g}")
    return value


def _text(n: dict[str, Any], key: str, default: str | None, limit: int = 200) -> Any:
    value = n.pop(key, default)
    if value is None and default is None:
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise ValueError(f"{key} = {value!r}: a line of text of at most {limit} characters")
    return value


def build_scenario(network: dict[str, Any]) -> Scenario:
    """The `Scenario` a lesson's [network] table describes; a `ValueError` names a key
    whose value has the wrong type or lies out of range."""
    n = dict(network)
    link = LinkSpec(
        delay=float(_number(n, "delay")),
        bandwidth=float(_number(n, "bandwidth")),
        loss=float(_number(n, "loss")),
    )
    mss = int(_number(n, "mss"))
    # TCP as real stacks send it, unless the lesson says otherwise: delayed ACKs, slow
    # start from an initial window of 10 segments, window scaling.
    delayed = n.pop("delayed_ack", DELAYED_ACK)
    if delayed is False:
        delayed = None  # every segment acknowledged at once
    elif isinstance(delayed, bool) or not isinstance(delayed, int | float) or not 0 < delayed < 0.5:
        raise ValueError(
            "delayed_ack = seconds an ACK may wait, above 0 and under 0.5 (RFC 9293 §3.8.6.3), "
            "or false to acknowledge every segment at once"
        )
    congestion = n.pop("congestion_control", True)
    if not isinstance(congestion, bool):
        raise ValueError("congestion_control = true or false (RFC 5681 slow start and more)")
    window = n.pop("initial_window", INITIAL_WINDOW if congestion else None)
    if window is not None and (type(window) is not int or not 1 <= window <= 10):
        raise ValueError("initial_window = 1 to 10 segments (RFC 6928 allows up to 10)")
    if window is not None and not congestion:
        raise ValueError("initial_window needs congestion_control = true")
    scaling = n.pop("window_scale", True)
    if not isinstance(scaling, bool):
        raise ValueError("window_scale = true or false (RFC 7323)")

    def tcp(buffer: int) -> TcpConfig:
        return TcpConfig(mss=mss, receive_buffer=buffer, delayed_ack=delayed,
                         congestion_control=congestion, initial_window=window,
                         window_scale=scaling)  # fmt: skip

    client_tcp = tcp(_number(n, "receive_buffer"))
    server_tcp = tcp(_number(n, "server_receive_buffer"))
    rate = _number(n, "server_read_rate")
    policy = ReadPolicy(rate=float(rate) if rate is not None else None,
                        chunk=_number(n, "server_read_chunk"))  # fmt: skip

    def names(key: str) -> tuple[str, ...]:
        value = n.pop(key, ())
        if (
            not isinstance(value, list | tuple)
            or len(value) > 16
            or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value)
        ):
            raise ValueError(f'{key} = a list of up to 16 names, e.g. ["chat.v2", "chat"]')
        return tuple(value)

    origins = names("origins")
    mode = n.pop("mode", "echo")
    if mode not in ("echo", "broker", "discard"):
        raise ValueError(f"mode = {mode!r}: echo, broker or discard")
    path = _text(n, "path", "/")
    if not path.startswith("/"):
        raise ValueError(f"path = {path!r}: starts with /")
    server_config = Config(
        max_size=_number(n, "max_size"), origins=origins or None,
        subprotocols=names("server_subprotocols"),
    )  # fmt: skip
    client_config = Config(subprotocols=names("subprotocols"))
    return Scenario(
        seed=_number(n, "seed"),
        routers=_number(n, "routers"),
        clients=_number(n, "clients"),
        mode=mode,
        port=_number(n, "port"),
        path=path,
        origin=_text(n, "origin", None),
        link=link,
        client_tcp=client_tcp,
        server_tcp=server_tcp,
        server_policy=policy,
        server_config=server_config,
        client_config=client_config,
    )


class LessonRun:
    """A lesson's network after every step (see the module).

    A lab runs with its fault switched on; `repaired=True` runs it without, and
    `fix` (an action, as a learner types it) is done before the first step, on
    the broken network, to see whether it repairs it.
    """

    def __init__(self, lesson: Lesson, *, repaired: bool = False, fix: str | None = None) -> None:
        self.lesson = lesson
        self.repaired = repaired
        try:
            self.scenario = build_scenario(lesson.network)
        except (WirelabError, ValueError, TypeError) as error:
            raise LessonError([Problem(lesson.path, 2, f"[network]: {error}")]) from None
        # A lesson is small: a run that goes on is a mistake in it, said with its line.
        self.scenario.network.sim.max_events = MAX_EVENTS
        lab = lesson.lab
        if lab is not None and not repaired:
            try:
                apply_fault(self.scenario, parse_fault(lab.fault))
            except (ValueError, LookupError) as error:
                raise LessonError([Problem(lesson.path, lab.line, f"[lab] {error}")]) from None
        if fix is not None:
            name, args, kwargs = parse_action(fix)
            run_action(self.scenario, name, args, dict(kwargs))
        self.steps: list[StepState] = []
        for index, step in enumerate(lesson.steps):
            first, start = len(self.trace), self.scenario.now
            lost_before = len(self.scenario.network.drops)
            for action in step.actions:
                try:
                    run_action(self.scenario, action.name, action.args, dict(action.kwargs))
                except (WirelabError, ValueError, TypeError, LookupError) as error:
                    message = f"{action.text}: {error}"
                    raise LessonError([Problem(lesson.path, action.line, message)]) from None
            drops = self.scenario.network.drops[lost_before:]
            self.steps.append(
                StepState(
                    index, first, len(self.trace), start, self.scenario.now, self._routes(),
                    self._tcp(), tuple(d.record for d in drops),
                )
            )  # fmt: skip
        self._captures: dict[str | None, tuple[Trace, list[int]]] = {}
        self.dissectors: dict[str | None, StreamDissector] = {}

    # --- the trace, as a capture point saw it -----------------------------------

    @property
    def trace(self) -> Trace:
        return self.scenario.trace

    def capture(self, at: str | None = None) -> tuple[Trace, list[int]]:
        """The capture at link `at` (default: the client's) as its own trace, renumbered,
        and for each of its records the index of that record in the whole trace."""
        if at not in self._captures:
            number = self.scenario.capture_link(at).index
            originals = [r.index for r in self.trace if r.interface == number]
            records = [self.trace[i] for i in originals]
            self._captures[at] = (Trace(records), originals)
        return self._captures[at]

    def dissector(self, at: str | None = None) -> StreamDissector:
        if at not in self.dissectors:
            self.dissectors[at] = StreamDissector(self.capture(at)[0])
        return self.dissectors[at]

    def packets(self, step: int, at: str | None = None) -> range:
        """The capture indexes (from 0) of step `step`'s packets at `at`."""
        state = self.steps[step]
        _, originals = self.capture(at)
        first = next((i for i, o in enumerate(originals) if o >= state.first), len(originals))
        end = next((i for i, o in enumerate(originals) if o >= state.end), len(originals))
        return range(first, end)

    def upto(self, step: int, at: str | None = None) -> int:
        """How many captured packets exist once step `step` is done."""
        return self.packets(step, at).stop

    def select(self, step: int, packet: int | str | None, at: str | None = None) -> int:
        """The capture index a pointer's `packet` names in step `step`: the step's n-th
        (from 1), its "last" (the default), or "#N", the capture's N-th."""
        if isinstance(packet, str) and packet.startswith("#"):
            index = int(packet[1:]) - 1
            if not 0 <= index < self.upto(step, at):
                raise LookupError(f"packet {packet}: the capture has {self.upto(step, at)} so far")
            return index
        own = self.packets(step, at)
        if not own:
            raise LookupError("this step sent no packet at this capture point to point at")
        if packet is None or packet == "last":
            return own[-1]
        assert isinstance(packet, int)
        if not 1 <= packet <= len(own):
            raise LookupError(f"packet {packet}: this step has {len(own)} packets here")
        return own[packet - 1]

    def matching(self, text: str, at: str | None = None, *, upto: int | None = None) -> list[int]:
        """The capture indexes of the packets display filter `text` matches (of the
        first `upto` packets, or all)."""
        test = compile_filter(text)
        trace, _ = self.capture(at)
        end = len(trace) if upto is None else min(upto, len(trace))
        return [i for i in range(end) if test(self.dissect(i, at))]

    def dissect(self, index: int, at: str | None = None) -> Dissection:
        trace, _ = self.capture(at)
        return self.dissector(at)(trace[index])

    def field(
        self, step: int, packet: int | str | None, name: str, at: str | None = None, *,
        header: str | None = None, frame: int | None = None,
    ) -> tuple[WireRecord, Field]:  # fmt: skip
        """Field `name` of the packet `packet` names: the first of that name, or the one in
        HTTP header field `header` (by its name, any case), or in the `frame`-th WebSocket
        frame (from 1) the packet carries."""
        index = self.select(step, packet, at)
        dissection = self.dissect(index, at)
        within: list[Field] = list(dissection.fields)
        if frame is not None:
            frames = [top for top in dissection.fields if top.name == "ws"]
            if not 1 <= frame <= len(frames):
                raise LookupError(
                    f"frame = {frame}: packet {index + 1} ({dissection.summary}) carries "
                    f"{len(frames)} WebSocket frame{'s' * (len(frames) != 1)}"
                )
            within = [frames[frame - 1]]
        if header is not None:
            heads = [
                f for top in within for _, f in top.walk()
                if f.name == "http.header" and f.label.lower() == header.lower()
            ]  # fmt: skip
            if not heads:
                raise LookupError(
                    f"header = {header!r}: packet {index + 1} ({dissection.summary}) has no "
                    f"such HTTP header field"
                )
            within = heads[:1]
        found = next((f for top in within for _, f in top.walk() if f.name == name), None)
        if found is None:
            names = sorted({f.name for _, f in dissection.walk()})
            raise LookupError(
                f"packet {index + 1} ({dissection.summary}) has no field {name!r}; "
                f"it has {', '.join(names[:40])}"
            )
        return self.capture(at)[0][index], found

    def pointed(self, step: int) -> tuple[int, Field | None] | None:
        """The capture index and field step `step` points at, if it points at a packet."""
        pointer = self.lesson.steps[step].pointer
        if pointer is None or (pointer.packet is None and pointer.field is None):
            return None
        index = self.select(step, pointer.packet, pointer.at)
        if pointer.field is None:
            return index, None
        return index, self.field(step, pointer.packet, pointer.field, pointer.at)[1]

    # --- routing and TCP state ------------------------------------------------------

    def _routes(self) -> dict[str, tuple[Route, ...]]:
        return {name: node.routes.rows for name, node in self.scenario.network.nodes.items()}

    def _tcp(self) -> dict[str, TcpSnapshot]:
        out: dict[str, TcpSnapshot] = {}
        sides: tuple[Side, ...] = ("client", "server")
        for side in sides:
            try:
                peer = self.scenario.peer(side)
            except LookupError:
                continue
            if peer.socket is None:
                continue
            e = peer.socket.endpoint
            out[side] = TcpSnapshot(
                e.state.value, e.receive_buffer, e.readable, e.rcv_wnd, e.snd_wnd, e.in_flight,
                e.unsent, e.cwnd, e.ssthresh,
            )  # fmt: skip
        return out

    def lookup(self, step: int, router: str, destination: str) -> Decision:
        """Router `router`'s decision for `destination` with its table as it was after step."""
        rows = self.steps[step].routes.get(router)
        if rows is None:
            raise LookupError(f"no router or host named {router!r}")
        return RoutingTable(rows).lookup(destination)

    def decisions(self, step: int, router: str) -> list[Forwarding]:
        """What `router` decided about the packets of step `step`."""
        state = self.steps[step]
        return [
            f for f in self.scenario.network.forwarding
            if f.router == router and state.first <= f.record < state.end
        ]  # fmt: skip

    def check(self) -> list[Problem]:
        """Resolve every pointer and checkpoint; the problems, with their lines."""
        from simulator.lessons.checkpoints import ask

        problems = []
        path = self.lesson.path
        nodes = self.scenario.network.nodes
        links = [link.name for link in self.scenario.links]
        for index, step in enumerate(self.lesson.steps):
            pointer: Pointer | None = step.pointer
            if pointer is not None:
                if pointer.at is not None and pointer.at not in links:
                    problems.append(
                        Problem(
                            path,
                            pointer.line,
                            f"at = {pointer.at!r}: no such link ({', '.join(links)})",
                        )
                    )
                    continue
                if pointer.table is not None and pointer.table not in nodes:
                    problems.append(
                        Problem(
                            path,
                            pointer.line,
                            f"table = {pointer.table!r}: no such router or host "
                            f"({', '.join(nodes)})",
                        )
                    )
                try:
                    self.pointed(index)
                except LookupError as error:
                    problems.append(Problem(path, pointer.line, str(error)))
            if step.checkpoint is not None:
                try:
                    question = ask(step.checkpoint, self, index)
                except (LookupError, ValueError) as error:
                    problems.append(Problem(path, step.checkpoint.line, str(error)))
                    continue
                problems += self._too_tall(step.checkpoint, question)
                if step.checkpoint.predict:
                    line = step.checkpoint.line
                    for message in self._unpredictable(index, question):
                        problems.append(Problem(path, line, message))
                link = pointer.at if pointer is not None else None
                asked_at = step.checkpoint.params.get("at", link)
                if asked_at != link:
                    problems.append(
                        Problem(path, step.checkpoint.line, f"at = {asked_at!r}: the step "
                                f"shows {link or 'the client link'}; ask about what it shows")
                    )  # fmt: skip
                said = question.describe
                if said is not None and not question.judge(question.answer):
                    problems.append(
                        Problem(
                            path,
                            step.checkpoint.line,
                            f"answer = {question.answer!r} does not repair the network: "
                            f"{said(question.answer)}",
                        )
                    )
        if self.lesson.lab is not None:
            problems += self._lab_problems()
        return problems

    def _too_tall(self, checkpoint: Checkpoint, question: Question) -> list[Problem]:
        """A warning when the checkpoint's box, before or after an answer, is taller than
        the narrowest screen leaves it (`CHECKPOINT_ROWS`): there it would scroll."""

        def rows(*texts: str) -> int:
            return sum(
                len(textwrap.wrap(line, CHECKPOINT_TEXT) or [""])
                for text in texts
                for line in text.splitlines()
            )

        explanation = checkpoint.explanation
        if question.describe is not None:  # a fix: what the run showed comes first
            explanation = f"{question.describe(question.answer)} {explanation}"
        right = (
            f"✗ You predicted {'x' * 20}; the packets say {question.expected}. {explanation}"
            if checkpoint.predict
            else f"✓ Right: {question.expected}. {explanation}"
        )
        wrong = f"✗ Not quite. Hint: {checkpoint.hint or 'Look at the packet the step points at.'}"
        tallest = max(
            rows(question.text) + 4,  # a prompt line, the answer box, the frame
            rows(question.text, wrong) + 3,
            rows(question.text, right) + 2,
        )
        if tallest <= CHECKPOINT_ROWS:
            return []
        message = (
            f"the checkpoint takes {tallest} rows at 80×24 (its question, choices, hint or "
            f"explanation), more than the {CHECKPOINT_ROWS} there are: there it scrolls"
        )
        return [Problem(self.lesson.path, checkpoint.line, message, warning=True)]

    def _lab_problems(self) -> list[Problem]:
        """A lab's fault must show (its symptom) and the repaired network must not."""
        lab = self.lesson.lab
        assert lab is not None
        path, problems = self.lesson.path, []
        if not self.matching(lab.symptom):
            problems.append(
                Problem(path, lab.line, f"no packet of the broken network matches the symptom "
                                        f"{lab.symptom!r}")
            )  # fmt: skip
        try:
            repaired = LessonRun(self.lesson, repaired=True)
        except LessonError as error:
            return problems + [
                Problem(p.path, p.line, f"without the fault: {p.message}") for p in error.problems
            ]
        seen = repaired.matching(lab.symptom)
        if seen:
            summary = repaired.dissect(seen[0]).summary
            problems.append(
                Problem(path, lab.line, f"without the fault, packet {seen[0] + 1} still matches "
                                        f"the symptom {lab.symptom!r}: {summary}")
            )  # fmt: skip
        if lab.healthy is not None and not repaired.matching(lab.healthy):
            problems.append(
                Problem(path, lab.line, f"without the fault, no packet matches healthy = "
                                        f"{lab.healthy!r}")
            )  # fmt: skip
        return problems

    def _unpredictable(self, index: int, question: Question) -> list[str]:
        """Why step `index`'s prediction would not be one: its answer must come from the
        step's own packets, which are not on screen when it is asked, and the step's text
        must not say it."""
        step = self.lesson.steps[index]
        at = step.pointer.at if step.pointer is not None else None
        own = self.packets(index, at)
        if not own:
            return [
                "predict = true: the step's own packets answer a prediction, and this step "
                "puts none on the wire here"
            ]
        problems = []
        asked = question.withheld.packet
        if asked is not None and asked < own.start:
            problems.append(
                f"predict = true: packet #{asked + 1}, which answers it, is on screen before "
                f"the question; point at one of the step's own packets "
                f"(#{own.start + 1}–#{own.stop})"
            )
        said = f"{step.text}\n{question.text}"
        for word in question.withheld.words:
            if len(word) >= 3 and re.search(rf"(?<![\w.]){re.escape(word)}(?!\w|\.\w)", said):
                problems.append(f"predict = true: the step's text gives the answer away ({word})")
        return problems


__all__ = ["LessonRun", "StepState", "TcpSnapshot", "build_scenario"]
