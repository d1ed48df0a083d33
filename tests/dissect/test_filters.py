"""Display filters stay bounded: nesting has a limit, reported where it is passed."""

from __future__ import annotations

import pytest

from simulator.dissect.filters import MAX_DEPTH, FilterError, compile_filter


@pytest.mark.parametrize(
    "text",
    ["(" * 300 + "tcp" + ")" * 300, "not " * 300 + "tcp", "(not " * 200 + "tcp" + ")" * 200],
)
def test_deep_nesting_is_an_error_at_its_column_not_a_recursion_error(text: str) -> None:
    """Seen: 300 nested parentheses raised RecursionError and the inspector exited."""
    with pytest.raises(FilterError, match="levels of '\\(' and 'not'") as raised:
        compile_filter(text)
    assert 0 < raised.value.column <= len(text)


def test_nesting_up_to_the_limit_still_works() -> None:
    shallow = "(" * MAX_DEPTH + "tcp" + ")" * MAX_DEPTH
    assert not compile_filter(shallow).everything
    assert not compile_filter("not " * MAX_DEPTH + "tcp").everything
