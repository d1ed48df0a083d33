"""The break-it sandbox: every preset through the real engine, edits as bytes in → bytes out."""

from __future__ import annotations

import pytest

from simulator.sandbox import (
    EditError,
    FrameFacts,
    Preset,
    Verdict,
    Violation,
    announce_length,
    apply_edits,
    changed_offsets,
    cite,
    frame_facts,
    header_fields,
    judge,
    presets,
    rule_for,
    set_byte,
    set_length,
    set_payload_bytes,
    toggle_bit,
)
from simulator.ws.close_codes import explain
from simulator.ws.frames import Opcode, parse_frames, serialize_frame
from tests.lessons.sandbox_frames import varied_frames
from tests.must_cases import CASES, KEY, MustCase, close_payload, masked

# RFC 6455 §5.7: a single-frame masked text message "Hello", as a client sends it.
CLIENT_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
SERVER_HELLO = bytes.fromhex("810548656c6c6f")  # the same, unmasked, as a server sends it

FRAMES = {
    "client-text": (CLIENT_HELLO, True),
    "client-binary": (masked(Opcode.BINARY, bytes(range(20))), True),
    "client-ping": (masked(Opcode.PING, b"are you there?"), True),
    "client-close": (masked(Opcode.CLOSE, close_payload(1000, b"bye")), True),
    "server-text": (SERVER_HELLO, False),
    "server-pong": (serialize_frame(Opcode.PONG, b"ok"), False),
}

# What the receiving engine does with each preset, whatever frame it was applied to:
# (close code, RFC section, the engine's reason starts with). The RFC says MUST fail for
# all of them (the sections); the codes are RFC 6455 §7.4.1's: 1002 a protocol error,
# 1007 data inconsistent with its type, 1009 a message too big.
EXPECTED: dict[str, tuple[int, str, str]] = {
    "clear MASK": (1002, "§5.1", "client frame is not masked"),
    "set MASK": (1002, "§5.1", "server frame is masked"),
    "set RSV1": (1002, "§5.2", "RSV bits set without a negotiated extension"),
    "reserved opcode 0x3": (1002, "§5.2", "reserved opcode 0x3"),
    "reserved opcode 0xB": (1002, "§5.2", "reserved opcode 0xb"),
    "invalid UTF-8 in text": (1007, "§8.1", "text message is not valid UTF-8"),
    "ping with 126-byte payload": (1002, "§5.5", "control frame with a 126-byte payload"),
    "fragmented ping": (1002, "§5.5", "fragmented control frame"),
    "close code 1005 on the wire": (1002, "§7.4.1", "invalid close code 1005"),
    "length over the 1 MiB limit": (1009, "§10.4", "message of more than 1048576 bytes"),
    "continuation with no message": (1002, "§5.4", "continuation frame without a message"),
    "close with a 1-byte payload": (1002, "§5.5.1", "close frame with a 1-byte payload"),
    "invalid UTF-8 in close reason": (1007, "§5.5.1", "close reason is not valid UTF-8"),
    "64-bit length with its top bit set": (1002, "§5.2", "64-bit payload length"),
}

# ...and the rule the engine names for each, as data: what decides the case.
BROKEN: dict[str, Violation] = {
    "clear MASK": Violation.UNMASKED_CLIENT_FRAME,
    "set MASK": Violation.MASKED_SERVER_FRAME,
    "set RSV1": Violation.RSV_WITHOUT_EXTENSION,
    "reserved opcode 0x3": Violation.RESERVED_OPCODE,
    "reserved opcode 0xB": Violation.RESERVED_OPCODE,
    "invalid UTF-8 in text": Violation.TEXT_NOT_UTF8,
    "ping with 126-byte payload": Violation.CONTROL_FRAME_TOO_LONG,
    "fragmented ping": Violation.FRAGMENTED_CONTROL_FRAME,
    "close code 1005 on the wire": Violation.INVALID_CLOSE_CODE,
    "length over the 1 MiB limit": Violation.MESSAGE_TOO_BIG,
    "continuation with no message": Violation.CONTINUATION_WITHOUT_MESSAGE,
    "close with a 1-byte payload": Violation.CLOSE_WITH_ONE_BYTE,
    "invalid UTF-8 in close reason": Violation.CLOSE_REASON_NOT_UTF8,
    "64-bit length with its top bit set": Violation.LENGTH_TOP_BIT,
}

