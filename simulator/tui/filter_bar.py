"""The filter bar: type a display filter, see at once whether it is valid, apply it with Enter."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from simulator.dissect.filters import FilterError, compile_filter
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


class FilterBar(Input):
    """An `Input` for display filters: red border and the problem in its subtitle when invalid."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Apply the filter"),
        Binding("escape", "leave", "Back to the packets"),
    ]

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(
            placeholder=PLACEHOLDER,
            validators=[FilterSyntax()],
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
            self.border_subtitle = "✗ " + "; ".join(result.failure_descriptions)

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

    def action_leave(self) -> None:
        self.screen.focus_next()
