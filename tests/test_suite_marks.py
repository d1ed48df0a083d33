"""The `slow` marks (tests/conftest.py) name what exists: a renamed file or test must not
quietly fall out of the list, or out of `make test-fast`'s reach."""

from __future__ import annotations

from tests.conftest import SLOW, TESTS


def test_every_slow_path_exists() -> None:
    for slow in SLOW:
        where, _, name = slow.partition("::")
        assert (TESTS / where).exists(), slow
        assert not name or f"def {name}(" in (TESTS / where).read_text(), slow
