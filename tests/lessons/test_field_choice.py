"""A field checkpoint can name one HTTP header field and one WebSocket frame of a
packet, not only "the first field of that name"."""

from __future__ import annotations

import pytest

from simulator.lessons.checkpoints import ask, check_definition
from simulator.lessons.model import Checkpoint
from tests.tui.course_support import view_of


def checkpoint(**params: object) -> Checkpoint:
    return Checkpoint(line=1, kind="field-value", question="?", params=dict(params))


def last_step(lesson_id: str) -> int:
    return len(view_of(lesson_id).lesson.steps) - 1


def with_header(name: str) -> tuple[int, str]:
    """The first packet of the http lesson with HTTP header field `name`: (its capture
    index, the field's value)."""
    run = view_of("http").run
    for index in range(run.upto(last_step("http"))):
        for _, found in run.dissect(index).walk():
            if found.name == "http.header" and found.label == name:
                return index, str(found.value)
    raise AssertionError(f"no packet of the http lesson has {name}")


def test_a_header_is_named() -> None:
    run = view_of("http").run
    step = last_step("http")
    response, _ = with_header("Content-Type")
    packet = f"#{response + 1}"
    first = ask(checkpoint(field="http.header", packet=packet), run, step)
    typed = ask(checkpoint(field="http.header", packet=packet, header="content-type"), run, step)
    assert "text/html" in typed.expected and "text/html" not in first.expected
    assert typed.judge("text/html; charset=utf-8") and not first.judge("text/html; charset=utf-8")
    with pytest.raises(LookupError, match="no such HTTP header"):
        ask(checkpoint(field="http.header", packet=packet, header="X-Nothing"), run, step)


def test_a_frame_is_named() -> None:
    run = view_of("fragmentation-and-control").run
    step = last_step("fragmentation-and-control")
    both = next(
        i for i in range(run.upto(step))
        if sum(top.name == "ws" for top in run.dissect(i).fields) >= 2
    )  # fmt: skip
    packet = f"#{both + 1}"
    frames = [top for top in run.dissect(both).fields if top.name == "ws"]
    opcodes = [next(f.value for _, f in top.walk() if f.name == "ws.opcode") for top in frames]
    assert opcodes[0] != opcodes[1]
    for number, opcode in enumerate(opcodes, 1):
        question = ask(checkpoint(field="ws.opcode", packet=packet, frame=number), run, step)
        assert question.judge(str(opcode)), number
    with pytest.raises(LookupError, match="WebSocket frames"):
        ask(checkpoint(field="ws.opcode", packet=packet, frame=len(frames) + 1), run, step)


def test_bad_settings_are_named() -> None:
    assert check_definition(checkpoint(field="ws.opcode", frame=0))
    assert check_definition(checkpoint(field="ws.opcode", frame="2"))
    assert check_definition(checkpoint(field="http.header", header=3))
    assert not check_definition(checkpoint(field="http.header", header="Host", frame=1))


def test_a_header_holding_a_number_is_judged_as_one() -> None:
    run = view_of("http").run
    step = last_step("http")
    response, length = with_header("Content-Length")
    question = ask(
        checkpoint(field="http.header", packet=f"#{response + 1}", header="Content-Length"),
        run, step,
    )  # fmt: skip
    for typed in (str(length), f"{length} bytes", f"Content-Length: {length}"):
        assert question.judge(typed), typed
    assert not question.judge(str(int(length) + 1))
