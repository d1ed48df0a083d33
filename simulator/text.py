"""Wording helpers every layer may use: counts in words, inline code in explanations,
text from outside made safe to print."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["plural", "printable", "split_code"]


def plural(count: int, noun: str, *, many: str | None = None, grouped: bool = False) -> str:
    """`count` followed by `noun`, in the plural unless `count` is exactly 1.

    `plural(1, "byte")` is "1 byte", `plural(0, "byte")` "0 bytes". `many` is the
    plural where adding "s" is wrong (`plural(2, "entry", many="entries")`); `grouped`
    writes thousands separators (`plural(1024, "byte", grouped=True)` is "1,024 bytes").
    """
    number = f"{count:,}" if grouped else str(count)
    word = noun if count == 1 else many or f"{noun}s"
    return f"{number} {word}"


# A code span: one backtick, at least one character that is neither a backtick nor a
# line end, one backtick. A backtick left without a partner is plain text.
_CODE = re.compile(r"`([^`\n]+)`")


def split_code(text: str) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_code) in order, for explanations written with `code`.

    "run `wirelab accept KEY` to see" gives [("run ", False), ("wirelab accept KEY",
    True), (" to see", False)]: the backticks of a span are dropped, and a backtick
    with no partner stays in the plain text as it is. No piece is empty. The pieces
    are plain strings: a renderer styles them and must never read them as markup.
    """
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _CODE.finditer(text):
        if match.start() > position:
            pieces.append((text[position : match.start()], False))
        pieces.append((match.group(1), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but line feed and tab


def printable(text: str, *, limit: int | None = None) -> str:
    """`text` safe to print on a terminal: control characters (escape sequences that
    clear the screen, set the title or write the clipboard) and bidirectional overrides
    shown as escapes, line breaks and tabs kept; cut at `limit` characters with "…"."""
    if text.isascii() and _ASCII_CONTROL.search(text) is None:  # the common case, at C speed
        return text if limit is None or len(text) <= limit else text[:limit] + "…"
    out = []
    for char in text[: limit + 1] if limit is not None else text:
        if char in "\n\t":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char != "\u200d":
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    if limit is not None and len(text) > limit:
        out[limit:] = ["…"]
    return "".join(out)
