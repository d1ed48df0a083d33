"""The home screen: the course with per-lesson progress, continue, the modes, the inspector."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from simulator.tui.screens.help import HelpScreen

if TYPE_CHECKING:
    from simulator.tui.course import CourseApp

BAR = 10  # cells of a progress bar


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR * done / total) if total else 0
    return "█" * filled + "░" * (BAR - filled)


class HomeScreen(Screen[None]):
    """Lessons in course order, each with how far the learner got."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Learn", show=True),
        Binding("c", "resume", "Continue"),
        Binding("t", "teach", "Teach"),
        Binding("i", "inspector", "Inspector"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    @property
    def course_app(self) -> CourseApp:
        from simulator.tui.course import CourseApp

        assert isinstance(self.app, CourseApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Vertical(id="home"):
            yield Static(
                "[b]wirelab[/b] — how bytes really cross a network, layer by layer",
                id="home-title",
            )
            yield Static(id="home-resume")
            yield OptionList(id="lessons")
            yield Static(id="home-note")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_course()
        self.query_one(OptionList).focus()
        app = self.course_app
        if app.progress.problem:
            self.notify(app.progress.problem, title="Progress", severity="warning", timeout=10)

    def on_screen_resume(self) -> None:
        self.refresh_course()

    def refresh_course(self) -> None:
        app = self.course_app
        course, progress = app.course, app.progress
        options: list[Option] = []
        width = self.app.size.width
        title_width = max(16, min(48, width - 42))
        for number, lesson in enumerate(course.lessons, 1):
            mine = progress.lessons.get(lesson.id)
            steps = len(lesson.steps)
            seen = min(mine.step + 1, steps) if mine else 0
            mark = "✓" if mine and mine.done else " "
            line = Text.assemble(
                (f"{mark} {number:2}. ", "bold"),
                (f"{lesson.title:<{title_width}.{title_width}}", ""),
                (f" {progress_bar(seen, steps)} ", "green" if mine and mine.done else "cyan"),
                (f"{seen:>2}/{steps} steps", "dim"),
                (f" · {lesson.level}" if width >= 100 else "", "dim"),
            )
            options.append(Option(line, id=lesson.id))
        for path, problems in course.broken:
            line = Text.assemble(
                ("  ✗  ", "bold red"), (f"{path.name}: {problems[0].message}", "red")
            )
            options.append(Option(line, id=f"broken:{path}", disabled=False))
        lessons = self.query_one(OptionList)
        highlighted = lessons.highlighted
        lessons.clear_options()
        lessons.add_options(options)
        if options:
            lessons.highlighted = min(highlighted or 0, len(options) - 1)
        last = course.find(progress.last) if progress.last else None
        resume = self.query_one("#home-resume", Static)
        if last is not None and last.id in progress.lessons:
            step = progress.lessons[last.id].step + 1
            resume.update(f"Press [b]c[/b] to continue “{last.title}” at step {step}.")
        else:
            resume.update("Pick a lesson and press [b]Enter[/b]; [b]t[/b] opens it for a class.")
        total = len(course.lessons)
        done = sum(
            1 for lesson in course.lessons if (p := progress.lessons.get(lesson.id)) and p.done
        )
        note = f"{done} of {total} lessons done · progress is kept in {progress.path}"
        if course.broken:
            note += f" · {len(course.broken)} lesson file(s) could not be read (see ✗)"
        self.query_one("#home-note", Static).update(note)

    def _chosen(self) -> str | None:
        lessons = self.query_one(OptionList)
        if lessons.highlighted is None:
            return None
        return lessons.get_option_at_index(lessons.highlighted).id

    @on(OptionList.OptionSelected)
    def option_selected(self, event: OptionList.OptionSelected) -> None:
        self.open(event.option.id, teach=False)

    def open(self, chosen: str | None, *, teach: bool) -> None:
        if chosen is None:
            return
        if chosen.startswith("broken:"):
            path = chosen.removeprefix("broken:")
            problems = next(p for f, p in self.course_app.course.broken if str(f) == path)
            self.course_app.show_error(
                "This lesson cannot be opened", "\n".join(map(str, problems))
            )
            return
        self.course_app.open_lesson(chosen, teach=teach)

    def action_open(self) -> None:
        self.open(self._chosen(), teach=False)

    def action_teach(self) -> None:
        self.open(self._chosen(), teach=True)

    def action_resume(self) -> None:
        last = self.course_app.progress.last
        if last is None:
            self.notify("Nothing to continue yet: pick a lesson.")
            return
        self.course_app.open_lesson(last, teach=False)

    def action_inspector(self) -> None:
        self.course_app.open_sample_inspector()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen([("Home", self.BINDINGS)]))


__all__ = ["HomeScreen", "progress_bar"]
