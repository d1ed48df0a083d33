"""Messages the inspector's widgets and workers post: small classes, one module."""

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
