"""The explanation bar: `code` spans styled without their backticks, nothing read as markup."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import App, ComposeResult

from simulator.dissect import Buffer, Dissection, Field
from simulator.tui.explanation import ExplanationBar
from tests.dissect.corpus import every_dissection

# Backticks that pair up into code spans (a span is one or more characters, one line).
BALANCED = re.compile(r"[^`]*(`[^`\n]+`[^`]*)*")


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ExplanationBar()


def with_bar(check: Callable[[ExplanationBar], Awaitable[None]]) -> None:
    async def main() -> None:
        app = Host()
        async with app.run_test(size=(120, 24)) as pilot:
            await pilot.pause()
            await check(app.query_one(ExplanationBar))

    asyncio.run(main())


def shown(bar: ExplanationBar) -> Text:
    content = bar.content
    assert isinstance(content, Text)
    return content


def crafted(explanation: str) -> tuple[Dissection, Field]:
    field = Field("ws.test", "Test field", 0, 2, value=b"[b", explanation=explanation)
    return Dissection("[bold]summary[/bold]", "Test", (field,), (Buffer("b", b"[b"),)), field


def test_a_code_span_shows_without_backticks_and_styled() -> None:
    async def check(bar: ExplanationBar) -> None:
        bar.show_field(*crafted("Run `wirelab accept KEY` for every step."))
        text = shown(bar)
        assert "Run wirelab accept KEY for every step." in text.plain
        assert "`" not in text.plain
        code = bar.get_component_rich_style("explanation--code", partial=True)
        assert code  # the component class styles something
        styled = [text.plain[s.start : s.end] for s in text.spans if s.style == code]
        assert styled == ["wirelab accept KEY"]

    with_bar(check)


def test_unbalanced_backticks_are_shown_as_they_are() -> None:
    async def check(bar: ExplanationBar) -> None:
        bar.show_field(*crafted("a `span`, then one ` alone"))
        assert "a span, then one ` alone" in shown(bar).plain

    with_bar(check)


def test_markup_in_an_explanation_is_shown_literally() -> None:
    async def check(bar: ExplanationBar) -> None:
        dissection, field = crafted("[bold]x[/bold] and `[red]y[/red]` [link=z]w[/link]")
        bar.show_field(dissection, field)
        text = shown(bar)
        assert "[bold]x[/bold] and [red]y[/red] [link=z]w[/link]" in text.plain
        assert not any("link" in str(span.style) for span in text.spans)
        bar.show_field(dissection, None)
        assert "[bold]summary[/bold]" in shown(bar).plain
        bar.say("[b]said[/b]")
        assert shown(bar).plain == "[b]said[/b]"
        # What reaches the screen is the same text, brackets and all.
        await bar.app.workers.wait_for_complete()
        screen_text = bar.app.export_screenshot()
        assert "[b]said[/b]" in screen_text.replace("&#160;", " ")

    with_bar(check)


def test_every_explanation_with_balanced_backticks_shows_none() -> None:
    # One of each distinct first line: the name, the span, the problem, the explanation.
    distinct = {
        (field.name, field.start, field.end, field.bits, field.problem, field.explanation):
        (name, dissection, field)
        for name, dissection in every_dissection()
        for _, field in dissection.walk()
        if field.explanation
    }  # fmt: skip
    fields = list(distinct.values())
    fields.append(("crafted", *crafted("Type `wirelab accept KEY`: see `RFC 6455 §4.2.2`.")))
    assert any("`" in field.explanation for _, _, field in fields)

    async def check(bar: ExplanationBar) -> None:
        wrong = []
        for name, dissection, field in fields:
            bar.show_field(dissection, field)
            plain = shown(bar).plain
            first_line = plain.split("\n", 1)[0]
            if BALANCED.fullmatch(field.explanation) and "`" in first_line:
                wrong.append(f"{name} {field.name}: {first_line}")
        assert not wrong, "\n".join(wrong[:20])

    with_bar(check)
