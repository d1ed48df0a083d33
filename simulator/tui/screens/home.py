"""The home screen: the course with each lesson's completion, the selected lesson's
objectives, continue, the modes and the inspector.

A lesson's bar is its completion: the furthest step reached and the
checkpoints answered (a learner who went back to step 2 has still seen step 7).
`c` continues where the learner is, or with the next lesson once a lesson is
done. Lesson titles and objectives come from files: they are shown as typed,
never read as markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from simulator.lessons.course import Course
from simulator.lessons.model import Lesson
from simulator.lessons.progress import Progress
from simulator.text import plural
from simulator.tui.breakpoints import apply_breakpoints
from simulator.tui.footer import KeyBar
from simulator.tui.messages import OpenInspector, OpenLesson
from simulator.tui.screens.error import ErrorScreen
from simulator.tui.screens.help import HelpScreen

BAR = 10  # cells of a progress bar
#: Cells of a lesson's row besides its title: mark, number, bar, steps (and, wide, more).
ROW_CHROME = 2 + 4 + 1 + BAR + 1 + 11
WIDE_EXTRA = 30  # " · 2/4 checkpoints · 15 min" from this much room on


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR * done / total) if total else 0
    return "█" * filled + "░" * (BAR - filled)


class HomeScreen(Screen[None]):
    """Lessons in course order, each with how far the learner got (see the module)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Learn"),
        Binding("c", "resume", "Continue"),
        Binding("t", "teach", "Teach"),
        Binding("i", "inspector", "Inspector"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    def __init__(self, course: Course, progress: Progress) -> None:
        super().__init__()
        self.course = course
        self.progress = progress

    def compose(self) -> ComposeResult:
        with Vertical(id="home"):
            yield Static(
                Text.assemble(
                    ("wirelab", "bold"), " — how bytes really cross a network, layer by layer"
                ),
                id="home-title",
            )
            yield Static(id="home-resume")
            yield OptionList(id="lessons")
            with VerticalScroll(id="home-about"):
                yield Static(id="home-lesson")
            yield Static(id="home-note")
        yield KeyBar()

    def on_mount(self) -> None:
        apply_breakpoints(self)
        self.refresh_course()
        self.query_one(OptionList).focus()
        if self.progress.problem:
            self.notify(
                self.progress.problem,
                title="Progress",
                severity="warning",
                timeout=10,
                markup=False,
            )

    def on_screen_resume(self) -> None:
        self.app.clear_notifications()
        problem = self.progress.reload()
        self.refresh_course()
        if problem is not None:
            self.notify(problem, title="Progress", severity="warning", timeout=10, markup=False)

    def on_resize(self) -> None:
        self.refresh_course()

    # --- what is shown ------------------------------------------------------------------

    def completion(self, lesson: Lesson) -> tuple[int, int, bool]:
        """(steps seen, checkpoints answered, done) of `lesson`."""
        mine = self.progress.lessons.get(lesson.id)
        if mine is None:
            return 0, 0, False
        seen = min(max(mine.furthest, mine.step) + 1, len(lesson.steps))
        wanted = {i for i, step in enumerate(lesson.steps) if step.checkpoint is not None}
        return seen, len(mine.answered & wanted), mine.done

    def row(self, number: int, lesson: Lesson, width: int) -> Text:
        steps = len(lesson.steps)
        seen, answered, done = self.completion(lesson)
        # The titles first: the checkpoints and minutes only where every title fits whole
        # beside them (the panel below has them too).
        longest = max((len(other.title) for other in self.course.lessons), default=0)
        wide = width >= ROW_CHROME + longest + WIDE_EXTRA
        title_width = max(12, width - ROW_CHROME - (WIDE_EXTRA if wide else 0))
        title = lesson.title
        if len(title) > title_width:
            title = title[: title_width - 1] + "…"
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{'✓' if done else ' '} {number:2}. ", "bold")
        line.append(f"{title:<{title_width}}")
        line.append(f" {progress_bar(seen, steps)} ", "green" if done else "cyan")
        line.append(f"{seen:>2}/{steps} steps", "dim")
        if wide:
            checks = lesson.checkpoints
            line.append(
                f" · {answered}/{checks} checkpoints" if checks else " · no checkpoint", "dim"
            )
            line.append(f" · {lesson.minutes} min", "dim")
        return line

    def refresh_course(self) -> None:
        course, progress = self.course, self.progress
        lessons = self.query_one(OptionList)
        width = lessons.scrollable_content_region.width or self.app.size.width - 8
        options: list[Option] = [
            Option(self.row(number, lesson, width), id=lesson.id)
            for number, lesson in enumerate(course.lessons, 1)
        ]
        for path, problems in course.broken:
            line = Text.assemble(
                ("  ✗  ", "bold red"), (f"{path.name}: {problems[0].message}", "red")
            )
            options.append(Option(line, id=f"broken:{path}"))
        highlighted = lessons.highlighted
        lessons.clear_options()
        lessons.add_options(options)
        if options:
            lessons.highlighted = min(highlighted or 0, len(options) - 1)
        self.query_one("#home-resume", Static).update(self.resume_line())
        total = len(course.lessons)
        done = sum(1 for lesson in course.lessons if self.completion(lesson)[2])
        note = f"{done} of {total} lessons done · progress is kept in {progress.path}"
        if course.broken:
            note += f" · {plural(len(course.broken), 'lesson file')} could not be read (see ✗)"
        self.query_one("#home-note", Static).update(Text(note))
        self.show_lesson()

    def resume_line(self) -> Text:
        target = self.resume_target()
        if target is None:
            if self.course.lessons and all(self.completion(x)[2] for x in self.course.lessons):
                return Text("Every lesson is done. Pick one to go over again.")
            return Text.assemble(
                "Pick a lesson and press ", ("Enter", "bold"), "; ", ("t", "bold"),
                " opens it for a class.",
            )  # fmt: skip
        lesson, step, fresh = target
        number = self.course.number(lesson)
        if fresh:
            return Text.assemble(
                "Press ", ("c", "bold"), f" to start the next lesson, {number}. “{lesson.title}”."
            )
        return Text.assemble(
            "Press ", ("c", "bold"), f" to continue {number}. “{lesson.title}” at step {step + 1}."
        )

    def resume_target(self) -> tuple[Lesson, int, bool] | None:
        """(lesson, step, a fresh start) that `c` opens, or None when there is nothing to
        continue: where the learner is, or once that lesson is done, the next not done."""
        progress, course = self.progress, self.course
        last = course.find(progress.last) if progress.last else None
        if last is None:
            return None
        mine = progress.of(last.id)
        if not mine.done:
            return last, mine.step, False
        start = course.number(last)
        for lesson in course.lessons[start:] + course.lessons[: start - 1]:
            if not self.completion(lesson)[2]:
                step = progress.lessons[lesson.id].step if lesson.id in progress.lessons else 0
                return lesson, step, lesson.id not in progress.lessons
        return None

    def show_lesson(self) -> None:
        """The highlighted lesson's level, minutes, prerequisites and objectives."""
        panel = self.query_one("#home-lesson", Static)
        lesson = self._chosen_lesson()
        if lesson is None:
            panel.update("")
            return
        seen, answered, done = self.completion(lesson)
        text = Text()
        text.append(lesson.title, "bold")
        kind = "troubleshooting lab · " if lesson.lab is not None else ""
        text.append(f"\n{kind}{lesson.level} · about {lesson.minutes} min · ")
        text.append(f"{plural(len(lesson.steps), 'step')} · ")
        checks = lesson.checkpoints
        text.append(plural(checks, "checkpoint") if checks else "no checkpoint")
        if done:
            text.append(" · done ✓", "green")
        elif seen:
            text.append(f" · {seen}/{len(lesson.steps)} steps seen, {answered}/{checks} answered")
        if lesson.prerequisites:
            text.append("\nBefore it: ")
            for i, name in enumerate(lesson.prerequisites):
                before = self.course.find(name)
                title = before.title if before is not None else name
                finished = before is not None and self.completion(before)[2]
                text.append(", " if i else "")
                text.append(f"{'✓ ' if finished else ''}{title}", "green" if finished else "")
        for objective in lesson.objectives:
            text.append(f"\n • {objective}")
        panel.update(text)

    @on(OptionList.OptionHighlighted)
    def option_highlighted(self) -> None:
        self.show_lesson()

    # --- acting -------------------------------------------------------------------------

    def _chosen(self) -> str | None:
        lessons = self.query_one(OptionList)
        if lessons.highlighted is None:
            return None
        return lessons.get_option_at_index(lessons.highlighted).id

    def _chosen_lesson(self) -> Lesson | None:
        chosen = self._chosen()
        return self.course.find(chosen) if chosen and not chosen.startswith("broken:") else None

    @on(OptionList.OptionSelected)
    def option_selected(self, event: OptionList.OptionSelected) -> None:
        self.open(event.option.id, teach=False)

    def open(self, chosen: str | None, *, teach: bool) -> None:
        if chosen is None:
            return
        if chosen.startswith("broken:"):
            path = chosen.removeprefix("broken:")
            problems = next(p for f, p in self.course.broken if str(f) == path)
            self.app.push_screen(
                ErrorScreen("This lesson cannot be opened", "\n".join(map(str, problems)))
            )
            return
        self.post_message(OpenLesson(chosen, teach=teach))

    def action_open(self) -> None:
        self.open(self._chosen(), teach=False)

    def action_teach(self) -> None:
        self.open(self._chosen(), teach=True)

    def action_resume(self) -> None:
        target = self.resume_target()
        if target is None:
            self.notify("Nothing to continue: pick a lesson.", markup=False)
            return
        lesson, step, _ = target
        self.post_message(OpenLesson(lesson.id, step=step))

    def action_inspector(self) -> None:
        self.post_message(OpenInspector(None))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen([("Home", self.BINDINGS)], mouse=(), filters=False))


__all__ = ["HomeScreen", "progress_bar"]
