"""A class's answers to the checkpoints: who answered what, the tally, the results file.

The teacher's `Share` keeps one `Poll`. Followers join with a key they made up
(so a follower that reconnects is the same member, with the same number) and an
optional name; each answers a checkpoint at most once per key, the last answer
before the teacher reveals it counting. Answers are judged by the lesson's own
checkpoint code (the `Judge` the teacher's app gives), once per distinct text.

Everything from a follower is bounded here: names and answers are cut to plain
text of a fixed length, and a class holds at most `MAX_MEMBERS` keys.
"""

from __future__ import annotations

import csv
import io
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from simulator.files import write_atomically

MAX_NAME = 32  # characters of a follower's name
MAX_ANSWER = 200  # characters of an answer
MAX_MEMBERS = 5000  # keys one class remembers (followers who came and went included)
SHOWN_WRONG = 3  # the most common wrong answers the teacher's screen names


def clean(text: str, limit: int) -> str:
    """`text` as one line of plain text of at most `limit` characters: control, format
    and private-use characters dropped (no terminal escape, no bidirectional override),
    runs of white space made one space."""
    kept = []
    for char in text[: limit * 4]:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(char)
    return " ".join("".join(kept).split())[:limit]


def grouped(text: str) -> str:
    """The form answers are counted under: "  TCP " and "tcp" are one answer."""
    return text.casefold()


class Judge(Protocol):
    """How the teacher's lesson judges an answer (the same code as self-paced mode)."""

    def expected(self, lesson: str, step: int) -> str | None:
        """The answer shown at the reveal; None when the step has no checkpoint."""

    def judge(self, lesson: str, step: int, answer: str) -> bool:
        """Whether `answer` is right."""

    def question(self, lesson: str, step: int) -> str:
        """The checkpoint's question, as plain text (for the results file)."""


@dataclass(slots=True)
class Member:
    key: str
    number: int  # from 1, in the order they joined
    name: str  # "" when anonymous

    @property
    def label(self) -> str:
        return self.name or f"student {self.number}"


@dataclass(slots=True)
class Answer:
    member: Member
    text: str
    at: float  # time.time() when it arrived
    right: bool | None = None  # None until judged


@dataclass(frozen=True, slots=True)
class Tally:
    """One checkpoint's answers, as the teacher's screen shows them."""

    answered: int
    right: int | None  # None while not all are judged
    wrong: tuple[tuple[str, int], ...]  # the most common wrong answers and their counts

    def line(self, following: int, *, revealed: bool) -> str:
        """E.g. "Class: 7 of 12 answered · 4 right (57 %) · wrong: “64” ×2, “5” ×1".
        Before the reveal, only how many answered (the projector must not tell
        which answers are wrong)."""
        text = f"Class: {self.answered} of {max(following, self.answered)} answered"
        if not revealed or self.answered == 0:
            return text
        if self.right is None:
            return f"{text} · judging…"
        share = round(100 * self.right / self.answered)
        text += f" · {self.right} right ({share} %)"
        if self.wrong:
            text += " · wrong: " + ", ".join(f"“{answer}” ×{n}" for answer, n in self.wrong)
        return text


@dataclass
class Poll:
    """The class's members and their answers (see the module)."""

    members: dict[str, Member] = field(default_factory=dict)
    answers: dict[tuple[str, int], dict[str, Answer]] = field(default_factory=dict)
    revealed: set[tuple[str, int]] = field(default_factory=set)
    questions: dict[tuple[str, int], str] = field(default_factory=dict)  # for the results
    _verdicts: dict[tuple[str, int, str], bool] = field(default_factory=dict)

    def join(self, key: str, name: str) -> Member | None:
        """The member with `key` (made on first sight, named `name`); None when the
        class is full."""
        member = self.members.get(key)
        if member is None:
            if len(self.members) >= MAX_MEMBERS:
                return None
            member = self.members[key] = Member(key, len(self.members) + 1, "")
        member.name = clean(name, MAX_NAME)
        return member

    def answer(self, member: Member, lesson: str, step: int, text: str) -> Answer | None:
        """Record `member`'s answer (replacing an earlier one); None once revealed."""
        if (lesson, step) in self.revealed:
            return None
        answer = Answer(member, clean(text, MAX_ANSWER), time.time())
        self.answers.setdefault((lesson, step), {})[member.key] = answer
        return answer

    def judge(self, judge: Judge, lesson: str, step: int) -> list[Answer]:
        """Judge every answer to (lesson, step) not judged yet, each distinct text once;
        the answers judged now."""
        done = []
        for answer in self.answers.get((lesson, step), {}).values():
            if answer.right is not None:
                continue
            key = (lesson, step, grouped(answer.text))
            if key not in self._verdicts:
                self._verdicts[key] = bool(judge.judge(lesson, step, answer.text))
            answer.right = self._verdicts[key]
            done.append(answer)
        return done

    def tally(self, lesson: str, step: int) -> Tally:
        answers = list(self.answers.get((lesson, step), {}).values())
        if any(answer.right is None for answer in answers):
            return Tally(len(answers), None, ())
        wrong = Counter(grouped(a.text) for a in answers if not a.right)
        shown = {grouped(a.text): a.text for a in answers}  # one spelling of each
        common = tuple((shown[text][:40], n) for text, n in wrong.most_common(SHOWN_WRONG))
        return Tally(len(answers), sum(bool(a.right) for a in answers), common)

    # --- the results file ------------------------------------------------------------

    def rows(self) -> Iterator[dict[str, object]]:
        """One row per member and answered checkpoint, in the order checkpoints came."""
        for (lesson, step), answers in self.answers.items():
            for answer in sorted(answers.values(), key=lambda a: a.member.number):
                yield {
                    "follower": answer.member.number,
                    "name": answer.member.name,
                    "lesson": lesson,
                    "step": step + 1,
                    "question": self.questions.get((lesson, step), ""),
                    "answer": answer.text,
                    "right": answer.right,
                    "revealed": (lesson, step) in self.revealed,
                    "answered_at": datetime.fromtimestamp(answer.at, UTC).isoformat(
                        timespec="seconds"
                    ),
                }

    def write(self, path: Path, judge: Judge | None = None) -> int:
        """Write the results to `path` (CSV, or JSON for a .json name) atomically, every
        answer judged first; how many rows. Raises OSError."""
        if judge is not None:
            for lesson, step in list(self.answers):
                self.judge(judge, lesson, step)
        rows = list(self.rows())
        if path.suffix.lower() == ".json":
            document = {
                "followers": [
                    {"follower": m.number, "name": m.name} for m in self.members.values()
                ],
                "answers": rows,
            }
            data = json.dumps(document, indent=1, ensure_ascii=False).encode() + b"\n"
        else:
            out = io.StringIO()
            columns = ["follower", "name", "lesson", "step", "question", "answer", "right"]
            writer = csv.DictWriter(out, [*columns, "revealed", "answered_at"])
            writer.writeheader()
            for row in rows:
                right = row["right"]
                writer.writerow(
                    {
                        **{k: _cell(v) for k, v in row.items()},
                        "right": "" if right is None else "yes" if right else "no",
                        "revealed": "yes" if row["revealed"] else "no",
                    }
                )
            data = out.getvalue().encode()
        write_atomically(path, data)
        return len(rows)


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ is quoted with '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


__all__ = ["MAX_ANSWER", "MAX_NAME", "Answer", "Judge", "Member", "Poll", "Tally", "clean"]
