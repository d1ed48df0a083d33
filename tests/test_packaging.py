"""lessons/ and assets/ are found from a checkout and from an installed wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from simulator.resources import assets_dir, lessons_dir

ROOT = Path(__file__).resolve().parent.parent


def test_checkout_finds_the_top_level_folders() -> None:
    assert lessons_dir() == ROOT / "lessons"
    assert assets_dir() == ROOT / "assets"


def test_wheel_ships_lessons_and_assets_and_finds_them(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=120,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("wirelab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "simulator/_data/lessons/README.md" in names
        assert "simulator/_data/assets/README.md" in names
        site = tmp_path / "site"
        archive.extractall(site)
    # Import the package from the unpacked wheel, not from the checkout.
    code = "from simulator import resources as r; print(r.lessons_dir()); print(r.assets_dir())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lessons, assets = result.stdout.split()
    assert Path(lessons) == site / "simulator" / "_data" / "lessons"
    assert Path(assets) == site / "simulator" / "_data" / "assets"
