"""The explanation bar: one line about the selected field (or the packet), problems first."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from simulator.dissect import Dissection, Field
from simulator.dissect.hexdump import where


class ExplanationBar(Static):
    """Line 1: name, where, problem, explanation. Line 2 (if there is room): the whole value."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "explanation--name",
        "explanation--problem",
        "explanation--value",
    }

    DEFAULT_CSS = """
    ExplanationBar { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    ExplanationBar > .explanation--name { color: $text-accent; text-style: bold; }
    ExplanationBar > .explanation--problem { color: $text-error; text-style: bold; }
    ExplanationBar > .explanation--value { color: $text-muted; }
    """

    def show_field(self, dissection: Dissection | None, field: Field | None) -> None:
        name_style = self.get_component_rich_style("explanation--name", partial=True)
        problem_style = self.get_component_rich_style("explanation--problem", partial=True)
        value_style = self.get_component_rich_style("explanation--value", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        if field is not None:
            text.append(field.name, name_style)
            text.append(f"  {where(field.start, field.end, field.bits)}  ")
            if field.problem:
                text.append(f"⚠ {field.problem}  ", problem_style)
            text.append(field.explanation or str(field))
            text.append("\n" + str(field).replace("\n", " "), value_style)
        elif dissection is not None:
            for problem in dissection.problems:
                text.append(f"⚠ {problem}  ", problem_style)
            text.append(dissection.summary)
        self.update(text)

    def say(self, message: str) -> None:
        self.update(Text(message, no_wrap=True, overflow="ellipsis"))
