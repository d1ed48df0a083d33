"""Lesson files: the course checks clean; broken files are reported with file and line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from simulator.lessons import LessonError, check_folder, load_course, parse_lesson
from simulator.lessons.checkpoints import ask
from simulator.lessons.run import LessonRun
from simulator.resources import lessons_dir
from simulator.ws.handshake import accept_key
from tests.live.support import BIN

BROKEN = Path(__file__).parent / "fixtures" / "broken"


def test_the_course_checks_clean() -> None:
    count, problems = check_folder(lessons_dir())
    assert count >= 1
    assert problems == [], "\n".join(map(str, problems))


def test_wirelab_lessons_check_runs_and_reports_file_and_line() -> None:
    done = subprocess.run(
        [str(BIN / "wirelab"), "lessons", "check", str(lessons_dir())],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no problems" in done.stderr
    bad = subprocess.run(
        [str(BIN / "wirelab"), "lessons", "check", str(BROKEN)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    assert (
        f"{BROKEN / 'unknown-action.md'}:13: unknown action 'sned_text' (did you mean send_text?)"
        in bad.stdout
    )


def test_a_diagram_too_wide_for_the_narrowest_layout_is_a_warning(tmp_path: Path) -> None:
    """Preformatted blocks are never re-wrapped: lessons check says which one would need
    sideways scrolling at 80 columns, with its line, and the lesson still checks."""
    wide = "+" + "-" * 90 + "+"
    narrow = "+" + "-" * 60 + "+"
    (tmp_path / "w.md").write_text(
        '+++\nid = "w"\ntitle = "W"\nobjectives = ["o"]\n+++\n\nIntro.\n\n## One\n\n'
        f"```\n{narrow}\n```\n\nText.\n\n```text\n{narrow}\n{wide}\n{wide}\n```\n"
    )
    count, problems = check_folder(tmp_path, run=False)
    assert count == 1
    [warning] = problems
    assert warning.warning and warning.line == 19
    assert "92 characters" in warning.message and "80 columns" in str(warning)
    done = subprocess.run(
        [str(BIN / "wirelab"), "lessons", "check", "--no-run", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "w.md:19: warning:" in done.stdout and "1 warning" in done.stderr


def problems_of(name: str) -> list[str]:
    _, problems = check_folder(BROKEN)
    return [f"{p.line}: {p.message}" for p in problems if p.path.name == name]


def test_broken_fixtures_name_their_lines() -> None:
    assert problems_of("unknown-action.md") == [
        "13: unknown action 'sned_text' (did you mean send_text?)"
    ]
    (field,) = problems_of("bad-field.md")
    assert field.startswith("15: packet 1 (") and "has no field 'tcp.flags.syno'" in field
    (quiz,) = problems_of("bad-quiz.md")
    assert quiz.startswith("10: answer = 3: the number (from 1) of the right choice, at most 2")
    references = problems_of("bad-reference.md")
    assert "2: prerequisite 'no-such-lesson' is no lesson's id" in references
    assert "10: no router or host named 'r9'" in references
    assert any(r.startswith("21: at = 'nowhere': no such link") for r in references)
    toml = problems_of("bad-toml.md")
    assert len(toml) == 1 and toml[0].startswith("3: front matter:")
    packet = problems_of("bad-packet.md")
    assert any(p.startswith("15: packet 9: this step has 3 packets") for p in packet) or any(
        p.startswith("22: ") for p in packet
    )


def test_a_run_error_names_the_action_line() -> None:
    with pytest.raises(LessonError) as caught:
        LessonRun(parse_lesson(BROKEN / "bad-packet.md"))
    (problem,) = caught.value.problems
    assert problem.line == 22 and "sideways" in problem.message


def test_broken_lessons_do_not_stop_the_others(tmp_path: Path) -> None:
    good = lessons_dir() / "03-tcp-handshake.md"
    (tmp_path / good.name).write_text(
        good.read_text().replace('id = "tcp-handshake"', 'id = "mine"')
    )
    (tmp_path / "bad.md").write_text((BROKEN / "bad-toml.md").read_text())
    course = load_course([tmp_path], builtin=False, user=False)
    assert [lesson.id for lesson in course.lessons] == ["mine"]
    ((path, problems),) = course.broken
    assert path.name == "bad.md" and problems[0].line == 3


def test_checkpoints_are_computed_by_the_real_code() -> None:
    lesson = parse_lesson(lessons_dir() / "03-tcp-handshake.md")
    run = LessonRun(lesson)
    # The SYN-ACK's acknowledgement number, asked before it is sent: the real one.
    index = next(
        i for i, step in enumerate(lesson.steps)
        if step.checkpoint is not None and step.checkpoint.params.get("field") == "tcp.ack"
    )  # fmt: skip
    question = ask(lesson.steps[index].checkpoint, run, index)  # type: ignore[arg-type]
    syn_ack = next(
        d for d in map(run.dissect, range(len(run.capture()[0])))
        if d.find("tcp.flags.syn") and d.find("tcp.flags.ack")
        and d.find("tcp.flags.syn").value and d.find("tcp.flags.ack").value  # type: ignore[union-attr]
    )  # fmt: skip
    expected = syn_ack.find("tcp.ack")
    assert expected is not None and question.expected.startswith(str(expected.value))
    assert isinstance(expected.value, int)
    assert question.judge(str(expected.value)) and not question.judge(str(int(expected.value) - 1))
    # accept-key: a fresh key each time, judged by the handshake code.
    from simulator.lessons.model import Checkpoint

    accept = Checkpoint(line=1, kind="accept-key", question="?")
    q = ask(accept, run, 0, rng=lambda n: bytes(range(n)))
    assert q.given == "AAECAwQFBgcICQoLDA0ODw=="
    assert q.judge(accept_key(q.given)) and not q.judge("wrong")
    header = Checkpoint(
        line=1, kind="header-bytes", question="?", params={"payload": 300, "masked": True}
    )
    assert ask(header, run, 0).expected == "8"  # 2 + 2 (16-bit length) + 4 (masking key)


def test_where_a_field_begins_is_its_first_byte_only() -> None:
    """Every field-byte checkpoint of the course accepts the field's first byte and no
    other byte of the field (nor the bytes around it)."""
    seen = 0
    for lesson in load_course(user=False).lessons:
        run = LessonRun(lesson)
        for index, step in enumerate(lesson.steps):
            if step.checkpoint is None or step.checkpoint.kind != "field-byte":
                continue
            question = ask(step.checkpoint, run, index)
            _, found = run.field(
                index, step.checkpoint.params.get("packet"), str(step.checkpoint.params["field"])
            )
            where = f"{lesson.id} step {index + 1}"
            assert question.judge(str(found.start)), where
            assert question.judge(f"byte {found.start}"), where
            for wrong in {found.start - 1, found.start + 1, found.end - 1, found.end} - {
                found.start
            }:
                assert not question.judge(str(wrong)), f"{where}: {wrong} accepted"
            seen += 1
    assert seen >= 2, "the course has no field-byte checkpoint: the test checks nothing"


def test_numbers_are_judged_in_the_units_the_program_shows() -> None:
    from simulator.lessons.model import Checkpoint

    lesson = parse_lesson(lessons_dir() / "03-tcp-handshake.md")
    run = LessonRun(lesson)
    number = ask(Checkpoint(line=1, kind="number", question="?", answer="116"), run, 0)
    for typed in ("116", " 116 ", "116 bytes", "116 B", "Content-Length: 116", "0x74", "byte 116"):
        assert number.judge(typed), typed
    for typed in ("117", "116 117", "Content-Length: 11", "one hundred", "", "116x"):
        assert not number.judge(typed), typed


def test_lessons_check_warns_about_a_checkpoint_too_tall_for_80_by_24(tmp_path: Path) -> None:
    """Its box would scroll on the narrowest screen, after an answer if not before."""
    text = """+++
id = "tall"
title = "Tall"
objectives = ["Read"]
+++

## One

Words.

```check
kind = "choice"
question = "Which?"
choices = ["a", "b"]
answer = 1
explanation = "{explanation}"
```
"""
    path = tmp_path / "tall.md"
    path.write_text(text.format(explanation="Short."), encoding="utf-8")
    assert LessonRun(parse_lesson(path)).check() == []
    path.write_text(text.format(explanation="word " * 200), encoding="utf-8")
    (warning,) = LessonRun(parse_lesson(path)).check()
    assert warning.warning and warning.line == 11
    assert "rows at 80×24" in warning.message and "there it scrolls" in warning.message
