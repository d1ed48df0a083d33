"""The filter bar: type a display filter, see at once whether it is valid, apply it with Enter."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from simulator.dissect.filters import PROTOCOL_ALIASES, FilterError, compile_filter
from simulator.dissect.registry import completions
from simulator.tui.messages import FilterSubmitted

PLACEHOLDER = "filter, e.g.  ws.opcode == text and tcp.port == 8765   (Enter applies)"


class FilterSyntax(Validator):
    """Valid when `compile_filter` accepts the text; the failure names the column."""

    def validate(self, value: str) -> ValidationResult:
        try:
            compile_filter(value)
        except FilterError as error:
            return self.failure(str(error), value)
        return self.success()


_LAST_NAME = re.compile(r"(?:^|(?<=[\s(!&|]))([A-Za-z][A-Za-z0-9_.\-]*)\Z")
_AFTER = re.compile(r"(?:^|[(!]|&&|\|\||\b(?:and|or|not))\s*\Z", re.IGNORECASE)


class FieldNames(Suggester):
    """Completes the field name being typed from the field registry: the first name, in
    order, that starts with what is typed (Tab or → takes it)."""

    def __init__(self) -> None:
        super().__init__(use_cache=True, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value)


def complete(value: str) -> str | None:
    """`value` with the name it ends in completed, or None when it ends in no name, or
    in a name nothing registered continues."""
    match = _LAST_NAME.search(value)
    if match is None or not _AFTER.search(value[: match.start()]):
        return None
    typed = match.group(1)
    head, dot, rest = typed.partition(".")
    spelled = PROTOCOL_ALIASES.get(head.lower())  # websocket.… is completed as ws.…
    prefix = f"{spelled}{dot}{rest}" if spelled and dot else typed
    for name in completions(prefix, limit=1):
        if len(name) > len(prefix):
            tail = name[len(prefix) :]
            return value + tail
    return None


class FilterBar(Input):
    """An `Input` for display filters: red border and the problem in its subtitle when invalid."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Apply the filter"),
        Binding("tab", "complete", "Complete the name", show=False),
        Binding("escape", "leave", "Back to the packets"),
    ]

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(
            placeholder=PLACEHOLDER,
            validators=[FilterSyntax()],
            suggester=FieldNames(),
            validate_on=["changed", "submitted"],
            name=name,
            id=id,
            classes=classes,
        )
        self.border_title = "Filter  /"
        self.applied = ""

    @on(Input.Changed)
    def _validated(self, event: Input.Changed) -> None:
        result = event.validation_result
        if result is None or result.is_valid:
            pending = event.value.strip() != self.applied.strip()
            self.border_subtitle = "Enter applies" if pending else ""
        else:
            # The filter's own text is in it (a quoted "[/]"): never markup.
            self.border_subtitle = Text("✗ " + "; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        result = event.validation_result
        if result is not None and not result.is_valid:
            self.app.bell()
            return
        self.applied = event.value
        self.border_subtitle = ""
        self.post_message(FilterSubmitted(compile_filter(event.value)))

    def action_complete(self) -> None:
        """Take the name suggested; with none, Tab moves on as anywhere else."""
        if self.cursor_at_end and self._suggestion and self._suggestion != self.value:
            self.action_cursor_right()
        else:
            self.screen.focus_next()

    def action_leave(self) -> None:
        self.screen.focus_next()
