"""A self-learner's path: ``bpkit start DIR``, the README's commands and the edition README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpkit import cli
from bpkit.assignments.release import edition as release
from bpkit.assignments.release import start, student_files
from bpkit.assignments.student import exercises

ROOT = Path(__file__).resolve().parents[2]


def _block_after(text: str, marker: str) -> list[str]:
    """The lines of the first fenced code block after ``marker``."""
    rest = text[text.index(marker) + len(marker) :]
    body = rest[rest.index("```") :].split("\n", 1)[1]
    return body[: body.index("```")].strip("\n").split("\n")


def test_start_writes_an_edition_of_stubs_and_prints_the_next_command(tmp_path, capsys):
    folder = tmp_path / "my course"
    assert cli.main(["start", str(folder)]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((folder / "edition.json").read_text())
    assert manifest["released_exercises"] == sorted(ex.name for ex in exercises.EXERCISES)
    assert "# TODO(affine)" in (folder / "bpkit" / "layers.py").read_text()
    assert all(p.suffix == ".ipynb" for p in (folder / "notebooks").iterdir())
    assert start.next_command(str(folder)) in out
    assert not (folder / ".venv").exists(), "bpkit start installs nothing itself"


def test_start_never_replaces_a_folder_that_has_files(tmp_path, capsys):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "layers.py").write_text("my work\n")
    assert cli.main(["start", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "exists and is not an empty folder" in err and str(folder) in err
    assert [p.name for p in folder.iterdir()] == ["layers.py"]


def test_next_command_sets_up_a_virtual_environment_and_opens_jupyterlab():
    line = start.next_command("../my course")
    assert line.startswith("cd '../my course' && python -m venv .venv && . .venv/bin/activate")
    assert line.endswith('python -m pip install -e ".[dev]" && jupyter lab')


def test_readme_opens_the_solved_course_at_the_root_and_starts_an_edition_in_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    opening = _block_after(readme, "<!-- open-command -->")
    assert opening == ['python -m pip install -e ".[dev]" && jupyter lab']
    before = readme[: readme.index("<!-- open-command -->")]
    assert "solved" in before.split("## Quick start", 1)[1]
    first, second = _block_after(readme, "<!-- start-commands -->")
    found = re.fullmatch(r"python -m pip install -e \. && bpkit start (\S+)", first)
    assert found, first
    assert second == start.next_command(found.group(1))


@pytest.fixture(scope="module")
def edition_files():
    files = release.render(ROOT, release.selected(None))
    return {rel: data.decode("utf-8") for rel, data in files.items() if not rel.endswith(".npz")}


def test_edition_readme_has_a_venv_step_jupyterlab_at_its_root_and_the_notebook_table(
    edition_files,
):
    text = edition_files["README.md"]
    setup = _block_after(text, "## Set up, once")
    assert setup == [
        "python -m venv .venv",
        "source .venv/bin/activate",
        'python -m pip install -e ".[dev]"',
    ]
    assert _block_after(text, "## Work") == ["jupyter lab"]
    assert "--nbval-sanitize-with tests/nbval_sanitize.cfg" in text
    notebooks = sorted(rel for rel in edition_files if rel.endswith(".ipynb"))
    assert len(notebooks) == 5
    markers = {ex.name for ex in exercises.EXERCISES}
    for rel in notebooks:
        first = json.loads(edition_files[rel])["cells"][0]["source"]
        needs = student_files.notebook_exercises("".join(first))
        row = next(line for line in text.splitlines() if line.startswith(f"| `{rel}` |"))
        if needs:
            assert row == (
                f"| `{rel}` | {', '.join(f'`{n}`' for n in needs)} "
                f"| `{student_files.check_command(needs)}` |"
            )
            expression = student_files.check_command(needs).rsplit(" -m ", 1)[1].strip('"')
            assert set(expression.split(" or ")) <= markers
        else:
            assert "none" in row


def test_check_command_quotes_a_marker_expression():
    assert student_files.check_command(["adam"]) == "python -m pytest -m adam"
    assert student_files.check_command(["sgd", "adam"]) == 'python -m pytest -m "sgd or adam"'
