"""The Textual user interface: the hex-dump inspector (`wirelab inspect`, `wirelab serve`).

Only this package imports Textual; nothing imports it but the command line.
"""

from __future__ import annotations

from simulator.tui.app import InspectorApp
from simulator.tui.model import InspectorModel, Row, SourceModel, Turn, raw_dissection

__all__ = ["InspectorApp", "InspectorModel", "Row", "SourceModel", "Turn", "raw_dissection"]