# Presets whose outcome is not a failure, or depends on the frame: tested one by one below.
SPECIAL = {"length says more than sent", "length says less than sent", "length in the 16-bit form"}


def all_presets() -> list[tuple[str, bytes, bool, Preset]]:
    return [
        (name, frame, from_client, preset)
        for name, (frame, from_client) in FRAMES.items()
        for preset in presets(frame, from_client)
    ]


def assert_rejected(verdict: Verdict, code: int, section: str, reason: str) -> None:
    assert not verdict.accepted
    assert verdict.close_code == code, verdict
    assert verdict.section == section, verdict
    assert verdict.reason.startswith(reason), verdict
    assert verdict.rule.startswith(f"RFC 6455 {section}: ")
    assert verdict.meaning == explain(code)
    assert verdict.waiting is None
    # The close frame the engine queued carries the same code and the reason.
    assert verdict.close_frame is not None
    [close], rest = parse_frames(verdict.close_frame)
    assert rest == b""
    assert close.opcode == Opcode.CLOSE
    assert int.from_bytes(close.payload[:2], "big") == code
    assert close.payload[2:] == verdict.reason.encode()[:123]
    assert verdict.events[-1].startswith(f"FAILED {code} ")


# --- presets through the real engine ----------------------------------------------------


def test_the_brief_s_presets_are_offered_in_order() -> None:
    names = [p.name for p in presets(CLIENT_HELLO, True)]
    assert names[:9] == [
        "clear MASK",
        "set RSV1",
        "reserved opcode 0x3",
        "length says more than sent",
        "invalid UTF-8 in text",
        "ping with 126-byte payload",
        "fragmented ping",
        "close code 1005 on the wire",
        "length over the 1 MiB limit",
    ]
    assert set(names) <= set(EXPECTED) | SPECIAL
    assert "set MASK" in [p.name for p in presets(SERVER_HELLO, False)]


