"""Messages the widgets, screens and workers post to the app: small classes, one module."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from simulator.dissect.filters import Filter


@dataclass
class RecordHighlighted(Message):
    """The packet list's cursor is on record `index` (None: the list is empty)."""

    index: int | None


@dataclass
class RecordChosen(Message):
    """Enter (or a double click) on record `index` in the packet list."""

    index: int


@dataclass
class HexCursorMoved(Message):
    """The user moved the hex pane's cursor to byte `offset` of buffer `buffer`."""

    buffer: int
    offset: int


@dataclass
class FilterSubmitted(Message):
    """The filter bar holds a valid filter and the user pressed Enter."""

    filter: Filter


@dataclass
class FilterProgress(Message):
    """A filtering worker checked more records: `matches` among them, in order."""

    generation: int
    checked: int  # records checked so far, from 0
    total: int
    matches: list[int]
    done: bool = False


# --- the course -------------------------------------------------------------------------


@dataclass
class StepShown(Message):
    """The lesson screen shows step `step` of lesson `lesson` (an id) of `steps`."""

    lesson: str
    step: int
    steps: int


@dataclass
class Answered(Message):
    """The learner answered the checkpoint of step `step` of lesson `lesson` right."""

    lesson: str
    step: int


@dataclass
class LessonFinished(Message):
    """The learner went past the last step of lesson `lesson` with every checkpoint answered."""

    lesson: str


@dataclass
class OpenLesson(Message):
    """Open lesson `lesson` (an id): self-paced, or in the classroom layout with `teach`;
    `step` None: where the learner left it (the first step for a class)."""

    lesson: str
    teach: bool = False
    step: int | None = None


@dataclass
class OpenInspector(Message):
    """Open the inspector on lesson `lesson`'s capture (an id; None: a sample session)."""

    lesson: str | None


@dataclass
class OpenSandbox(Message):
    """Open the break-it sandbox on a WebSocket frame, sent by the client or the server."""

    frame: bytes
    from_client: bool


# --- the classroom ----------------------------------------------------------------------


@dataclass
class MomentChanged(Message):
    """What a teacher's lesson screen shows changed: the step, how many of its packets
    are shown while they play, playing or not, the packet picked on the ladder, the
    checkpoints revealed. With `teach --share`, the followers mirror it."""

    lesson: str
    step: int
    steps: int
    shown: int | None
    playing: bool
    picked: int | None
    revealed: tuple[int, ...]
    field: int | None  # the field selected in the field pane: its place in the dissection
    given: str = ""  # what the step's question hands out (a fresh Sec-WebSocket-Key)


@dataclass
class ClassAnswer(Message):
    """A follower answered the checkpoint of step `step` of lesson `lesson`: for the
    teacher's side to judge."""

    lesson: str
    step: int
    answer: str


@dataclass
class TookOver(Message):
    """A follower moved on their own: the teacher's moments no longer move the screen."""
