"""The files a student edition gets that the repository does not have as such.

``README.md`` (set up, self-check, notebooks, hand in), ``pyproject.toml`` (the repository's
dependencies, test tools and ruff settings, pytest markers generated from the exercise registry),
``environment.yml`` for conda users and ``edition.json``, the manifest that tells
``bpkit collect`` it is running inside an edition. Every function returns text and reads no
clock, so the same input gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from bpkit.assignments.student import exercises

SANITIZE_FILE = "tests/nbval_sanitize.cfg"


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes, \\uXXXX included).
    return json.dumps(value)


def _toml_list(values: Sequence[str], indent: str = "    ") -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}{_toml_str(v)},\n" for v in values) + "]"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_str(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"pyproject value: expected a string, number, bool or list, got {value!r}")


def _toml_tables(name: str, table: dict) -> list[str]:
    """``[name]`` with the plain keys of ``table``, then its sub-tables, recursively."""
    out = ["", f"[{name}]"]
    out += [
        f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)
    ]
    for key, value in table.items():
        if isinstance(value, dict):
            out += _toml_tables(f"{name}.{_toml_key(key)}", value)
    return out


def ruff_settings(project: dict) -> list[str]:
    """The repository's ruff settings, unchanged.

    Without settings of its own, ruff in the edition would apply its defaults and a
    student's ``ruff format`` would rewrap every file. The stubbed modules need no
    exemption: the given code defines every name it uses (``out = None`` before a
    region), so ruff flags a student's undefined name there as anywhere else.
    """
    ruff = dict(project.get("tool", {}).get("ruff", {}))
    lint = ruff.pop("lint", {})
    return _toml_tables("tool.ruff", ruff) + _toml_tables("tool.ruff.lint", lint)


def pyproject(project: dict) -> str:
    """The student edition's ``pyproject.toml``.

    Parameters
    ----------
    project : dict
        The repository's ``pyproject.toml`` as parsed by :mod:`tomllib`; its build system,
        project metadata, runtime dependencies, ``dev`` extra (the test tools), scripts,
        setuptools options and ruff settings carry over.
    """
    out = ["# The student edition of bpkit, written by `bpkit release`."]
    out += _project_tables(project) + _setuptools_tables(project) + _pytest_table()
    out += ruff_settings(project)
    return "\n".join(out) + "\n"


def _project_tables(project: dict) -> list[str]:
    """Build system, metadata, dependencies, the ``dev`` extra and scripts, as in the source."""
    meta = project["project"]
    build = project["build-system"]
    dev = meta.get("optional-dependencies", {}).get("dev", [])
    out = [
        "",
        "[build-system]",
        f"requires = {_toml_list(build['requires'])}",
        f"build-backend = {_toml_str(build['build-backend'])}",
        "",
        "[project]",
        f"name = {_toml_str(meta['name'])}",
        f"version = {_toml_str(meta['version'])}",
        f"description = {_toml_str(meta.get('description', ''))}",
        'readme = "README.md"',
        f"requires-python = {_toml_str(meta.get('requires-python', '>=3.10'))}",
        f"dependencies = {_toml_list(meta.get('dependencies', []))}",
        "",
        "[project.optional-dependencies]",
        f"dev = {_toml_list(dev)}",
        "",
        "[project.scripts]",
    ]
    out += [f"{k} = {_toml_str(v)}" for k, v in sorted(meta.get("scripts", {}).items())]
    return out


def _setuptools_tables(project: dict) -> list[str]:
    """Which packages and package data the edition installs."""
    setuptools = project.get("tool", {}).get("setuptools", {})
    out = []
    find = setuptools.get("packages", {}).get("find", {"include": ["bpkit*"]})
    out += ["", "[tool.setuptools.packages.find]"]
    out += [f"{k} = {_toml_list(v)}" for k, v in sorted(find.items())]
    data = setuptools.get("package-data", {})
    if data:
        out += ["", "[tool.setuptools.package-data]"]
        out += [f"{k} = {_toml_list(v)}" for k, v in sorted(data.items())]
    return out


def _pytest_table() -> list[str]:
    """pytest options: the public tests, strict markers, one marker per exercise."""
    return [
        "",
        "[tool.pytest.ini_options]",
        # nbreply fails a notebook cell whose error was hidden; it is idle without --nbval.
        # progress ends a run of the public tests with one table of the exercises.
        'addopts = "--strict-markers -ra -p bpkit.assignments.student.nbreply '
        '-p bpkit.assignments.student.progress"',
        'testpaths = ["tests"]',
        f"markers = {_toml_list(exercises.pytest_markers())}",
    ]


def environment_yml(project: dict) -> str:
    """A conda environment with the same packages, and the edition installed in it."""
    meta = project["project"]
    deps = list(meta.get("dependencies", [])) + list(
        meta.get("optional-dependencies", {}).get("dev", [])
    )
    out = [
        "# conda env create -f environment.yml && conda activate bpkit",
        "# The same packages as pyproject.toml, from conda-forge; the last step installs",
        "# this folder in editable mode so your changes take effect without reinstalling.",
        "name: bpkit",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python{meta.get('requires-python', '>=3.10').replace(' ', '')}",
    ]
    # conda reads no environment markers (`; python_version < '3.11'`): such a package is
    # listed for every Python, which costs a small install where it is not needed.
    out += [f"  - {dep.split(';')[0].replace(' ', '')}" for dep in deps]
    out += ["  - pip", "  - pip:", "      - -e .", ""]
    return "\n".join(out)


def manifest(released: Sequence[str], version: str, submitted: Sequence[str]) -> str:
    """``edition.json``: which exercises are stubs, and which files a student hands in."""
    body = {
        "format": 1,
        "bpkit_version": version,
        "released_exercises": sorted(released),
        "submitted_files": sorted(submitted),
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


# The line of a notebook's first cell that names the exercises it needs, e.g.
# "**Exercises it needs:** `affine`, `relu` (in `bpkit/layers.py`)".
NEEDS_LINE = re.compile(r"^\*\*Exercises it needs:\*\* (.*)$", re.MULTILINE)


def notebook_exercises(first_cell: str) -> list[str]:
    """The exercises a notebook's first cell says it needs, in the order it names them.

    Only names before `` (in `` count, and only names of the registry.
    """
    found = NEEDS_LINE.search(first_cell)
    if not found:
        return []
    names = re.findall(r"`(\w+)`", found.group(1).split(" (in ")[0])
    return [n for n in names if n in exercises.BY_NAME]


def check_command(names: Sequence[str]) -> str:
    """The command that runs the public tests of ``names``."""
    if len(names) == 1:
        return f"python -m pytest -m {names[0]}"
    return f'python -m pytest -m "{" or ".join(names)}"'


def _notebook_table(notebooks: Sequence[str], needs: Mapping[str, Sequence[str]]) -> str:
    rows = ["| notebook | exercises it needs | check them with |", "|---|---|---|"]
    for nb in notebooks:
        if not nb.endswith(".ipynb"):
            continue
        names = list(needs.get(nb, ()))
        if names:
            listed = ", ".join(f"`{n}`" for n in names)
            rows.append(f"| `{nb}` | {listed} | `{check_command(names)}` |")
        else:
            rows.append(f"| `{nb}` | none: its exercises are cells of the notebook | run it |")
    return "\n".join(rows)


def _exercise_rows(released: Sequence[str]) -> list[str]:
    """One table row per released exercise, in registry order."""
    return [
        f"| `{ex.name}` | `{ex.module}`: {', '.join(f'`{t}`' for t in ex.targets)} "
        f"| {ex.points} | {ex.title} |"
        for ex in exercises.EXERCISES
        if ex.name in released
    ]


def _notebook_section(notebooks: Sequence[str], needs: Mapping[str, Sequence[str]]) -> str:
    """The notebooks shipped, what each needs, and the command that checks their outputs."""
    nb_check = "python -m pytest --nbval --nbval-current-env notebooks"
    if SANITIZE_FILE in notebooks:
        nb_check += f" --nbval-sanitize-with {SANITIZE_FILE}"
    if not any(nb.endswith(".ipynb") for nb in notebooks):
        return "This edition has no notebooks."
    return f"""Each notebook runs the exercises it needs: write them in `bpkit/`, check
them with the command in the table, then run the notebook.

{_notebook_table(notebooks, needs)}

The notebooks keep the outputs of a reference run: they show what each cell prints once
the code is right. An edit to `bpkit/*.py` counts the next time you run a cell (the
notebooks reload `bpkit`), no kernel restart needed. Once your code is in, check that your
notebooks reproduce the stored outputs:

```
{nb_check}
```

A cell that fails is named `notebooks/NAME.ipynb::Cell N`, counting code cells from 0; its
report ends with where to find it: the code cell counting from 1, its prompt number in the
notebook as shipped, the heading above it and its first line."""


def readme(
    released: Sequence[str],
    notebooks: Sequence[str],
    submitted: Sequence[str],
    needs: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The student README: set up, check your work, the notebooks, hand in.

    Parameters
    ----------
    released : sequence of str
        Names of the exercises that are stubs in this edition.
    notebooks : sequence of str
        Paths of the notebooks shipped, relative to the edition root.
    submitted : sequence of str
        Paths that ``bpkit collect`` puts in ``submission.zip``.
    needs : mapping, optional
        Notebook path -> the exercises it needs (:func:`notebook_exercises`).
    """
    rows = _exercise_rows(released)
    nb_section = _notebook_section(notebooks, needs or {})
    files = "\n".join(f"- `{path}`" for path in submitted)
    return f"""# bpkit, student edition

In this course you write the forward and backward passes of a small neural-network
library in numpy, check each one against numerical gradients, and train networks with it.
The places to fill in are marked `# TODO(<exercise>)`; each function's docstring says what
it takes and returns, with the shape of every array.

## Set up, once

In this folder, make a virtual environment of its own and install the edition in it:

```
python -m venv .venv
source .venv/bin/activate
python -m pip install -e ".[dev]"
```

(On Windows the second line is `.venv\\Scripts\\activate`. With conda instead:
`conda env create -f environment.yml`, then `conda activate bpkit`.) An environment of its
own makes sure that `import bpkit` finds this folder, with your code, and not another copy
of bpkit installed elsewhere. Activate it again (the second line) in every new terminal.

## Work

```
jupyter lab
```

opens JupyterLab in this folder: `bpkit/` holds the modules you write (`layers.py`,
`optim.py`, `models.py`), `notebooks/` the notebooks.

## Check your work

```
python -m pytest
```

runs the public tests of every exercise and ends with a table of your progress: each
exercise, how many of its public tests pass, and whether it is done, failing or not
started. `python -m pytest -m affine` runs one exercise's tests and shows its failures in
full (`python -m pytest --failures` shows all of them). A wrong answer fails with the
numbers and, where a usual mistake explains them, a hint. The grader runs more checks than
these, so passing here is necessary, not sufficient.

| exercise | where | points | what |
|---|---|---|---|
{chr(10).join(rows)}

## The notebooks

{nb_section}

## Hand in

From this folder (or any folder below it), run

```
bpkit collect
```

It writes `submission.zip` with exactly the files you edit, and nothing else:

{files}

Upload that zip. Changes to other files (the tests, `bpkit/_validate.py`, ...) are not
part of the submission, so they cannot help or hurt you.
"""
