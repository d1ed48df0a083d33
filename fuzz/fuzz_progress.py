"""Fuzz the learner's progress file: `Progress` loading a `progress.json` of the fuzzed bytes.

Whatever the file holds, loading must not raise: a file that is progress is taken
(and saves back to a file that reads the same), anything else is renamed aside
(`progress.json.corrupt-1`), `problem` says so in one line, and the course starts
afresh; saving then writes a good file in its place.
"""

from __future__ import annotations

import json
from pathlib import Path

import atheris
from harness import MAX_INPUT, fuzz, scratch

with atheris.instrument_imports(include=["simulator"]):
    from simulator.lessons.progress import Progress


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    with scratch() as folder:
        load_and_save(folder / "progress.json", data)


def load_and_save(path: Path, data: bytes) -> None:
    aside = path.with_name("progress.json.corrupt-1")
    path.write_bytes(data)
    progress = Progress(path, lock_timeout=1.0)
    if progress.problem is None:
        assert path.read_bytes() == data, "a good file was changed by loading it"
        assert not aside.exists()
        loaded = progress.to_json()
        assert progress.reload() is None
        assert progress.to_json() == loaded, "reloading the same file changed the progress"
    else:
        assert "\n" not in progress.problem, progress.problem
        assert not path.exists(), "a bad file was not set aside"
        assert aside.read_bytes() == data, "the file set aside is not the bad file"
        assert progress.lessons == {} and progress.last is None
        loaded = progress.to_json()
    progress.visit("fuzzed-lesson", 3)
    assert progress.save() is None, "progress could not be saved"
    saved = json.loads(path.read_text(encoding="utf-8"))
    again = Progress(path, lock_timeout=1.0)
    assert again.problem is None, again.problem
    assert again.to_json() == saved, (again.to_json(), saved)
    assert set(saved["lessons"]) == set(loaded["lessons"]) | {"fuzzed-lesson"}


if __name__ == "__main__":
    fuzz(test_one_input)
