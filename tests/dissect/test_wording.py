"""Counts read right: "1 byte", "2 bytes", "0 bytes", in every dissection wirelab shows."""

from __future__ import annotations

import re

from simulator.dissect.fields import Dissection
from tests.dissect.corpus import every_dissection

NOUNS = ("byte", "segment", "packet", "frame", "message", "header", "chunk", "field")
# "1 bytes" is wrong, and so is "0 byte": zero takes the plural.
WRONG = re.compile(rf"\b1 ({'|'.join(f'{noun}s' for noun in NOUNS)})\b|\b0 ({'|'.join(NOUNS)})\b")


def texts(dissection: Dissection) -> list[str]:
    """Every piece of wording a view shows for `dissection`."""
    found = [dissection.summary, *dissection.problems, *(b.name for b in dissection.buffers)]
    for _, field in dissection.walk():
        found += [field.label, field.display, field.explanation, str(field), field.problem or ""]
    return found


def test_the_wrong_pattern_finds_what_it_should() -> None:
    assert WRONG.search("TCP payload (1 bytes)")
    assert WRONG.search("0 byte left")
    for right in ("1 byte", "0 bytes", "11 bytes", "0x1 bytes", "1,001 bytes", "2 bytes"):
        assert not WRONG.search(right), right


def test_the_corpus_has_what_the_wording_test_needs() -> None:
    names = [name for name, _ in every_dissection()]
    assert any(name.startswith("tcp-flow-control") for name in names)
    assert sum(name.startswith("crafted") for name in names) >= 30


def test_no_count_disagrees_with_its_noun() -> None:
    wrong = {
        f"{name}: {text}"
        for name, dissection in every_dissection()
        for text in texts(dissection)
        if WRONG.search(text)
    }
    assert not wrong, "\n".join(sorted(wrong))
