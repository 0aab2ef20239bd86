"""The layout says who may touch what; these tests keep it true.

- No module imports a private name from an exercise module (``layers``, ``optim``,
  ``models``): the grader replaces those files with a student's copy, so a private helper
  there may be renamed or deleted without breaking anything else.
- ``bpkit/assignments/student/`` ships with every edition, so it never imports the
  release or grading code, which an edition does not have.
- ``bpkit/assignments/grading/runtime/`` is copied next to each worker, which runs student
  code: it imports only the standard library, numpy and its siblings.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from bpkit.assignments.student import exercises

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bpkit"
ASSIGNMENTS = PACKAGE / "assignments"
EXERCISE_MODULES = {ex.module for ex in exercises.EXERCISES}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: str | None = None) -> list[tuple[str, list[str], int]]:
    """Every import of ``path`` as (absolute module, imported names, line).

    Relative imports are resolved against ``package`` (by default the file's own).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if package is None:
        package = module_name(path)
        if path.name != "__init__.py":
            package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names], node.lineno))
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def every_source_file() -> list[Path]:
    return python_files(PACKAGE) + python_files(ROOT / "benchmarks")


def test_no_module_imports_a_private_name_from_an_exercise_module():
    offenders = []
    for path in every_source_file():
        for module, names, line in imports(path):
            private = [n for n in names if n.startswith("_")]
            if module in EXERCISE_MODULES and private:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {private} from {module}")
            if any(module.startswith(m + ".") for m in EXERCISE_MODULES):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_the_import_check_sees_a_private_import(tmp_path):
    # The check above must be able to fail: both spellings of such an import are seen.
    probe = tmp_path / "probe.py"
    probe.write_text("from bpkit.layers import _helper\nfrom .layers import _other\n")
    found = [(m, n) for m, n, _ in imports(probe, package="bpkit")]
    assert found == [("bpkit.layers", ["_helper"]), ("bpkit.layers", ["_other"])]


@pytest.mark.parametrize("path", python_files(ASSIGNMENTS / "student"), ids=lambda p: p.name)
def test_what_ships_to_students_never_imports_the_instructor_tools(path):
    for module, _, line in imports(path):
        for withheld in ("bpkit.assignments.release", "bpkit.assignments.grading"):
            assert not (module == withheld or module.startswith(withheld + ".")), (
                f"{path.relative_to(ROOT)}:{line} imports {module}, which editions do not have"
            )


RUNTIME = ASSIGNMENTS / "grading" / "runtime"


@pytest.mark.parametrize("path", python_files(RUNTIME), ids=lambda p: p.name)
def test_the_worker_runtime_imports_only_the_standard_library_numpy_and_siblings(path):
    siblings = {"bpkit.assignments.grading.runtime"} | {
        f"bpkit.assignments.grading.runtime.{p.stem}" for p in python_files(RUNTIME)
    }
    for module, _, line in imports(path):
        top = module.split(".")[0]
        allowed = module in siblings or top in sys.stdlib_module_names or top == "numpy"
        assert allowed, f"{path.relative_to(ROOT)}:{line} imports {module}"


def test_only_the_registry_turns_a_module_name_into_a_path():
    # Exercise.path is the one derivation; a second copy would drift when a module moves.
    registry = ASSIGNMENTS / "student" / "exercises.py"
    folders = (ASSIGNMENTS, ROOT / "tests")
    offenders = [
        f"{path.relative_to(ROOT)}:{i}"
        for folder in folders
        for path in python_files(folder)
        if path != registry and path != Path(__file__).resolve()
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if 'replace(".", "/")' in line
    ]
    assert not offenders, "module paths derived outside the registry: " + ", ".join(offenders)
