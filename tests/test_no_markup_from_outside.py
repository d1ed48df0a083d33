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


def safe_border(node: ast.expr) -> bool:
    """A border title a widget cannot read as markup: a plain literal, a `Text(...)`, or a
    choice between such."""
    if isinstance(node, ast.IfExp):
        return safe_border(node.body) and safe_border(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "Text"
    return plain_literal(node)


def test_every_border_title_is_plain_text() -> None:
    """A border title or subtitle given as a string is read as markup: a filter with
    "[/]" in a quoted value, or a capture file named so, crashed the inspector."""
    found, unsafe = 0, []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                for name in names:
                    if isinstance(name, ast.Attribute) and name.attr in (
                        "border_title",
                        "border_subtitle",
                    ):
                        found += 1
                        if isinstance(target, ast.Tuple) or not safe_border(node.value):
                            unsafe.append(f"{path.relative_to(SOURCE.parent)}:{node.lineno}")
    assert found >= 15  # the search finds them
    assert unsafe == [], f"border titles read as markup: {unsafe}"
