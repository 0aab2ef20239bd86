"""The whole release: deterministic, importable with every stub, failures name the exercise."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from edition_runs import run_in
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import bpkit
from bpkit import cli
from bpkit.assignments.release import edition as release
from bpkit.assignments.student import collect, exercises

REPO = Path(__file__).resolve().parents[2]


def tree(root: Path) -> dict:
    """Relative path -> bytes of every file under root."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return release.build(tmp_path_factory.mktemp("release") / "student", source=REPO)


def copy_source_with_notebook(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "bpkit", dest / "bpkit", ignore=ignore)
    shutil.copytree(REPO / "tests" / "exercises", dest / "tests" / "exercises", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    (dest / "notebooks").mkdir()
    nb = new_notebook(
        cells=[
            new_markdown_cell("Why?\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"),
            new_code_cell("# BEGIN SOLUTION\nlr = 1e-3\n# END SOLUTION\nprint(lr)"),
        ]
    )
    nbformat.write(nb, dest / "notebooks" / "lab.ipynb")
    return dest


def test_same_source_gives_byte_identical_editions(tmp_path):
    source = copy_source_with_notebook(tmp_path / "src")
    first = tree(release.build(tmp_path / "one", source=source))
    second = tree(release.build(tmp_path / "two", source=source))
    assert "notebooks/lab.ipynb" in first
    assert sorted(first) == sorted(second)
    differ = [rel for rel in first if first[rel] != second[rel]]
    assert differ == []


def test_edition_imports_with_every_stub_unfilled(edition):
    manifest = json.loads((edition / collect.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["released_exercises"] == sorted(ex.name for ex in exercises.EXERCISES)
    done = run_in(
        edition,
        "-c",
        "import bpkit, bpkit.layers, bpkit.optim, bpkit.models; print(bpkit.__file__)",
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == (edition / "bpkit" / "__init__.py").resolve()


@pytest.mark.slow
def test_a_stubbed_exercise_fails_naming_it_instead_of_a_collection_error(edition):
    done = run_in(edition, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "affine")
    summary = done.stdout.strip().splitlines()[-1]
    failed = re.search(r"(\d+) failed", summary)
    assert done.returncode == 1, done.stdout[-3000:]
    assert failed and int(failed[1]) >= 5, summary
    assert "error" not in summary and "passed" not in summary, summary
    named = done.stdout.count("exercise affine is not implemented yet: affine_")
    assert named >= int(failed[1]), done.stdout[-3000:]


def test_the_student_command_offers_only_collect(edition):
    done = run_in(edition, "-c", "from bpkit import cli; print(sorted(cli.available_commands()))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['collect']"
    refused = run_in(edition, "-m", "bpkit", "release", "somewhere")
    assert refused.returncode == 2 and "invalid choice: 'release'" in refused.stderr


def test_command_line_release_and_its_errors(tmp_path, capsys):
    out = tmp_path / "student"
    argv = ["release", str(out), "--source", str(REPO), "--exercises", "affine,relu"]
    assert cli.main(argv) == 0
    manifest = json.loads((out / collect.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["released_exercises"] == ["affine", "relu"]
    assert "stubs for: affine, relu" in capsys.readouterr().out
    bad = ["release", str(tmp_path / "x"), "--source", str(REPO), "--exercises", "adma"]
    assert cli.main(bad) == 2
    err = capsys.readouterr().err
    assert "unknown exercise 'adma'" in err and "'adam'" in err
    assert not (tmp_path / "x").exists()


def test_an_existing_folder_is_replaced_only_if_it_is_an_edition(tmp_path):
    out = tmp_path / "student"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.build(out, ["sgd"], source=REPO)
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.build(out, ["sgd"], source=REPO, overwrite=True)
    (out / "notes.txt").unlink()
    release.build(out, ["sgd"], source=REPO)
    release.build(out, ["adam"], source=REPO, overwrite=True)
    manifest = json.loads((out / collect.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["released_exercises"] == ["adam"]


def test_an_output_folder_inside_the_source_is_refused(tmp_path):
    source = copy_source_with_notebook(tmp_path)
    with pytest.raises(release.ReleaseError, match="outside the source's bpkit/"):
        release.build(source / "bpkit" / "student", source=source)


@pytest.mark.parametrize("where", ["parent", "same"])
def test_overwrite_never_deletes_a_folder_that_holds_the_source(tmp_path, where):
    source = copy_source_with_notebook(tmp_path / "course" / "src")
    out = source.parent if where == "parent" else source
    (out / collect.MANIFEST).write_text("{}\n")  # as if an edition had been written there
    with pytest.raises(release.ReleaseError, match=r"holds the source .*delete the source"):
        release.build(out, source=source, overwrite=True)
    assert (source / "bpkit" / "layers.py").is_file()
    assert (source / "notebooks" / "lab.ipynb").is_file()


def test_write_edition_says_what_it_released_and_wrote(tmp_path, capsys):
    edition = release.write_edition(tmp_path / "student", ["adam", "affine"], source=REPO)
    assert edition.path == (tmp_path / "student").resolve()
    assert edition.released == ("affine", "adam")
    assert list(edition.files) == list(tree(edition.path))
    assert "bpkit/layers.py" in edition.files and "edition.json" in edition.files
    argv = ["release", str(tmp_path / "cli"), "--source", str(REPO), "--exercises", "adam"]
    assert cli.main(argv) == 0
    count = len(tree(tmp_path / "cli"))
    assert f"wrote the student edition to {tmp_path / 'cli'} ({count} files)" in (
        capsys.readouterr().out
    )


def test_notebook_regions_are_stubbed_whatever_exercises_says(tmp_path, capsys):
    source = copy_source_with_notebook(tmp_path / "src")
    edition = release.build(tmp_path / "student", ["sgd"], source=source)
    cells = json.loads((edition / "notebooks" / "lab.ipynb").read_text(encoding="utf-8"))["cells"]
    assert "Because." not in "".join(cells[0]["source"])
    assert "lr = 1e-3" not in "".join(cells[1]["source"])
    with pytest.raises(SystemExit):
        cli.main(["release", "--help"])
    assert "stubbed in every release" in " ".join(capsys.readouterr().out.split())
    assert "stubbed in every release" in " ".join(release.__doc__.split())


@pytest.mark.parametrize(
    "args", [["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]]
)
def test_ruff_is_clean_in_a_fresh_edition(edition, args):
    # The given code around each stub defines what it uses, so the edition's ruff settings
    # are the repository's with no exemption (tests/release/test_release_lint.py).
    done = run_in(edition, "-m", "ruff", *args, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_the_default_source_must_be_a_checkout(monkeypatch, tmp_path):
    (tmp_path / "bpkit").mkdir()
    monkeypatch.setattr(bpkit, "__file__", str(tmp_path / "bpkit" / "__init__.py"))
    with pytest.raises(
        release.ReleaseError, match="does not exist; expected a repository checkout"
    ):
        release.default_source()
    (tmp_path / "notebooks").mkdir()
    assert release.default_source() == tmp_path.resolve()


def _full_disk_after(monkeypatch, writes: int) -> None:
    """Make every Path.write_bytes after the first ``writes`` fail as on a full disk."""
    real, done = Path.write_bytes, []

    def write_bytes(self, data):
        if len(done) >= writes:
            real(self, data[: len(data) // 2])  # a truncated file, as a full disk leaves
            raise OSError(28, "No space left on device")
        done.append(self)
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


@pytest.mark.parametrize("overwrite", [False, True], ids=["new", "overwrite"])
def test_a_write_error_part_way_leaves_no_half_edition(tmp_path, monkeypatch, overwrite):
    out = tmp_path / "student"
    if overwrite:
        release.build(out, ["sgd"], source=REPO)
    before = tree(out) if overwrite else None
    count = len(release.render(REPO, release.selected(["adam"])))
    _full_disk_after(monkeypatch, writes=count // 2)
    with pytest.raises(release.ReleaseError, match="No space left on device.*nothing was changed"):
        release.build(out, ["adam"], source=REPO, overwrite=overwrite)
    if overwrite:
        assert tree(out) == before  # the earlier edition, byte for byte
    else:
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["student"] if overwrite else [])


def test_the_command_reports_a_write_error_and_changes_nothing(tmp_path, monkeypatch, capsys):
    _full_disk_after(monkeypatch, writes=3)
    assert cli.main(["release", str(tmp_path / "student"), "--source", str(REPO)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
