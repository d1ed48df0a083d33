"""What every fuzz harness shares: the input bound, libFuzzer's defaults, scratch files.

A harness is a script: `python fuzz/fuzz_NAME.py [libFuzzer options] [CORPUS_DIR | FILE...]`.
It instruments the `simulator` package (coverage guides the fuzzer), then calls its
`test_one_input(data)` with each input; an exception that escapes is a finding.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import atheris

MAX_INPUT = 64 * 1024
"""The largest input a harness looks at: what one input may cost stays bounded."""

DEFAULTS = {
    "-max_len": str(MAX_INPUT),  # libFuzzer makes no longer inputs
    "-timeout": "10",  # seconds one input may take before it counts as a hang
    "-rss_limit_mb": "2048",  # a larger process counts as a huge allocation
}


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh temporary folder for one input, removed after it. (Per input: libFuzzer
    ends the process without running Python's exit handlers.)"""
    folder = Path(tempfile.mkdtemp(prefix="wirelab-fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fuzz(
    test_one_input: Callable[[bytes], None],
    *,
    custom_mutator: Callable[[bytes, int, int], bytes] | None = None,
) -> None:
    """Run libFuzzer on `test_one_input` with the command line's options and corpus.

    The options in `DEFAULTS` apply unless the command line gives them.
    `custom_mutator(data, max_size, seed)` replaces libFuzzer's mutations.
    """
    argv = list(sys.argv)
    given = {arg.split("=", 1)[0] for arg in argv[1:] if arg.startswith("-")}
    argv[1:1] = [f"{flag}={value}" for flag, value in DEFAULTS.items() if flag not in given]
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()
