"""Wording helpers: counts that agree with their nouns, and inline code in explanations."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from simulator.text import plural, split_code


def test_plural_agrees_with_the_count() -> None:
    assert plural(1, "byte") == "1 byte"
    assert plural(0, "byte") == "0 bytes"
    assert plural(2, "segment") == "2 segments"
    assert plural(-1, "byte") == "-1 bytes"
    assert plural(1, "more byte") == "1 more byte"
    assert plural(2, "entry", many="entries") == "2 entries"
    assert plural(1, "entry", many="entries") == "1 entry"
    assert plural(1024, "packet", grouped=True) == "1,024 packets"
    assert plural(1, "packet", grouped=True) == "1 packet"
    assert plural(1024, "packet") == "1024 packets"


def test_a_code_span_loses_its_backticks() -> None:
    assert split_code("run `wirelab accept KEY` to see every step") == [
        ("run ", False),
        ("wirelab accept KEY", True),
        (" to see every step", False),
    ]
    assert split_code("`a` and `b`") == [("a", True), (" and ", False), ("b", True)]
    assert split_code("`a``b`") == [("a", True), ("b", True)]


def test_text_without_code_is_one_plain_piece() -> None:
    assert split_code("no code here") == [("no code here", False)]
    assert split_code("") == []


def test_unbalanced_and_empty_backticks_stay_as_they_are() -> None:
    assert split_code("a ` b") == [("a ` b", False)]
    assert split_code("`x` then `y") == [("x", True), (" then `y", False)]
    assert split_code("``") == [("``", False)]
    assert split_code("`a\nb`") == [("`a\nb`", False)]  # a span never crosses a line end


def test_brackets_are_text_not_markup() -> None:
    assert split_code("[bold]x[/bold] `[red]y[/red]`") == [
        ("[bold]x[/bold] ", False),
        ("[red]y[/red]", True),
    ]


@given(st.text(alphabet="ab `[]/\n"))
def test_the_pieces_give_back_the_text(text: str) -> None:
    pieces = split_code(text)
    assert "".join(f"`{piece}`" if code else piece for piece, code in pieces) == text
    assert all(piece for piece, _ in pieces)
    assert all("`" not in piece for piece, code in pieces if code)
    # Two plain pieces never follow each other: the cut is only at code spans.
    assert all(a[1] or b[1] for a, b in itertools.pairwise(pieces))


def test_printable_keeps_text_and_defuses_terminal_controls() -> None:
    from simulator.text import printable

    assert printable("héllo 😀\n\tnext") == "héllo 😀\n\tnext"
    assert printable("\x1b[31mred\x07") == "\\x1b[31mred\\x07"
    assert printable("\u202eabc\u200b") == "\\u202eabc\\u200b"  # bidi override, zero width
    assert printable("\x9b2J") == "\\x9b2J"  # the 8-bit CSI
    assert printable("a" * 10, limit=4) == "aaaa…"
    assert printable("abcd", limit=4) == "abcd"