@pytest.mark.parametrize(
    ("frame_name", "frame", "from_client", "preset"),
    [case for case in all_presets() if case[3].name not in SPECIAL],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_each_preset_gets_its_close_code_from_the_engine(
    frame_name: str, frame: bytes, from_client: bool, preset: Preset
) -> None:
    verdict = judge(preset.apply(frame), from_client=from_client)
    assert verdict.violation is BROKEN[preset.name], verdict
    assert_rejected(verdict, *EXPECTED[preset.name])


@pytest.mark.parametrize(("frame", "from_client"), FRAMES.values(), ids=list(FRAMES))
def test_length_says_more_than_sent_leaves_the_receiver_waiting(
    frame: bytes, from_client: bool
) -> None:
    [preset] = [p for p in presets(frame, from_client) if p.name == "length says more than sent"]
    broken = preset.apply(frame)
    assert len(broken) == len(frame)
    verdict = judge(broken, from_client=from_client)
    assert verdict.waiting == 10
    assert verdict.incomplete and not verdict.accepted
    assert verdict.reason == "incomplete: the receiver waits for 10 more bytes"
    assert verdict.close_code is None and verdict.close_frame is None
    assert verdict.events == [] and verdict.answer == b""
    assert verdict.section == "§5.2"


def test_length_says_less_than_sent_turns_the_rest_into_a_bad_header() -> None:
    [preset] = [p for p in presets(CLIENT_HELLO, True) if p.name == "length says less than sent"]
    verdict = judge(preset.apply(CLIENT_HELLO))
    # "He" is a whole message; the 3 bytes left (4d 51 58, still masked) read as a header
    # whose first byte 0x4d has RSV1 set and opcode 0xd.
    assert verdict.events[0] == "TEXT 'He' [2 chars]"
    assert verdict.violation is Violation.RSV_WITHOUT_EXTENSION
    assert_rejected(verdict, 1002, "§5.2", "RSV bits set without a negotiated extension")


def test_length_says_less_than_sent_after_a_close_is_ignored() -> None:
    frame, _ = FRAMES["client-close"]
    [preset] = [p for p in presets(frame, True) if p.name == "length says less than sent"]
    verdict = judge(preset.apply(frame))
    # §1.4/§5.5.1: after a close frame the receiver reads no more data; the cut-off
    # reason's bytes are discarded, and the close (code only) is echoed.
    assert verdict.accepted
    assert verdict.close_code == 1000
    assert verdict.events == [
        "CLOSE 1000 (normal closure: the purpose of the connection has been fulfilled) ''"
    ]


def test_a_longer_length_form_than_needed_is_accepted() -> None:
    # RFC 6455 §5.2 tells the *sender* to use the minimal length encoding; it sets no rule
    # for a receiver, and the engine (like the websockets library) accepts the frame.
    [preset] = [p for p in presets(CLIENT_HELLO, True) if p.name == "length in the 16-bit form"]
    broken = preset.apply(CLIENT_HELLO)
    assert broken[1] == 0x80 | 126 and broken[2:4] == b"\x00\x05"
    verdict = judge(broken)
    assert verdict.accepted
    assert verdict.events == ["TEXT 'Hello' [5 chars]"]


def test_the_size_limit_follows_max_size() -> None:
    frame = masked(Opcode.BINARY, b"\x00" * 100)
    assert judge(frame, max_size=100).accepted
    verdict = judge(frame, max_size=99)
    assert verdict.violation is Violation.MESSAGE_TOO_BIG
    assert_rejected(verdict, 1009, "§10.4", "message of more than 99 bytes")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_must_the_engine_enforces_names_its_rule(case: MustCase) -> None:
    verdict = judge(case.wire)
    assert verdict.close_code == case.close_code
    assert verdict.section.startswith(case.rule), (verdict.section, case.rule)
    assert verdict.rule.startswith(f"RFC 6455 {verdict.section}: ")
    assert verdict.violation is case.violation  # the rule the engine reported, as data
    assert verdict.rule != rule_for(None, case.close_code)[1]  # not the fallback


# --- accepted and incomplete frames -----------------------------------------------------


@pytest.mark.parametrize(("frame", "from_client"), FRAMES.values(), ids=list(FRAMES))
def test_an_unchanged_frame_is_accepted(frame: bytes, from_client: bool) -> None:
    verdict = judge(frame, from_client=from_client)
    assert verdict.accepted
    assert verdict.waiting is None
    assert len(verdict.events) == 1
    assert verdict.reason == f"accepted: {verdict.events[0]}"
    assert verdict.rule.startswith(f"RFC 6455 {verdict.section}: ")


def test_accepted_verdicts_name_what_the_engine_did() -> None:
    text = judge(CLIENT_HELLO)
    assert text.events == ["TEXT 'Hello' [5 chars]"]
    assert text.close_code is None and text.close_frame is None and text.answer == b""
    assert text.section == "§6.2"

    ping = judge(FRAMES["client-ping"][0])
    assert ping.section == "§5.5.2" and "MUST send a Pong" in ping.rule
    assert ping.answer == serialize_frame(Opcode.PONG, b"are you there?")  # servers never mask
    assert ping.replies == ["PONG 'are you there?' [14 bytes]"]

    close = judge(FRAMES["client-close"][0])
    assert close.section == "§5.5.1" and close.close_code == 1000
    assert close.close_frame == serialize_frame(Opcode.CLOSE, close_payload(1000, b"bye"))


def test_a_client_s_answer_is_masked() -> None:
    verdict = judge(serialize_frame(Opcode.TEXT, b"hi", rsv1=True), from_client=False)
    assert verdict.close_code == 1002
    assert verdict.close_frame is not None
    [close], _ = parse_frames(verdict.close_frame)
    assert close.masking_key == KEY  # the sandbox's client masks with RFC 6455 §5.7's key


def test_a_first_fragment_is_accepted_and_the_receiver_waits_for_the_rest() -> None:
    verdict = judge(masked(Opcode.TEXT, b"Hel", fin=False))
    assert verdict.accepted and verdict.events == [] and verdict.waiting is None
    assert verdict.section == "§5.4"
    assert "first fragment" in verdict.reason


@pytest.mark.parametrize(
    ("wire", "waiting", "words"),
    [
        (b"", 2, "at least 2 more bytes"),
        (b"\x81", 1, "at least 1 more byte"),
        # The length is not known yet: the rest of the header (2 + 2 + 4 bytes) at least.
        (b"\x81\xfe\x00", 5, "at least 5 more bytes"),
        (b"\x81\xfe\x00\x05", 9, "9 more bytes"),  # the masking key and 5 payload bytes
        (CLIENT_HELLO[:-2], 2, "2 more bytes"),
        (CLIENT_HELLO + CLIENT_HELLO[:3], 8, "8 more bytes"),  # a whole frame, then 3 bytes
    ],
)
def test_bytes_cut_short_are_reported_as_incomplete(wire: bytes, waiting: int, words: str) -> None:
    verdict = judge(wire)
    assert verdict.waiting == waiting
    assert not verdict.accepted and verdict.close_frame is None
    assert verdict.reason == f"incomplete: the receiver waits for {words}"


def test_the_same_bytes_get_the_same_verdict() -> None:
    broken = toggle_bit(1, 0).apply(CLIENT_HELLO)
    assert judge(broken) == judge(broken)


# --- the rule table -------------------------------------------------------------------


def test_a_failure_without_a_violation_falls_back_to_the_close_code() -> None:
    assert rule_for(None, 1002) == (
        "§7.4.1",
        "RFC 6455 §7.4.1: 1002 indicates that an endpoint is terminating the connection "
        "due to a protocol error",
    )
    section, rule = rule_for(None, 1011)
    assert section == "§7.4.1" and explain(1011) in rule


def test_a_rule_keyed_by_a_close_code_needs_that_code() -> None:
    assert rule_for(Violation.TEXT_NOT_UTF8, 1007)[0] == "§8.1"
    assert rule_for(Violation.TEXT_NOT_UTF8, 1002)[0] == "§7.4.1"


@pytest.mark.parametrize(
    ("code", "section", "words"),
    [
        (1005, "§7.4.1", "MUST NOT be set"),
        (1015, "§7.4.1", "MUST NOT be set"),
        (999, "§7.4.2", "0-999 are not used"),
        (1004, "§7.4.1", "reserved"),
        (2000, "§7.4.2", "1000-2999"),
        (5000, "§7.4.2", "1000 to 4999"),
    ],
)
def test_invalid_close_codes_get_their_range_s_rule(code: int, section: str, words: str) -> None:
    verdict = judge(masked(Opcode.CLOSE, close_payload(code)))
    assert verdict.close_code == 1002 and verdict.section == section
    assert words in verdict.rule


# --- edits ----------------------------------------------------------------------------


def test_bits_count_from_the_most_significant() -> None:
    assert toggle_bit(0, 0).apply(CLIENT_HELLO)[0] == 0x01  # FIN
    assert toggle_bit(0, 1).apply(CLIENT_HELLO)[0] == 0xC1  # RSV1
    assert toggle_bit(1, 0).apply(CLIENT_HELLO)[1] == 0x05  # MASK
    assert str(toggle_bit(1, 0)) == "flip byte 1 bit 0 (MASK)"


def test_set_length_rewrites_the_7_bit_field_only() -> None:
    broken = set_length(100).apply(CLIENT_HELLO)
    assert broken == CLIENT_HELLO[:1] + bytes([0x80 | 100]) + CLIENT_HELLO[2:]
    assert changed_offsets(CLIENT_HELLO, broken) == {1}


def test_set_payload_masks_with_the_frame_s_key_and_tells_the_truth() -> None:
    assert set_payload_bytes(b"Hello").apply(CLIENT_HELLO) == CLIENT_HELLO
    bigger = set_payload_bytes(b"x" * 300).apply(CLIENT_HELLO)
    assert bigger == masked(Opcode.TEXT, b"x" * 300)  # 16-bit length form, re-masked
    assert set_payload_bytes(b"hi").apply(SERVER_HELLO) == serialize_frame(Opcode.TEXT, b"hi")


def test_announce_length_keeps_the_payload() -> None:
    broken = announce_length(70000).apply(CLIENT_HELLO)
    assert broken[1] == 0x80 | 127 and int.from_bytes(broken[2:10], "big") == 70000
    assert broken[10:] == CLIENT_HELLO[2:]
    assert changed_offsets(CLIENT_HELLO, broken) == frozenset(range(1, 10))


def test_edits_that_cannot_apply_say_why() -> None:
    with pytest.raises(EditError, match="past the end"):
        apply_edits(CLIENT_HELLO, [set_byte(11, 0)])
    with pytest.raises(EditError):
        toggle_bit(0, 8)
    with pytest.raises(EditError):
        set_length(128)
    with pytest.raises(EditError):
        set_byte(0, 256)
    with pytest.raises(EditError, match="incomplete"):
        set_payload_bytes(b"x").apply(b"\x81\xfe\x00")


def test_header_fields_use_the_engine_s_spans() -> None:
    fields = {f.name: f for f in header_fields(CLIENT_HELLO)}
    assert list(fields) == [
        "fin", "rsv1", "rsv2", "rsv3", "opcode", "mask", "payload_length", "masking_key",
    ]  # fmt: skip
    assert fields["opcode"].display == "0x1 text" and fields["opcode"].bits == (4, 8)
    assert fields["mask"].is_flag and fields["mask"].flip() == toggle_bit(1, 0)
    assert fields["masking_key"].display == "37 fa 21 3d"
    assert (fields["masking_key"].start, fields["masking_key"].end) == (2, 6)

    # A lie shows what the header says, not what arrived.
    lying = {f.name: f for f in header_fields(announce_length(300).apply(CLIENT_HELLO))}
    assert lying["payload_length"].display == "126 → 16-bit"
    assert lying["extended_payload_length"].value == 300


def test_header_fields_turn_typed_values_into_edits() -> None:
    fields = {f.name: f for f in header_fields(CLIENT_HELLO)}
    broken = apply_edits(CLIENT_HELLO, fields["opcode"].edits_for("0xb"))
    assert broken[0] == 0x8B
    assert apply_edits(CLIENT_HELLO, fields["masking_key"].edits_for("00 00 00 00"))[2:6] == (
        b"\x00" * 4
    )
    assert fields["fin"].edits_for("1") == ()
    with pytest.raises(EditError, match="0–127"):
        fields["payload_length"].edits_for("300")
    with pytest.raises(EditError, match="not a number"):
        fields["opcode"].edits_for("text")


# --- every verdict says what happened -----------------------------------------------------

VARIED = varied_frames()


def test_the_varied_frames_reach_every_outcome() -> None:
    statuses = {judge(wire, from_client=side).status for _, wire, side in VARIED}
    assert statuses == {"ACCEPTED", "REJECTED", "INCOMPLETE"}
    assert len(VARIED) > 400


def test_every_verdict_says_what_happened_after_the_dot() -> None:
    wrong = []
    for name, wire, from_client in VARIED:
        verdict = judge(wire, from_client=from_client)
        status, dot, what = verdict.headline.partition(" · ")
        receiver = "server" if from_client else "client"
        if status != verdict.status or not dot or not what.strip():
            wrong.append(f"{name}: {verdict.headline!r}")
        elif verdict.status == "REJECTED" and not what.startswith(f"close {verdict.close_code}: "):
            wrong.append(f"{name}: a rejection that does not name its close code: {what}")
        elif verdict.status == "INCOMPLETE" and f"the {receiver} waits for" not in what:
            wrong.append(f"{name}: incomplete, but not what the receiver waits for: {what}")
        elif verdict.status == "ACCEPTED" and f"the {receiver} " not in what:
            wrong.append(f"{name}: accepted, but not what the receiver did: {what}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("from_client", [True, False])
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
def test_a_first_fragment_says_the_receiver_waits_for_continuations(
    opcode: Opcode, from_client: bool
) -> None:
    frame = serialize_frame(opcode, b"Hel", fin=False, masking_key=KEY if from_client else None)
    verdict = judge(frame, from_client=from_client)
    receiver = "server" if from_client else "client"
    assert verdict.accepted and verdict.events == []
    assert verdict.summary == (
        f"the first fragment of a {opcode.name} message (3 bytes so far): the {receiver} "
        "waits for continuation frames (opcode 0x0, the last with FIN = 1) before it "
        "delivers the message"
    )


def test_accepted_frames_say_what_the_receiver_delivered_or_answered() -> None:
    assert judge(CLIENT_HELLO).summary == (
        "the server delivered a TEXT message of 5 bytes to its application"
    )
    assert judge(masked(Opcode.TEXT, "café".encode())).summary == (
        "the server delivered a TEXT message of 5 bytes to its application"  # bytes, not chars
    )
    assert judge(masked(Opcode.BINARY, b"\x00")).summary == (
        "the server delivered a BINARY message of 1 byte to its application"
    )
    assert judge(FRAMES["client-ping"][0]).summary == (
        "the server answered the PING (14 bytes) with a PONG carrying the same data"
    )
    assert judge(FRAMES["server-pong"][0], from_client=False).summary == (
        "the client took the PONG (2 bytes) as a heartbeat; a PONG needs no answer"
    )
    assert judge(FRAMES["client-close"][0]).summary == (
        "the server got a CLOSE with code 1000 (normal closure), echoed it and closed the "
        "connection"
    )
    assert judge(masked(Opcode.CLOSE)).summary == (
        "the server got a CLOSE without a status code, echoed it and closed the connection"
    )
    fragments = masked(Opcode.TEXT, b"Hel", fin=False) + masked(0x0, b"l", fin=False)
    assert judge(fragments).summary.startswith("2 fragments of a TEXT message (4 bytes so far)")
    ping_inside = masked(Opcode.TEXT, b"Hel", fin=False) + masked(Opcode.PING, b"?")
    assert judge(ping_inside).summary == (
        "the server answered the PING (1 byte) with a PONG carrying the same data; then "
        "the first fragment of a TEXT message (3 bytes so far): the server waits for "
        "continuation frames (opcode 0x0, the last with FIN = 1) before it delivers the message"
    )


def test_an_incomplete_frame_says_what_the_receiver_waits_for() -> None:
    assert judge(CLIENT_HELLO[:-1]).summary == (
        "the server waits for 1 more byte before it acts on the frame"
    )
    assert judge(CLIENT_HELLO + CLIENT_HELLO[:3]).summary == (
        "the server delivered a TEXT message of 5 bytes to its application; then the server "
        "waits for 8 more bytes before it acts on the frame"
    )


# --- the violations the engine reports --------------------------------------------------

# What the sandbox's receiver (no extension, a 1 MiB limit) never reports: those need
# permessage-deflate, a frame reader with a per-frame limit, or more than 16,000 fragments.
# tests/ws/test_violations.py reaches each of them.
BEYOND_THE_SANDBOX = {
    Violation.RSV_ON_CONTROL_FRAME,
    Violation.RSV1_ON_CONTINUATION,
    Violation.CORRUPT_COMPRESSED_DATA,
    Violation.INFLATED_TOO_BIG,
    Violation.FRAME_TOO_BIG,
    Violation.TOO_MANY_FRAGMENTS,
}


def test_every_violation_the_sandbox_s_engine_can_report_is_reached_and_named() -> None:
    verdicts = [judge(wire, from_client=side) for _, wire, side in VARIED]
    found = {verdict.violation for verdict in verdicts}
    assert found - {None} == set(Violation) - BEYOND_THE_SANDBOX
    for verdict in verdicts:
        if verdict.violation is None:
            assert verdict.status != "REJECTED", verdict  # every refusal names its rule
            continue
        assert verdict.close_code == verdict.violation.close_code, verdict
        assert verdict.rfc == verdict.violation.rfc, verdict
        assert verdict.rule != rule_for(None, verdict.violation.close_code)[1]


@pytest.mark.parametrize("violation", list(Violation), ids=lambda v: v.name)
def test_every_violation_is_cited_with_its_section(violation: Violation) -> None:
    citation = cite(violation, violation.close_code)
    assert (citation.rfc, citation.section) == (violation.rfc, violation.clause)
    assert citation.rule == violation.cited
    # With the failing frame's numbers, the same rule (or, for a close code, its range's).
    facts = FrameFacts(Opcode.CLOSE, 2, 1004, 1 << 20)
    assert cite(violation, violation.close_code, facts).section.startswith(violation.clause)


def test_a_violation_from_an_extension_names_its_rfc() -> None:
    citation = cite(Violation.RSV1_ON_CONTINUATION, 1002)
    assert citation.rule.startswith("RFC 7692 §6: ")


def test_a_violation_s_numbers_come_from_the_frame_s_bytes() -> None:
    # "He" is whole; the rest is read as a header: 0x4d has RSV1 set and opcode 0xd.
    broken = set_length(2).apply(CLIENT_HELLO)
    facts = frame_facts(broken, limit=100)
    assert [f.opcode for f in facts] == [Opcode.TEXT, 0xD]
    second = masked(Opcode.TEXT, b"hi") + masked(0xB, b"x")
    verdict = judge(second)
    assert verdict.violation is Violation.RESERVED_OPCODE
    assert "(here 0xb)" in verdict.rule
    close = judge(masked(Opcode.CLOSE, close_payload(2000)))
    assert close.violation is Violation.INVALID_CLOSE_CODE and "2000 is not" in close.rule
    assert "announced 126" in judge(masked(Opcode.PING, b"p" * 126)).rule
