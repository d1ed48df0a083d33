"""Layering: only the UI imports Textual, the views and dissectors never import the UI,
and the HTTP layer stays sans-IO.

Every module is parsed, not imported, so an import inside a function counts as
much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simulator

PACKAGE = Path(simulator.__file__).parent
UI = ("simulator/tui/", "simulator/cli.py")  # may import Textual
# Must not import simulator.tui:
BELOW_THE_UI = ("simulator/views/", "simulator/dissect/", "simulator/sandbox/")
PURE = ("simulator/http/",)  # the stdlib and wirelab's root error only: no I/O, no UI
IMPURE = ("asyncio", "socket", "selectors", "textual", "scapy")


def modules() -> list[str]:
    """Every module of the package, as "simulator/dissect/http.py"."""
    return sorted(path.relative_to(PACKAGE.parent).as_posix() for path in PACKAGE.rglob("*.py"))


def imported(name: str) -> set[str]:
    """Every module `name` imports, anywhere in it, as absolute dotted names.

    `from a.b import c` counts as both `a.b` and `a.b.c` (c may be a module);
    relative imports are resolved against the module's own package.
    """
    path = PACKAGE.parent / name
    package = name.split("/")[:-1]  # a module's package; an __init__.py's own package
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_the_walk_sees_the_package_and_its_imports() -> None:
    names = set(modules())
    assert {"simulator/cli.py", "simulator/views/inspector.py", "simulator/tui/app.py"} <= names
    assert "textual.app" in imported("simulator/tui/app.py")
    assert "simulator.tui.app" in imported("simulator/cli.py")  # inside a function


@pytest.mark.parametrize("name", [name for name in modules() if not name.startswith(UI)])
def test_nothing_below_the_ui_imports_textual(name: str) -> None:
    assert not {module for module in imported(name) if within(module, "textual")}


@pytest.mark.parametrize("name", [name for name in modules() if name.startswith(BELOW_THE_UI)])
def test_views_and_dissectors_never_import_the_ui(name: str) -> None:
    assert not {module for module in imported(name) if within(module, "simulator.tui")}


@pytest.mark.parametrize("name", [name for name in modules() if name.startswith(PURE)])
def test_the_http_layer_is_pure(name: str) -> None:
    found = imported(name)
    assert not {module for module in found if any(within(module, bad) for bad in IMPURE)}
    ours = {module for module in found if within(module, "simulator")}
    assert all(within(m, "simulator.http") or within(m, "simulator.errors") for m in ours)
