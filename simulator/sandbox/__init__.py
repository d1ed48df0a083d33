"""The break-it sandbox: edit a frame's bits and bytes, let the real engine judge it.

Theory of operation
-------------------
A learner takes a frame from a lesson and breaks it: flips a header bit,
rewrites a byte, lies about the length, corrupts the payload. Each change is
an `Edit`, a small value that knows how to rewrite bytes; `presets` offers
ready-made lists of edits ("clear MASK", "set RSV1", ...).

`judge` then feeds the edited bytes to a fresh engine of the *receiving* role,
after a real opening handshake, and the `Verdict` says what the engine did and
the RFC rule behind it: for a refusal, the `Violation` the engine reports with
its failure (never a reading of its reason text). Nothing here decides whether
a frame is valid: only the engine does.

    model.py    what a possibly broken frame's header announces (`Shape`), `describe`
    edits.py    the edits (`ToggleBit`, `SetLength`, ...), `apply_edits`, `changed_offsets`
    presets.py  the ready-made breaks
    fields.py   the header fields as the screen shows and edits them
    rules.py    the rule behind a violation, in the failing frame's numbers
    verdict.py  `judge` and its `Verdict`
"""

from __future__ import annotations

from simulator.sandbox.edits import (
    AnnounceLength,
    Edit,
    EditError,
    SetBits,
    SetByte,
    SetLength,
    SetPayload,
    ToggleBit,
    announce_length,
    apply_edits,
    changed_offsets,
    set_bits,
    set_byte,
    set_length,
    set_payload_bytes,
    toggle_bit,
)
from simulator.sandbox.fields import HeaderField, header_fields
from simulator.sandbox.model import Shape, describe, frame_spans, read_shape
from simulator.sandbox.presets import Preset, presets
from simulator.sandbox.rules import Citation, FrameFacts, cite, frame_facts, rule_for
from simulator.sandbox.verdict import Status, Verdict, judge
from simulator.ws.violations import Violation

__all__ = [
    "AnnounceLength",
    "Citation",
    "Edit",
    "EditError",
    "FrameFacts",
    "HeaderField",
    "Preset",
    "SetBits",
    "SetByte",
    "SetLength",
    "SetPayload",
    "Shape",
    "Status",
    "ToggleBit",
    "Verdict",
    "Violation",
    "announce_length",
    "apply_edits",
    "changed_offsets",
    "cite",
    "describe",
    "frame_facts",
    "frame_spans",
    "header_fields",
    "judge",
    "presets",
    "read_shape",
    "rule_for",
    "set_bits",
    "set_byte",
    "set_length",
    "set_payload_bytes",
    "toggle_bit",
]
