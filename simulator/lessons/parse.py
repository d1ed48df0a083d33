"""Lesson files → `Lesson` values, every problem reported with its line.

A lesson file is Markdown with TOML front matter between two `+++` lines
(the format is described for teachers in lessons/README.md):

    +++
    id = "tcp-handshake"
    title = "The TCP three-way handshake"
    order = 3
    level = "beginner"
    objectives = ["…", "…"]
    prerequisites = ["ip-routing"]
    [network]
    routers = 0
    +++

    An introduction.

    ## The client says SYN          ← each level-2 heading starts a step

    Narration in Markdown.

    ```do
    connect
    ```

    ```show
    packet = 1
    field = "tcp.flags.syn"
    ```

    ```check
    kind = "field-value"
    question = "…"
    ```

Fenced blocks tagged `do`, `show` and `check` are taken out of the narration;
any other fenced block (a diagram) stays in it.
"""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from simulator.dissect.filters import FilterError, compile_filter
from simulator.faults import parse_fault
from simulator.lessons.actions import parse_action
from simulator.lessons.checkpoints import KINDS, check_definition
from simulator.lessons.model import (
    NARROWEST_TEXT,
    Action,
    Checkpoint,
    Lab,
    Lesson,
    LessonError,
    Pointer,
    Problem,
    Step,
)

LEVELS = ("beginner", "intermediate", "advanced")
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w-]*)\s*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SCENARIO_KEYS = {
    "seed", "routers", "clients", "mode", "port", "path", "origin", "delay", "bandwidth",
    "loss", "receive_buffer", "mss", "server_receive_buffer", "server_read_rate",
    "server_read_chunk", "delayed_ack", "congestion_control", "initial_window", "window_scale",
    "max_size",
    "origins", "subprotocols", "server_subprotocols",
}  # fmt: skip
_POINTER_KEYS = {"packet", "field", "table", "window", "at"}


#: The largest lesson file read (the course's largest is about 30 KiB), and the most
#: problems reported for one file.
MAX_LESSON_BYTES = 1 << 20
MAX_PROBLEMS = 100


