"""Fuzz `wirelab dissect`: the whole capture as JSON and as text, and one packet alone.

The bytes are written to a file and dissected by `dissect_file`, the function behind
`wirelab dissect`, three ways: `--json`, the text (plain, or styled as on a terminal,
by the input's last bit), and `--packet N` for a packet the input picks. The file may
only raise a `WirelabError` (not a capture, a packet that is not there); the JSON must
parse; and what is written must stay bounded by the input: at most `PER_BYTE` bytes of
output for each byte of it, plus `FIXED` (an inflated message, the most a byte can
become, is cut at 256 KiB in the JSON and at 64 hex rows in the text).

Inputs are mutated as the capture harness mutates them (`fuzz_capture.mutate`).
"""

from __future__ import annotations

import io
import json

import atheris
from fuzz_capture import mutate
from harness import MAX_INPUT, fuzz, scratch

with atheris.instrument_imports(include=["simulator"]):
    from rich.console import Console

    from simulator.errors import WirelabError
    from simulator.views.handout import dissect_file

PER_BYTE = 4096
FIXED = 1 << 20


class Sink(io.StringIO):
    """Keeps what is written when asked to (the JSON, to parse), else only counts it."""

    def __init__(self, keep: bool) -> None:
        super().__init__()
        self.keep = keep
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return super().write(text) if self.keep else len(text)


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    bound = PER_BYTE * len(data) + FIXED
    with scratch() as folder:
        path = folder / "input.pcap"
        path.write_bytes(data)
        last = data[-1] if data else 0
        for as_json, packet in ((True, None), (False, None), (False, 1 + last % 8)):
            sink = Sink(keep=as_json)
            styled = not as_json and bool(last & 1)  # as on a terminal: Rich draws the styles
            console = Console(
                file=sink,
                width=100,
                force_terminal=styled,
                color_system="standard" if styled else None,
            )
            try:
                dissect_file(str(path), packet=packet, as_json=as_json, console=console)
            except WirelabError:
                if packet is None:
                    return  # not a capture at all: the other ways say the same
                continue
            assert sink.written <= bound, f"{sink.written} bytes written for {len(data)}"
            if as_json:
                document = json.loads(sink.getvalue())
                assert set(document) == {"file", "format", "packets", "messages", "problems"}


if __name__ == "__main__":
    fuzz(test_one_input, custom_mutator=mutate)
