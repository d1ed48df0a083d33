"""No text from outside is ever read as Rich/Textual markup.

`notify()` reads its message as markup unless told otherwise, so a close reason with
`[/b]` crashed a follower and `[@click=app.quit]` was live. Every call in wirelab
passes `markup=False`, or a message that is a plain literal with no "[" in it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import simulator

SOURCE = Path(simulator.__file__).parent


def calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == name
            ):
                found.append((path, node))
    return found


def plain_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and "[" not in node.value


def test_every_notification_is_plain_text() -> None:
    found = calls("notify")
    assert len(found) >= 10  # the search finds them
    unsafe = []
    for path, call in found:
        receiver = call.func.value  # type: ignore[attr-defined]
        if isinstance(receiver, ast.Attribute) and receiver.attr == "server":
            continue  # the live server's note callback: `serve` passes it on as plain text
        markup = next((k.value for k in call.keywords if k.arg == "markup"), None)
        if isinstance(markup, ast.Constant) and markup.value is False:
            continue
        if call.args and plain_literal(call.args[0]):
            continue
        unsafe.append(f"{path.relative_to(SOURCE.parent)}:{call.lineno}")
    assert unsafe == [], f"notify() reading its text as markup: {unsafe}"