def read_lesson_text(path: Path) -> str:
    """A lesson file's text: only a regular file (a FIFO would block, a device never
    end), of at most `MAX_LESSON_BYTES`; `LessonError` otherwise."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LessonError([Problem(path, 0, "cannot read: not a regular file")])
        if info.st_size > MAX_LESSON_BYTES:
            raise LessonError(
                [Problem(path, 0, f"{info.st_size:,} bytes: a lesson file is at most "
                                  f"{MAX_LESSON_BYTES:,}")]
            )  # fmt: skip
        with path.open("rb") as file:
            data = file.read(MAX_LESSON_BYTES + 1)
        if len(data) > MAX_LESSON_BYTES:
            raise LessonError([Problem(path, 0, f"more than {MAX_LESSON_BYTES:,} bytes")])
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError([Problem(path, 0, f"cannot read: {error}")]) from None


def parse_lesson(path: Path) -> Lesson:
    """Read one lesson file; `LessonError` lists every problem found (at most
    `MAX_PROBLEMS`, then how many more)."""
    parser = _Parser(path, read_lesson_text(path))
    lesson = parser.lesson()
    if parser.problems:
        problems = list(parser.problems)
        if parser.more:
            problems.append(Problem(path, 0, f"… and more problems after these {MAX_PROBLEMS}"))
        raise LessonError(problems)
    assert lesson is not None
    return lesson


class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.problems: list[Problem] = []
        self.more = 0  # problems past MAX_PROBLEMS, counted only
        self.warnings: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.path, line, message))
        else:
            self.more += 1  # only counted

    def lesson(self) -> Lesson | None:
        meta, body_start = self.front_matter()
        if meta is None:
            return None
        intro, steps = self.body(body_start)
        lesson_id = meta.get(
            "id", self.path.stem.split("-", 1)[-1] if "-" in self.path.stem else self.path.stem
        )
        if not isinstance(lesson_id, str) or not _ID.match(lesson_id):
            self.problem(2, f"id {lesson_id!r}: use lower-case letters, digits and dashes")
        title = meta.get("title")
        if not isinstance(title, str) or not title.strip():
            self.problem(2, "the front matter needs a title")
            title = self.path.stem
        level = meta.get("level", "beginner")
        if level not in LEVELS:
            self.problem(2, f"level {level!r}: one of {', '.join(LEVELS)}")
        order = meta.get("order", 1000)
        if not isinstance(order, int):
            self.problem(2, f"order {order!r} is not a whole number")
            order = 1000
        objectives = self.strings(meta, "objectives")
        prerequisites = self.strings(meta, "prerequisites")
        network = meta.get("network", {})
        if not isinstance(network, dict):
            self.problem(2, "[network] must be a table")
            network = {}
        for key in network:
            if key not in _SCENARIO_KEYS:
                self.problem(
                    2, f"[network] {key}: unknown setting ({', '.join(sorted(_SCENARIO_KEYS))})"
                )
        if not steps:
            self.problem(body_start, "no steps: each step starts with a '## ' heading")
        if not objectives:
            self.problem(2, "the front matter needs objectives (a list of strings)")
        minutes = meta.get("minutes", 10)
        lab = self.lab(meta.get("lab"))
        return Lesson(
            id=str(lesson_id),
            title=title.strip(),
            path=self.path,
            order=order,
            level=str(level),
            objectives=objectives,
            prerequisites=prerequisites,
            network=dict(network),
            introduction=intro,
            steps=tuple(steps),
            minutes=minutes if isinstance(minutes, int) else 10,
            warnings=tuple(self.warnings),
            lab=lab,
        )

    def lab(self, table: object) -> Lab | None:
        """The [lab] table: the fault, its symptom, and (optionally) what healthy looks like."""
        if table is None:
            return None
        line = next((i + 1 for i, text in enumerate(self.lines) if text.strip() == "[lab]"), 2)
        if not isinstance(table, dict):
            self.problem(line, "[lab] must be a table")
            return None
        unknown = sorted(set(table) - {"fault", "symptom", "healthy"})
        if unknown:
            self.problem(line, f"[lab] {unknown[0]}: unknown setting (fault, symptom, healthy)")
        fault, symptom, healthy = table.get("fault"), table.get("symptom"), table.get("healthy")
        if not isinstance(fault, str):
            self.problem(line, '[lab] needs fault = one of the faults, e.g. "wrong-accept"')
            return None
        try:
            parse_fault(fault)
        except ValueError as error:
            self.problem(line, f"[lab] {error}")
        filters = {"symptom": symptom, "healthy": healthy}
        for key, text in filters.items():
            if text is None and key == "healthy":
                continue
            if not isinstance(text, str):
                self.problem(line, f'[lab] {key} = a display filter, e.g. "ws.close.code == 1002"')
                return None
            try:
                compile_filter(text)
            except FilterError as error:
                self.problem(line, f"[lab] {key} = {text!r}: {error}")
        return Lab(line, fault, str(symptom), healthy if isinstance(healthy, str) else None)

    def strings(self, meta: dict[str, Any], key: str) -> tuple[str, ...]:
        value = meta.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(2, f"{key} must be a list of strings")
            return ()
        return tuple(value)

    def front_matter(self) -> tuple[dict[str, Any] | None, int]:
        lines = self.lines
        if not lines or lines[0].strip() != "+++":
            self.problem(1, "a lesson starts with TOML front matter between two '+++' lines")
            return None, 1
        for end in range(1, len(lines)):
            if lines[end].strip() == "+++":
                break
        else:
            self.problem(1, "the front matter is not closed by a '+++' line")
            return None, 1
        source = "\n".join(lines[1:end])
        try:
            meta = tomllib.loads(source)
        except tomllib.TOMLDecodeError as error:
            self.problem(1 + _toml_line(error), f"front matter: {error}")
            return None, end + 2
        except (ValueError, RecursionError) as error:  # a 5,000-digit number, deep nesting
            self.problem(1, f"front matter: {_toml_error(error)}")
            return None, end + 2
        return meta, end + 2  # 1-based line after the closing +++

    def body(self, start: int) -> tuple[str, list[Step]]:
        """The introduction and the steps; `start` is the 1-based first body line."""
        intro: list[str] = []
        steps: list[Step] = []
        current: dict[str, Any] | None = None
        lines = self.lines
        i = start - 1
        while i < len(lines):
            line = lines[i]
            number = i + 1
            fence = _FENCE.match(line)
            if fence and fence.group(2) in ("do", "show", "check"):
                kind = fence.group(2)
                block, i = self.block(i, fence.group(1))
                if current is None:
                    self.problem(number, f"a ```{kind} block before the first step ('## ' heading)")
                    continue
                self.take(current, kind, block, number)
                continue
            if fence:  # another fenced block: part of the narration, copied as is
                block, end = self.block(i, fence.group(1))
                self.preformatted(block)
                text = lines[i:end]
                (current["text"] if current is not None else intro).extend(text)
                i = end
                continue
            if line.startswith("## "):
                if current is not None:
                    steps.append(self.step(current))
                current = {"title": line[3:].strip(), "line": number, "text": [], "actions": [],
                           "pointer": None, "checkpoint": None}  # fmt: skip
            elif current is None:
                intro.append(line)
            else:
                current["text"].append(line)
            i += 1
        if current is not None:
            steps.append(self.step(current))
        return "\n".join(intro).strip(), steps

    def preformatted(self, block: list[tuple[int, str]]) -> None:
        """Warn about a diagram too wide for the narrowest narration: it is never
        re-wrapped, so there it has to be scrolled sideways."""
        wide = [(number, len(line.rstrip())) for number, line in block]
        wide = [(number, width) for number, width in wide if width > NARROWEST_TEXT]
        if not wide:
            return
        first = wide[0][0]
        widest = max(width for _, width in wide)
        lines = f"line {first}" if len(wide) == 1 else f"{len(wide)} lines from {first}"
        self.warnings.append(
            Problem(
                self.path,
                first,
                f"a preformatted block {widest} characters wide ({lines}): the narrowest "
                f"layouts (80 columns, or 120 beside the ladder) show {NARROWEST_TEXT}, so "
                "there it must be scrolled "
                "sideways",
                warning=True,
            )
        )

    def block(self, i: int, fence: str) -> tuple[list[tuple[int, str]], int]:
        """The lines of the fenced block opening at index i, and the index after it."""
        out: list[tuple[int, str]] = []
        j = i + 1
        while j < len(self.lines):
            closing = self.lines[j].strip()
            if closing and set(closing) == {fence[0]} and len(closing) >= len(fence):
                return out, j + 1
            out.append((j + 1, self.lines[j]))
            j += 1
        self.problem(i + 1, "this fenced block is never closed")
        return out, j

    def take(
        self, step: dict[str, Any], kind: str, block: list[tuple[int, str]], line: int
    ) -> None:
        if kind == "do":
            for number, text in block:
                if not text.strip() or text.strip().startswith("#"):
                    continue
                if self.more:  # past the problems listed: nothing more to learn here
                    return
                try:
                    name, args, kwargs = parse_action(text.strip())
                except ValueError as error:
                    self.problem(number, str(error))
                    continue
                step["actions"].append(Action(name, args, kwargs, number, text.strip()))
            return
        table = self.toml(block, line, kind)
        if table is None:
            return
        if kind == "show":
            if step["pointer"] is not None:
                self.problem(line, "a step points at one thing: a second ```show block")
            unknown = set(table) - _POINTER_KEYS
            if unknown:
                self.problem(
                    line,
                    f"```show: unknown key {sorted(unknown)[0]!r} "
                    f"({', '.join(sorted(_POINTER_KEYS))})",
                )
            packet = table.get("packet")
            if packet is not None and not (
                (isinstance(packet, int) and packet >= 1)
                or packet == "last"
                or (isinstance(packet, str) and re.fullmatch(r"#\d+", packet))
            ):
                self.problem(line, f'packet = {packet!r}: a number from 1, "last" or "#N"')
            if table.get("window") not in (None, "client", "server"):
                self.problem(line, 'window = "client" or "server"')
            for key in ("field", "table", "at"):
                if key in table and not isinstance(table[key], str):
                    self.problem(line, f"{key} = {table[key]!r}: a name, in quotes")
                    table.pop(key)
            step["pointer"] = Pointer(
                line,
                packet,
                table.get("field"),
                table.get("table"),
                table.get("window"),
                table.get("at"),
            )
        else:
            if step["checkpoint"] is not None:
                self.problem(line, "one checkpoint per step")
            checkpoint = self.checkpoint(table, line)
            if checkpoint is not None:
                step["checkpoint"] = checkpoint

    def toml(self, block: list[tuple[int, str]], line: int, kind: str) -> dict[str, Any] | None:
        source = "\n".join(text for _, text in block)
        try:
            return tomllib.loads(source)
        except tomllib.TOMLDecodeError as error:
            self.problem(line + _toml_line(error), f"```{kind}: {error}")
            return None
        except (ValueError, RecursionError) as error:
            self.problem(line, f"```{kind}: {_toml_error(error)}")
            return None

    def checkpoint(self, table: dict[str, Any], line: int) -> Checkpoint | None:
        kind = table.pop("kind", None)
        if kind not in KINDS:
            self.problem(line, f"```check kind {kind!r}: one of {', '.join(KINDS)}")
            return None
        question = table.pop("question", None)
        if not isinstance(question, str) or not question.strip():
            self.problem(line, "```check needs a question")
            question = ""
        predict = table.pop("predict", False)
        if not isinstance(predict, bool):
            self.problem(line, "predict = true or false")
            predict = False
        choices = table.pop("choices", [])
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            self.problem(line, "choices must be a list of strings")
            choices = []
        checkpoint = Checkpoint(
            line=line,
            kind=kind,
            question=question.strip(),
            hint=str(table.pop("hint", "")),
            explanation=str(table.pop("explanation", "")),
            choices=tuple(choices),
            answer=table.pop("answer", None),
            params=table,
            predict=predict,
        )
        for message in check_definition(checkpoint):
            self.problem(line, message)
        return checkpoint

    def step(self, current: dict[str, Any]) -> Step:
        text = "\n".join(current["text"]).strip()
        if not text and current["checkpoint"] is None:
            self.problem(current["line"], f"step {current['title']!r} says nothing")
        return Step(
            title=current["title"],
            line=current["line"],
            text=text,
            actions=tuple(current["actions"]),
            pointer=current["pointer"],
            checkpoint=current["checkpoint"],
        )


def _toml_error(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "arrays or tables nested too deep"
    return f"a value that cannot be read ({str(error)[:80]})"


def _toml_line(error: tomllib.TOMLDecodeError) -> int:
    match = re.search(r"line (\d+)", str(error))
    return int(match.group(1)) if match else 0


__all__ = ["LEVELS", "parse_lesson"]
