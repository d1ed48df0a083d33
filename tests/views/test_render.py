"""Pure rendering: hex lines, the bit ruler, packet-list cells, conversation lines."""

from __future__ import annotations

from simulator.dissect.conversation import Turn
from simulator.dissect.hexdump import (
    Piece,
    bit_value,
    byte_at,
    hex_line,
    hex_width,
    offset_digits,
    where,
)
from simulator.views.inspector import Row
from simulator.views.render import (
    bit_ruler,
    columns,
    conversation_lines,
    fit,
    heading_cells,
    row_cells,
)

FRAME = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58") + b"Hello, world!\x00\xff"


def text(pieces: list[Piece]) -> str:
    return "".join(piece.text for piece in pieces)


def marked(pieces: list[Piece], state: str) -> str:
    return "".join(piece.text for piece in pieces if state in piece.state.split())


def test_hex_line_layout() -> None:
    line = text(hex_line(FRAME, 0, digits=4))
    assert line == ("0000  81 85 37 fa 21 3d 7f 9f  4d 51 58 48 65 6c 6c 6f  ..7.!=..MQXHello")
    assert len(line) == hex_width(4)


def test_last_row_is_padded_so_ascii_lines_up() -> None:
    line = text(hex_line(FRAME, 1, digits=4))
    assert line == "0010  2c 20 77 6f 72 6c 64 21  00 ff" + " " * 18 + "  , world!.."
    assert line.index(",", 10) == text(hex_line(FRAME, 0, digits=4)).index("..7")


def test_highlight_covers_the_bytes_and_the_gaps_between_them() -> None:
    pieces = hex_line(FRAME, 0, digits=4, highlight=(2, 6))
    assert marked(pieces, "highlight") == "37 fa 21 3d7.!="
    # across the middle gap of the row
    pieces = hex_line(FRAME, 0, digits=4, highlight=(7, 9))
    assert marked(pieces, "highlight") == "9f  4d.M"


def test_highlight_spanning_rows_marks_only_this_rows_part() -> None:
    assert marked(hex_line(FRAME, 1, digits=4, highlight=(14, 18)), "highlight") == "2c 20, "
    assert marked(hex_line(FRAME, 0, digits=4, highlight=(14, 18)), "highlight") == "6c 6flo"


def test_cursor_is_one_byte_in_both_columns() -> None:
    pieces = hex_line(FRAME, 0, digits=4, highlight=(0, 2), cursor=1)
    assert marked(pieces, "cursor") == "85."
    assert [p.state for p in pieces if p.text == "85"] == ["highlight cursor"]


def test_unprintable_bytes_are_dots_of_their_own_kind() -> None:
    pieces = hex_line(b"A\x00B", 0, digits=4)
    assert [(p.text, p.kind) for p in pieces if p.kind in ("ascii", "dot")] == [
        ("A", "ascii"),
        (".", "dot"),
        ("B", "ascii"),
    ]


def test_offset_digits_grow_with_the_buffer() -> None:
    assert offset_digits(0) == 4
    assert offset_digits(0x10000) == 4
    assert offset_digits(0x10001) == 5
    assert offset_digits(16 << 20) == 6


def test_hex_line_reads_only_its_row_of_a_16_mib_buffer() -> None:
    big = bytes(16 << 20)
    last = (len(big) - 1) // 16
    assert text(hex_line(big, last, digits=6)).startswith("fffff0  00 00")


def test_byte_at_maps_cells_back_to_bytes() -> None:
    line = text(hex_line(FRAME, 0, digits=4))
    for column in range(16):
        hex_x = line.index(f"{FRAME[column]:02x}", 6 + 3 * column)
        assert byte_at(hex_x, digits=4) == column
        assert byte_at(hex_x + 1, digits=4) == column
        assert byte_at(hex_width(4) - 16 + column, digits=4) == column
    assert byte_at(0, digits=4) is None  # the offset
    assert byte_at(8, digits=4) is None  # a gap
    assert byte_at(hex_width(4), digits=4) is None


def test_bit_ruler_for_a_websocket_opcode() -> None:
    fields = [("fin", (0, 1)), ("rsv1", (1, 2)), ("rsv2", (2, 3)), ("rsv3", (3, 4)),
              ("opcode", (4, 8)), ("mask", (8, 9)), ("payload_length", (9, 16))]  # fmt: skip
    pieces = bit_ruler(FRAME, (4, 8), fields)
    assert "".join(t for t, _ in pieces) == "1000 0001  fin=1 rsv1=0 rsv2=0 rsv3=0 opcode=0001"
    assert [t for t, on in pieces if on] == ["0001", "opcode=0001"]


def test_bit_ruler_marks_bits_across_a_nibble_and_shows_only_that_byte() -> None:
    pieces = bit_ruler(FRAME, (9, 16), [("mask", (8, 9)), ("payload_length", (9, 16))])
    assert "".join(t for t, _ in pieces) == "1000 0101  mask=1 payload_length=0000101"
    assert [t for t, on in pieces if on] == ["000 0101", "payload_length=0000101"]


def test_bit_ruler_for_a_field_spanning_two_bytes() -> None:
    pieces = bit_ruler(b"\x12\x34", (4, 12), [("middle", (4, 12))])
    assert "".join(t for t, _ in pieces) == "0001 0010  0011 0100  middle=00100011"


def test_bit_value() -> None:
    assert bit_value(b"\x81", (0, 1)) == "1"
    assert bit_value(b"\x81", (4, 8)) == "0001"


def test_fit_cuts_with_an_ellipsis_and_pads() -> None:
    assert fit("hello", 8) == "hello   "
    assert fit("hello", 8, right=True) == "   hello"
    assert fit("hello world", 8) == "hello w…"
    assert fit("a\nb", 3) == "a b"
    assert fit("x", 0) == ""


def test_packet_row_cells_fill_the_width() -> None:
    row = Row(12, 1.5, "127.0.0.1:50312", "127.0.0.1:8765", "WebSocket", 11, "TEXT 'hi'")
    for width in (78, 100, 118, 160):
        cols = columns(width, 100_000)
        line = " ".join(row_cells(row, cols))
        assert len(line) == width, width
        assert len(" ".join(heading_cells(cols))) == width
    cols = columns(118, 100_000)
    assert row_cells(row, cols)[:2] == ["    12", "  1.500000"]
    assert columns(78, 9).time == 8 and row_cells(row, columns(78, 9))[1] == "   1.500"


def test_conversation_lines_wrap_and_mark_who_spoke() -> None:
    turns = [
        Turn("client", "packet 1", "GET / HTTP/1.1\nHost: x\n\n"),
        Turn("server", "packet 2", "a" * 25),
    ]
    lines = conversation_lines(turns, 10)
    assert [(line.text, line.direction, line.header) for line in lines] == [
        ("▶ client …", "client", True),
        ("GET / ", "client", False),
        ("HTTP/1.1", "client", False),
        ("Host: x", "client", False),
        ("", "server", False),
        ("◀ server …", "server", True),
        ("aaaaaaaaaa", "server", False),
        ("aaaaaaaaaa", "server", False),
        ("aaaaa", "server", False),
    ]


def test_where_names_bytes_and_bits_as_rfc_diagrams_count_them() -> None:
    assert where(2, 6) == "bytes 2–5"
    assert where(7, 8) == "byte 7"
    assert where(4, 4) == "at byte 4"
    assert where(0, 1, (4, 8)) == "byte 0, bits 4–7"
    assert where(33, 34, (264, 265)) == "byte 33, bit 0"
    assert where(32, 34, (260, 272)) == "bytes 32–33, bits 4–15"
