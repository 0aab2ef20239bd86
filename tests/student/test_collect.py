"""``bpkit collect``: exactly the handed-in files, a deterministic zip, clear errors outside."""

import os
import re
import zipfile
from pathlib import Path

import pytest

from bpkit import cli
from bpkit.assignments.release import edition as release
from bpkit.assignments.student import collect, exercises

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def edition(tmp_path):
    out = release.build(tmp_path / "student", ["affine", "sgd"], source=REPO)
    (out / "notebooks").mkdir(exist_ok=True)
    (out / "notebooks" / "lab.ipynb").write_text('{"cells": []}\n')
    return out


def test_submitted_modules_come_from_the_registry():
    assert collect.SUBMITTED_MODULES == ("bpkit/layers.py", "bpkit/models.py", "bpkit/optim.py")


@pytest.mark.parametrize(
    ("path", "handed_in"),
    [
        ("bpkit/layers.py", True),
        ("bpkit/optim.py", True),
        ("notebooks/lab.ipynb", True),
        ("notebooks/sub/lab.ipynb", False),
        ("notebooks/nbval_sanitize.cfg", False),
        ("bpkit/_validate.py", False),
        ("conftest.py", False),
        ("bpkit/numpy.py", False),
        ("tests/exercises/conftest.py", False),
        ("../bpkit/layers.py", False),
        ("/bpkit/layers.py", False),
    ],
)
def test_which_paths_are_handed_in(path, handed_in):
    assert collect.is_submitted(path) is handed_in


def notebooks(edition):
    return sorted(f"notebooks/{p.name}" for p in (edition / "notebooks").glob("*.ipynb"))


def test_zip_holds_exactly_the_handed_in_files(edition):
    (edition / "conftest.py").write_text("import os\n")
    (edition / "bpkit" / "sitecustomize.py").write_text("import os\n")
    (edition / "notebooks" / "nbval_sanitize.cfg").write_text("")
    target = collect.collect(edition)
    assert target == edition / "submission.zip"
    with zipfile.ZipFile(target) as zf:
        expected = ["bpkit/layers.py", "bpkit/models.py", "bpkit/optim.py", *notebooks(edition)]
        assert "notebooks/lab.ipynb" in expected
        assert zf.namelist() == expected
        assert zf.read("bpkit/layers.py") == (edition / "bpkit" / "layers.py").read_bytes()


def test_pack_says_what_it_packed_and_where(edition, tmp_path):
    packed = collect.pack(edition / "notebooks", tmp_path / "out.zip")
    assert packed.target == tmp_path / "out.zip"
    assert packed.root == edition.resolve()
    with zipfile.ZipFile(packed.target) as zf:
        assert list(packed.files) == zf.namelist() == collect.submitted_files(edition)
    assert collect.collect(edition, tmp_path / "again.zip") == tmp_path / "again.zip"


def test_zip_is_deterministic(edition, tmp_path):
    first = collect.collect(edition, tmp_path / "a.zip").read_bytes()
    for rel in collect.submitted_files(edition):
        os.utime(edition / rel, (1_700_000_000, 1_700_000_000))
    second = collect.collect(edition, tmp_path / "b.zip").read_bytes()
    assert first == second


def test_found_from_a_folder_inside_the_edition(edition):
    assert collect.find_edition(edition / "notebooks") == edition.resolve()


def test_outside_an_edition_it_says_what_it_looked_for(tmp_path):
    with pytest.raises(collect.CollectError, match=r"no student edition found .*edition\.json"):
        collect.collect(tmp_path)


def test_a_missing_module_is_named(edition):
    (edition / "bpkit" / "optim.py").unlink()
    with pytest.raises(collect.CollectError, match=r"missing \['bpkit/optim\.py'\]"):
        collect.collect(edition)


def test_command_line_reports_files_and_unfinished_exercises(edition, capsys):
    assert cli.main(["collect", "--edition", str(edition / "notebooks")]) == 0
    out = capsys.readouterr().out
    count = 3 + len(notebooks(edition))
    assert f"wrote {edition / 'submission.zip'} with {count} files" in out
    assert "still not implemented: affine, sgd" in out
    assert cli.main(["collect", "--edition", str(edition.parent)]) == 2
    assert "bpkit collect: error: no student edition found" in capsys.readouterr().err


def test_unfinished_exercises_are_read_with_the_registry_pattern(edition, monkeypatch):
    layers = edition / "bpkit" / "layers.py"
    layers.write_text('def f():\n    raise NotImplementedError("relu/relu_forward todo")\n')
    monkeypatch.setattr(
        exercises, "STUB_MESSAGE", re.compile(r"(?P<exercise>\w+)/(?P<qualname>[\w.]+) todo")
    )
    assert collect.unfinished(edition, ["bpkit/layers.py", "bpkit/optim.py"]) == ["relu"]
