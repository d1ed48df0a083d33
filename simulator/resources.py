"""Locate the course (`lessons/`) and `assets/` from a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # A wheel carries the folders as package data; a checkout has them beside the package.
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"wirelab's {name}/ folder is missing from this installation")


def lessons_dir() -> Path:
    """The built-in course."""
    return _find("lessons")


def assets_dir() -> Path:
    """Static files: the browser client page, sample captures, diagrams, theme."""
    return _find("assets")
