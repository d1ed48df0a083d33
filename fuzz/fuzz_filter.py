"""Fuzz the inspector's display filters: `compile_filter` on the text a learner types.

The input is the filter's text (UTF-8, undecodable bytes replaced). Compiling may only
give a `Filter` or raise `FilterError` pointing inside the text; a filter that
compiles is then run over the packets of two simulated scenarios (TCP, HTTP,
WebSocket, ICMP) and must answer True or False for each, never raise.
"""

from __future__ import annotations

import atheris
from harness import MAX_INPUT, fuzz

with atheris.instrument_imports(include=["simulator"]):
    from simulator.dissect.fields import Dissection
    from simulator.dissect.filters import FilterError, compile_filter, explain_error
    from simulator.dissect.stream_view import StreamDissector
    from simulator.network.scenarios import run_built_in
    from simulator.trace import Trace


def dissections() -> list[Dissection]:
    """Every packet of two built-in scenarios, dissected as the inspector does."""
    found: list[Dissection] = []
    for name in ("handshake-and-echo", "routed-three-hops"):
        trace = Trace(run_built_in(name, 0).capture())
        stream = StreamDissector(trace)
        found.extend(stream(record) for record in trace)
    return found


DISSECTIONS = dissections()


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    text = data.decode("utf-8", errors="replace")
    try:
        test = compile_filter(text)
    except FilterError as error:
        assert 0 <= error.offset <= len(text), (error.offset, len(text))
        list(explain_error(text, error))
        return
    assert str(test) == text
    for dissection in DISSECTIONS:
        answer = test(dissection)
        assert answer is True or answer is False, answer


if __name__ == "__main__":
    fuzz(test_one_input)
