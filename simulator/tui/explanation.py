"""The explanation bar: one line about the selected field (or the packet), problems first.

Explanations may mark inline code with backticks ("`wirelab accept KEY`"): the bar
drops the backticks and styles the span (`explanation--code`). Every piece is
appended to a `Text` as it is; nothing shown here is ever read as Rich markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from simulator.dissect import Dissection, Field
from simulator.dissect.hexdump import where as place
from simulator.text import split_code


class ExplanationBar(Static):
    """Line 1: name, where, problem, explanation. Line 2 (if there is room): the whole value."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "explanation--name",
        "explanation--problem",
        "explanation--value",
        "explanation--code",
    }

    DEFAULT_CSS = """
    ExplanationBar { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    ExplanationBar > .explanation--name { color: $text-accent; text-style: bold; }
    ExplanationBar > .explanation--problem { color: $text-error; text-style: bold; }
    ExplanationBar > .explanation--value { color: $text-muted; }
    ExplanationBar > .explanation--code { text-style: bold; background: $surface; }
    """

    def show_field(
        self,
        dissection: Dissection | None,
        field: Field | None,
        *,
        value: str | None = None,
        where: bool = True,
        hide: Callable[[str], str] = str,
    ) -> None:
        """`field` (or, without one, the packet) in the bar; `value` replaces the field's
        own line, or the packet's summary (a value held back), `where` False leaves out
        where its bytes are; `hide` takes a checkpoint's answer out of every text."""
        name_style = self.get_component_rich_style("explanation--name", partial=True)
        problem_style = self.get_component_rich_style("explanation--problem", partial=True)
        value_style = self.get_component_rich_style("explanation--value", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        if field is not None:
            text.append(field.name, name_style)
            text.append(f"  {place(field.start, field.end, field.bits)}  " if where else "  ")
            if field.problem:
                text.append(f"⚠ {hide(field.problem)}  ", problem_style)
            if field.explanation:
                self.append_explanation(text, hide(field.explanation))
            else:
                text.append(hide(value if value is not None else str(field)))
            line = hide(value if value is not None else str(field))
            text.append("\n" + line.replace("\n", " "), value_style)
        elif dissection is not None:
            for problem in dissection.problems:
                text.append(f"⚠ {hide(problem)}  ", problem_style)
            text.append(hide(value if value is not None else dissection.summary))
        self.update(text, layout=False)  # the bar's height is the stylesheet's

    def append_explanation(self, text: Text, explanation: str) -> None:
        """Append `explanation` to `text`, its `code` spans styled and their backticks dropped."""
        code_style = self.get_component_rich_style("explanation--code", partial=True)
        for piece, is_code in split_code(explanation):
            text.append(piece, code_style if is_code else "")

    def say(self, message: str) -> None:
        self.update(Text(message, no_wrap=True, overflow="ellipsis"), layout=False)
