"""Release step ``package``: which package files ship, and how solution regions become stubs."""

import ast
import shutil
from pathlib import Path

import pytest

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import markers, stubs
from bpkit.assignments.student import exercises

REPO = Path(__file__).resolve().parents[2]
ALL = [ex.name for ex in exercises.EXERCISES]


def copy_source(dest: Path) -> Path:
    """A copy of the repository's release inputs, to break on purpose."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "bpkit", dest / "bpkit", ignore=ignore)
    shutil.copytree(REPO / "tests" / "exercises", dest / "tests" / "exercises", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    (dest / "notebooks").mkdir()
    return dest


def package(source: Path, released):
    files = {}
    release.package(source, list(released), files)
    return files


@pytest.fixture(scope="module")
def shipped():
    return package(REPO, ALL)


def functions(text: str) -> dict:
    """Qualified name -> function node, for every function and method of a module."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if isinstance(child, ast.FunctionDef):
                    found[name] = child
                visit(child, name + ".")

    visit(ast.parse(text), "")
    return found


@pytest.mark.parametrize(
    ("module", "rel"), sorted({(ex.module, ex.path) for ex in exercises.EXERCISES})
)
def test_stubs_keep_signature_docstring_and_every_line_outside_the_regions(shipped, module, rel):
    source = (REPO / rel).read_text(encoding="utf-8")
    student = shipped[rel].decode("utf-8")
    before, after = functions(source), functions(student)
    assert sorted(before) == sorted(after)
    for name, node in before.items():
        assert ast.dump(node.args) == ast.dump(after[name].args), f"{rel}: {name} signature"
        assert ast.get_docstring(node) == ast.get_docstring(after[name]), f"{rel}: {name} doc"
    owned = stubs.module_regions(source, rel, module)
    assert owned, f"{rel} has no solution regions"
    inside = {i for o in owned for i in range(o.region.begin, o.region.end + 1)}
    kept = [line for i, line in enumerate(source.split("\n")) if i not in inside]
    stub_lines = {
        line for o in owned for line in stubs.stub_lines(o.region.indent, o.exercise, o.qualname)
    }
    assert [line for line in student.split("\n") if line not in stub_lines] == kept
    for o in owned:
        raise_line = (
            f'raise NotImplementedError("{o.exercise}: {o.qualname} is not implemented yet")'
        )
        assert raise_line in student, f"{rel}: no stub for {o.qualname}"


def test_exercises_not_released_keep_their_reference_code(tmp_path):
    files = package(REPO, ["affine"])
    layers = files["bpkit/layers.py"].decode("utf-8")
    assert 'raise NotImplementedError("affine: affine_forward is not implemented yet")' in layers
    assert "NotImplementedError" not in files["bpkit/optim.py"].decode("utf-8")
    assert "out = np.maximum(x, 0)" in layers  # relu's reference line, not released
    for rel, data in files.items():
        if rel.endswith(".py"):
            text = data.decode("utf-8")
            left = [line for line in text.split("\n") if line.strip() in markers.PYTHON]
            assert not left, f"{rel} keeps marker lines {left}"


def test_only_allow_listed_files_ship(shipped):
    for rel in shipped:
        assert release.matches(rel, release.SHIP), rel
    tooling = sorted(rel for rel in shipped if rel.startswith("bpkit/assignments/"))
    assert tooling == [
        "bpkit/assignments/__init__.py",
        "bpkit/assignments/student/__init__.py",
        "bpkit/assignments/student/collect.py",
        "bpkit/assignments/student/diagnose.py",
        "bpkit/assignments/student/exercises.py",
        "bpkit/assignments/student/nbreply.py",
        "bpkit/assignments/student/progress.py",
    ]
    for rel in ("bpkit/assignments/release/edition.py", "bpkit/assignments/release/markers.py"):
        assert (REPO / rel).is_file() and rel not in shipped


def test_a_package_file_in_neither_list_stops_the_release(tmp_path):
    source = copy_source(tmp_path)
    (source / "bpkit" / "extra.py").write_text("X = 1\n")
    (source / "bpkit" / "assignments" / "grading_notes.py").write_text("SECRET = 1\n")
    with pytest.raises(release.ReleaseError, match=r"bpkit/extra\.py: not in the ship list"):
        package(source, ALL)
    (source / "bpkit" / "extra.py").unlink()
    assert "bpkit/assignments/grading_notes.py" not in package(source, ALL)


def test_a_released_target_without_a_region_stops_the_release(tmp_path):
    source = copy_source(tmp_path)
    path = source / "bpkit" / "optim.py"
    text = path.read_text(encoding="utf-8")
    start = text.index("def adam(")
    body = (
        text[start:].replace("    # BEGIN SOLUTION\n", "", 1).replace("    # END SOLUTION\n", "", 1)
    )
    path.write_text(text[:start] + body, encoding="utf-8")
    with pytest.raises(release.ReleaseError, match="exercise adam: bpkit/optim.py has no solution"):
        package(source, ALL)
    assert "bpkit/optim.py" in package(source, ["sgd"])


def test_a_marker_error_stops_the_build_before_writing(tmp_path):
    source = copy_source(tmp_path / "src")
    path = source / "bpkit" / "layers.py"
    lines = path.read_text(encoding="utf-8").split("\n")
    line = lines.index("    # END SOLUTION") + 1
    del lines[line - 1]
    path.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(release.ReleaseError, match=r"bpkit/layers\.py:\d+: nested"):
        release.build(out, source=source)
    assert not out.exists()
