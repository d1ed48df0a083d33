"""Checkpoint kinds: what each asks, and how its right answer is computed.

Where a computation is possible the answer is not written in the lesson: the
real code works it out when the question is asked.

| kind | params | the learner gives | checked against |
| --- | --- | --- | --- |
| choice | choices, answer (1-based) | a choice number | the lesson's answer |
| accept-key | packet | Sec-WebSocket-Accept for a fresh key (or packet N's) | `accept_key` |
| header-bytes | payload, masked | the frame header's length | `ws.frames.encode_header` |
| field-value | field, packet, header, frame | the field's value | the packet's dissection |
| field-byte | field, packet, header, frame | where the field begins | its first byte |
| route-row | router, destination | the routing-table row that matches | the router's lookup |
| number | answer | a whole number | the lesson's answer (when nothing can compute it) |
| fix | answer (a fix that works) | an action repairing a lab | the lab run again with it |

`packet` picks a packet as in a ```show block (default: the step's last). The
field is the first of its name in that packet; `header = "Content-Length"`
picks it in that HTTP header field, `frame = 2` in the packet's second
WebSocket frame.

`predict = true` makes any kind a prediction: the step shows the trace up to
its own packets, the learner commits to an answer, then the step's packets
appear and the answer is judged against what they carry (right: why; wrong:
what happened instead, and why). `lessons check` refuses a prediction whose
answer is already on screen when it is asked: a packet from an earlier step,
or the step's own text saying it.

A `fix` checkpoint belongs to a troubleshooting lab: the learner types an
action (`route r2 10.0.3.0/24 via=10.0.2.2`, `resume_reading server`), the lab
is run again from the start with that action done first, on the broken
network, and the answer is right when, up to the checkpoint's step, no packet
matches the lab's symptom and one matches what healthy looks like. What the
run showed is said either way.

Until a checkpoint is answered (or, in a classroom, revealed), nothing on the
screen may give its answer away. What it asks says what to hold back
(`Withheld`): the asked field's value (in the field tree, the hex pane, the
ladder's labels, the explanation bar), where a field lies (field-byte), a
router's verdict (route-row), the window numbers (when a TCP window is asked).
Every view reads the same `Withheld`; none is patched per lesson.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.lessons.actions import parse_action
from simulator.ws.frames import Opcode, encode_header
from simulator.ws.handshake import accept_key

if TYPE_CHECKING:
    from simulator.dissect.fields import Dissection
    from simulator.lessons.model import Checkpoint
    from simulator.lessons.run import LessonRun

KINDS = (
    "choice", "accept-key", "header-bytes", "field-value", "field-byte", "route-row", "number",
    "fix",
)  # fmt: skip

#: What a learner may type to repair a lab: actions that change how the network is set
#: up, not ones that send something.
FIX_ACTIONS = ("route", "unroute", "receive_buffer", "read_rate", "resume_reading")


def check_definition(checkpoint: Checkpoint) -> list[str]:
    """What is wrong with a checkpoint as written (before anything runs)."""
    kind, params, problems = checkpoint.kind, checkpoint.params, []
    if kind == "choice":
        if len(checkpoint.choices) < 2:
            problems.append("a choice checkpoint needs at least two choices")
        answer = checkpoint.answer
        if not isinstance(answer, int) or not 1 <= answer <= len(checkpoint.choices):
            problems.append(
                f"answer = {answer!r}: the number (from 1) of the right choice, "
                f"at most {len(checkpoint.choices)}"
            )
    elif kind == "number":
        if not isinstance(checkpoint.answer, int):
            problems.append(f"answer = {checkpoint.answer!r}: a whole number")
    elif kind == "fix":
        problems += _fix_problems(checkpoint.answer)
    elif checkpoint.answer is not None:
        problems.append(f"a {kind} checkpoint computes its answer: remove answer =")
    if kind == "header-bytes":
        payload = params.get("payload")
        if not isinstance(payload, int) or payload < 0:
            problems.append("header-bytes needs payload = a number of bytes")
        if not isinstance(params.get("masked", False), bool):
            problems.append("masked = true or false")
    if kind in ("field-value", "field-byte") and not isinstance(params.get("field"), str):
        problems.append(f'{kind} needs field = a field name such as "tcp.ack"')
    if "at" in params and not isinstance(params["at"], str):
        problems.append('at = a link\'s name, such as "r3-server"')
    if "header" in params and not isinstance(params["header"], str):
        problems.append('header = an HTTP header field\'s name, such as "Content-Length"')
    frame = params.get("frame")
    if "frame" in params and (not isinstance(frame, int) or isinstance(frame, bool) or frame < 1):
        problems.append("frame = which WebSocket frame of the packet, from 1")
    if kind == "route-row":
        if not isinstance(params.get("router"), str):
            problems.append('route-row needs router = a router\'s name such as "r1"')
        try:
            ipaddress.IPv4Address(str(params.get("destination")))
        except ValueError:
            problems.append("route-row needs destination = an IPv4 address")
    allowed = {
        "header-bytes": {"payload", "masked"},
        "field-value": {"field", "packet", "header", "frame", "at"},
        "field-byte": {"field", "packet", "header", "frame", "at"},
        "route-row": {"router", "destination"},
        "accept-key": {"packet"},
    }.get(kind, set())
    for key in params:
        if key not in allowed:
            problems.append(f"{kind}: unknown setting {key!r}")
    return problems


def _fix_problems(answer: object) -> list[str]:
    if not isinstance(answer, str):
        return [f'answer = one action that repairs the lab, e.g. "{FIX_ACTIONS[-1]} server"']
    try:
        name, _, _ = parse_action(answer)
    except ValueError as error:
        return [f"answer = {answer!r}: {error}"]
    if name not in FIX_ACTIONS:
        return [f"answer = {answer!r}: a fix is one of {', '.join(FIX_ACTIONS)}"]
    return []


@dataclass(frozen=True)
class Withheld:
    """What an unanswered checkpoint keeps off the screen, derived from what it asks."""

    packet: int | None = None  # the capture index of the packet asked about
    at: str | None = None  # the link whose capture `packet` counts in (None: the client's)
    field: str | None = None  # the field asked about, in that packet
    span: tuple[int, int, int] | None = None  # (buffer, start, end): the field's bytes
    words: tuple[str, ...] = ()  # the answer as a label or a tree line would print it
    place: bool = False  # field-byte: where the field lies is the answer
    router: str | None = None  # route-row: the verdict of this router's table
    window: bool = False  # a TCP window is asked: window sizes are held back
    anywhere: tuple[str, ...] = ()  # computed answers hidden in every line of every packet

    def __bool__(self) -> bool:
        return self != NOTHING

    def hides_value(self, packet: int | None, name: str) -> bool:
        """Whether field `name` of capture packet `packet` must be shown without its value."""
        return not self.place and self.field == name and self.packet == packet


NOTHING = Withheld()


@dataclass(frozen=True)
class Question:
    """A checkpoint made concrete: the text to show and how to judge an answer."""

    text: str
    expected: str  # shown when the teacher reveals it, or after a right answer
    judge: Callable[[str], bool]
    given: str = ""  # what the question hands the learner (a fresh key)
    answer: str = ""  # one answer `judge` accepts, as a learner would type it
    withheld: Withheld = NOTHING  # what the screen holds back until it is answered
    # What an answer did, said after the verdict (a lab's fix: what the run showed).
    describe: Callable[[str], str] | None = None


# A number as the program itself shows it: "60", "0x3c", "60 bytes", "byte 21", "row 2",
# "#47", "Content-Length: 116", "Time to live: 63". A label before it, a unit after.
_NUMBER = re.compile(
    r"(?:[a-z][a-z0-9 -]{0,40}:\s*|(?:bytes?|row|packet|offset)\s+|\#)?"
    r"(?P<number>0x[0-9a-f]+|0b[01]+|0o[0-7]+|[0-9][0-9,_]*)"
    r"(?:\s*(?:bytes?|b|octets?))?\.?"
)


def _integer(text: str) -> int | None:
    """The number in an answer, or None when the answer is not one number."""
    found = _NUMBER.fullmatch(text.strip().lower())
    if found is None:
        return None
    digits = found["number"].replace(",", "").replace("_", "")
    try:
        return int(digits, 0) if digits.startswith(("0x", "0b", "0o")) else int(digits)
    except ValueError:
        return None


def ask(
    checkpoint: Checkpoint, run: LessonRun, step: int, rng: Callable[[int], bytes] = os.urandom
) -> Question:
    """Make `checkpoint` (of step `step`) concrete, computing its answer from the run."""
    kind, params = checkpoint.kind, checkpoint.params
    if kind == "choice":
        right = int(checkpoint.answer)
        lines = [checkpoint.question, *(f"{i}. {c}" for i, c in enumerate(checkpoint.choices, 1))]
        return Question(
            "\n".join(lines),
            f"{right}. {checkpoint.choices[right - 1]}",
            lambda text: _integer(text) == right,
            answer=str(right),
        )
    if kind == "number":
        right = int(checkpoint.answer)
        return Question(
            checkpoint.question, str(right), lambda text: _integer(text) == right, answer=str(right)
        )
    if kind == "accept-key":
        if "packet" in params:  # the key a request on the wire carries
            _, found = run.field(
                step, params["packet"], "http.header.value", header="Sec-WebSocket-Key"
            )
            key, text = str(found.value).strip(), checkpoint.question
        else:  # a fresh key, so the answer cannot be looked up
            key = base64.b64encode(rng(16)).decode("ascii")
            text = f"{checkpoint.question}\nSec-WebSocket-Key: {key}"
        accept = accept_key(key)
        # The dissector works the right value out beside a key ("expected answer: …").
        withheld = Withheld(anywhere=(accept,)) if "packet" in params else NOTHING
        return Question(
            text, accept, lambda answer: answer.strip() == accept, given=key, answer=accept,
            withheld=withheld,
        )  # fmt: skip
    if kind == "header-bytes":
        masked = bool(params.get("masked", False))
        length = len(
            encode_header(
                Opcode.BINARY, int(params["payload"]), masking_key=b"\0" * 4 if masked else None
            )
        )
        return Question(
            checkpoint.question, str(length), lambda text: _integer(text) == length,
            answer=str(length),
        )  # fmt: skip
    if kind in ("field-value", "field-byte"):
        # The link the step shows, unless the checkpoint names one (the same: see check()).
        pointer = run.lesson.steps[step].pointer
        at = params.get("at", pointer.at if pointer is not None else None)
        _, found = run.field(
            step, params.get("packet"), str(params["field"]), at,
            header=params.get("header"), frame=params.get("frame"),
        )  # fmt: skip
        packet = run.select(step, params.get("packet"), at)
        span = (found.buffer, found.start, found.end)
        if kind == "field-value":
            value = found.value
            shown = found.display or str(value)

            def same(text: str) -> bool:
                text = text.strip()
                if isinstance(value, bool):
                    return text.lower() in (
                        ("1", "set", "true", "yes") if value else ("0", "not set", "false", "no")
                    )
                if isinstance(value, int):
                    return _integer(text) == value
                if isinstance(value, str) and value.strip().isdigit():  # a header's number
                    return _integer(text) == int(value)
                if isinstance(value, bytes):
                    return text.replace(" ", "").replace(":", "").lower() == value.hex()
                return text.lower() == str(value).lower()

            if isinstance(value, bool):
                typed = "set" if value else "not set"
            elif isinstance(value, bytes):
                typed = value.hex()
            else:
                typed = str(value)
            withheld = Withheld(
                packet, at, found.name, span, _words(value, shown),
                window=found.name == "tcp.window",
            )  # fmt: skip
            return Question(checkpoint.question, shown, same, answer=typed, withheld=withheld)
        start, end = found.start, found.end
        # Where a field begins is its first byte: a byte inside it is not where it begins.
        return Question(
            checkpoint.question,
            f"byte {start}"
            if end - start == 1
            else f"byte {start} (it holds bytes {start}–{end - 1})",
            lambda text: _integer(text) == start,
            answer=str(start),
            withheld=Withheld(packet, at, found.name, span, place=True),
        )
    if kind == "route-row":
        decision = run.lookup(step, str(params["router"]), str(params["destination"]))
        if decision.row is None:
            expected, row = "none: no row matches", None
        else:
            row = decision.row + 1
            expected = f"row {row}: {decision.route}"
        return Question(
            checkpoint.question,
            expected,
            lambda text: (
                (_integer(text) == row)
                if row is not None
                else text.strip().lower() in ("0", "none")
            ),
            answer=str(row) if row is not None else "none",
            withheld=Withheld(router=str(params["router"])),
        )
    if kind == "fix":
        return _fix_question(checkpoint, run, step)
    raise ValueError(f"unknown checkpoint kind {kind!r}")


def _fix_question(checkpoint: Checkpoint, run: LessonRun, step: int) -> Question:
    if run.lesson.lab is None:
        raise ValueError("a fix checkpoint belongs in a lab: the lesson has no [lab] table")
    outcomes: dict[str, tuple[bool, str]] = {}

    def outcome(text: str) -> tuple[bool, str]:
        text = " ".join(text.split())[:200]
        if text not in outcomes:
            if len(outcomes) > 64:
                outcomes.clear()
            outcomes[text] = _try_fix(run, step, text)
        return outcomes[text]

    answer = str(checkpoint.answer)
    return Question(
        checkpoint.question,
        f"`{answer}`",
        lambda text: outcome(text)[0],
        answer=answer,
        describe=lambda text: outcome(text)[1],
    )


def _try_fix(run: LessonRun, step: int, text: str) -> tuple[bool, str]:
    """Run the lab again with fix `text` done first: whether it repaired it, and what
    the run showed up to step `step` (the steps the fault showed in; later ones may
    repair it themselves)."""
    from simulator.errors import WirelabError
    from simulator.lessons.model import LessonError
    from simulator.lessons.run import LessonRun

    lab = run.lesson.lab
    assert lab is not None
    try:
        name, _, _ = parse_action(text)
    except ValueError as error:
        return False, f"That is not an action: {str(error).rstrip('.')}."
    if name not in FIX_ACTIONS:
        return False, f"A fix here is one of: {', '.join(FIX_ACTIONS)}."
    try:
        again = LessonRun(run.lesson, fix=text)
    except LessonError as error:
        return False, f"Ran the lab again after `{text}`: {error.problems[0].message.rstrip('.')}."
    except (WirelabError, ValueError, TypeError, LookupError) as error:
        return False, f"`{text}` cannot be done: {str(error).rstrip('.')}."
    upto = again.upto(step)
    seen = again.matching(lab.symptom, upto=upto)
    if seen:
        summary = again.dissect(seen[0]).summary
        return False, f"Ran the lab again after `{text}`: packet {seen[0] + 1} is still {summary}."
    working = again.matching(lab.healthy, upto=upto) if lab.healthy is not None else []
    if lab.healthy is not None and not working:
        client = again.scenario.client_host.address
        # Sent by another host: the packet's own source, not one an ICMP error quotes.
        answers = [i for i in again.matching("ip", upto=upto)
                   if _sender(again.dissect(i)) != client]  # fmt: skip
        came = (
            f" The last answer, packet {answers[-1] + 1}, is {again.dissect(answers[-1]).summary}."
            if answers
            else " Nothing came back."
        )
        return False, (
            f"Ran the lab again after `{text}`: no packet shows it working (`{lab.healthy}`).{came}"
        )
    where = f" Packet {working[0] + 1}: {again.dissect(working[0]).summary}." if working else ""
    return True, f"Ran the lab again after `{text}`: it works.{where}"


def _words(value: object, shown: str) -> tuple[str, ...]:
    """How a field's value appears in labels: "2567509648", "101", "0x0", "10.0.1.2".

    A true/false value has no word of its own to look for ("set" is everywhere).
    """
    if isinstance(value, bool) or value is None:
        return ()
    words = {value.hex() if isinstance(value, bytes) else str(value)}
    first = shown.split(" ", 1)[0]
    if first and first not in ("set", "not"):
        words.add(first)
    return tuple(sorted(word for word in words if word))


__all__ = ["FIX_ACTIONS", "KINDS", "NOTHING", "Question", "Withheld", "ask", "check_definition"]


def _sender(dissection: Dissection) -> str | None:
    """The source address of the packet itself (the first `ip.src`: an ICMP error's quoted
    packet has one too, further in)."""
    found = dissection.find("ip.src")
    return None if found is None else str(found.value)
