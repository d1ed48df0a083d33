"""Fixtures for the browser tests: one headless Chromium per test module, always stopped.

Chromium is required where CI is set (`scripts/test-tools` installs it): there a
missing browser fails the tests. Elsewhere they are skipped, saying why.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.cdp import Chromium, find_chromium
from tests.wireshark.support import in_ci


@pytest.fixture(scope="module")
def chromium() -> Iterator[str]:
    """A running headless Chromium: its DevTools WebSocket URL."""
    executable = find_chromium()
    if executable is None:
        why = "chromium is not installed (scripts/test-tools, run by `make test`, installs it)"
        if in_ci():
            pytest.fail(f"{why}; CI must run the browser tests")
        pytest.skip(why)
    browser = Chromium(executable)
    try:
        yield browser.start()
    finally:
        browser.stop()
