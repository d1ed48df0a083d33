"""Fixtures for the live tests: `wirelab serve` child processes, always reaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live.support import ServeProcess


@pytest.fixture
def serve_process() -> Iterator[type[ServeProcess]]:
    """Start `wirelab serve --headless --port 0 ARGS...` children; each is stopped afterwards."""
    started: list[ServeProcess] = []

    class Tracked(ServeProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for process in started:
        process.stop()
