"""The lesson model: what a lesson file says, as values.

A lesson is front matter (title, level, objectives, prerequisites, the network
it runs on) and steps. Each step says something (Markdown), may do something
(scenario actions), may point at something (a packet and one of its fields, a
routing table, a TCP window) and may ask something (a checkpoint). Every piece
remembers the line of the file it came from, so every error can name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.errors import WirelabError

#: The narrowest narration the lesson screen gives a diagram: 72 at 80 columns (the
#: classroom's frame and padding), 69 beside the ladder at 120 (120, less the ladder's
#: 44, less 7 of frame and padding in a classroom). A preformatted line wider than this
#: cannot show whole everywhere: `lessons check` warns, and the screen scrolls it.
NARROWEST_TEXT = 69

#: The rows a checkpoint box may take at 80×24 and still leave the narration 3 rows and
#: the stage its 6: 24 less the bar, the one-row explanation bar and the footer (3), less
#: 9. Its text is 76 columns wide there. A taller box scrolls; `lessons check` warns.
CHECKPOINT_ROWS = 12
CHECKPOINT_TEXT = 76


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a lesson file, where it is; a `warning` does not stop it."""

    path: Path
    line: int  # from 1; 0 when it concerns the whole file
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {'warning: ' if self.warning else ''}{self.message}"


class LessonError(WirelabError):
    """A lesson that cannot be used; `problems` lists everything found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Action:
    """One line of a ```do block: a scenario call."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    line: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Pointer:
    """What a step points at (a ```show block)."""

    line: int
    packet: int | str | None = None  # n-th packet of the step (1-based), "last", "#N" absolute
    field: str | None = None  # a dissector field name: "tcp.flags.syn", "ws.masking_key"
    table: str | None = None  # a router (or host) whose routing table to show
    window: str | None = None  # "client" or "server": the TCP window widget
    at: str | None = None  # the link whose capture the step shows (default: the client's)


@dataclass(frozen=True)
class Checkpoint:
    """A question the learner answers, checked by the real code where it can be."""

    line: int
    kind: str  # see simulator.lessons.checkpoints.KINDS
    question: str
    hint: str = ""
    explanation: str = ""  # shown once answered
    choices: tuple[str, ...] = ()
    answer: Any = None  # for "choice": the 1-based number of the right choice
    params: dict[str, Any] = field(default_factory=dict)  # kind-specific: field, packet, …
    # A prediction: asked before the step's packets are shown; they appear once it is
    # answered, right or wrong, and the answer is judged against what they carry.
    predict: bool = False


@dataclass(frozen=True)
class Step:
    title: str
    line: int
    text: str  # Markdown narration, fenced action blocks removed
    actions: tuple[Action, ...] = ()
    pointer: Pointer | None = None
    checkpoint: Checkpoint | None = None


@dataclass(frozen=True)
class Lab:
    """A troubleshooting lab's [lab] table: the network is broken on purpose.

    `fault` (simulator.network.faults) is switched on for the lab's run and off
    for the repaired one; `symptom` is a display filter some packet of the
    broken run matches and none of the repaired run does; `healthy`, if given,
    matches a packet of the repaired run only (what working looks like).
    """

    line: int
    fault: str
    symptom: str
    healthy: str | None = None


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    path: Path
    order: int
    level: str
    objectives: tuple[str, ...]
    prerequisites: tuple[str, ...]
    network: dict[str, Any]  # Scenario(**network)
    introduction: str
    steps: tuple[Step, ...]
    minutes: int = 10
    warnings: tuple[Problem, ...] = ()  # what `lessons check` points out, not errors
    lab: Lab | None = None  # a troubleshooting lab: its fault and how to see it

    @property
    def checkpoints(self) -> int:
        return sum(1 for step in self.steps if step.checkpoint is not None)


__all__ = [
    "CHECKPOINT_ROWS",
    "CHECKPOINT_TEXT",
    "NARROWEST_TEXT",
    "Action",
    "Checkpoint",
    "Lab",
    "Lesson",
    "LessonError",
    "Pointer",
    "Problem",
    "Step",
]
