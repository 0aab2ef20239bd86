"""The files a student edition gets that the repository does not have as such.

``README.md`` (set up, self-check, notebooks, hand in), ``pyproject.toml`` (the repository's
dependencies and test tools, pytest markers generated from the exercise registry),
``environment.yml`` for conda users and ``edition.json``, the manifest that tells
``bpkit collect`` it is running inside an edition. Every function returns text and reads no
clock, so the same input gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bpkit.assignments import exercises

SANITIZE_FILE = "notebooks/nbval_sanitize.cfg"


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes, \\uXXXX included).
    return json.dumps(value)


def _toml_list(values: Sequence[str], indent: str = "    ") -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}{_toml_str(v)},\n" for v in values) + "]"


def markers() -> list[str]:
    """The pytest marker lines: one per exercise, from the registry, plus ``slow``."""
    lines = []
    for ex in exercises.EXERCISES:
        where = f"{ex.module}: {', '.join(ex.targets)}"
        lines.append(f"{ex.name}: exercise {ex.name}, {ex.title} ({where})")
    lines.append("slow: takes more than a few seconds")
    return lines


def pyproject(project: dict) -> str:
    """The student edition's ``pyproject.toml``.

    Parameters
    ----------
    project : dict
        The repository's ``pyproject.toml`` as parsed by :mod:`tomllib`; its build system,
        project metadata, runtime dependencies, ``dev`` extra (the test tools), scripts and
        setuptools options carry over.
    """
    meta = project["project"]
    build = project["build-system"]
    setuptools = project.get("tool", {}).get("setuptools", {})
    dev = meta.get("optional-dependencies", {}).get("dev", [])
    out = [
        "# The student edition of bpkit, written by `bpkit release`.",
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
    find = setuptools.get("packages", {}).get("find", {"include": ["bpkit*"]})
    out += ["", "[tool.setuptools.packages.find]"]
    out += [f"{k} = {_toml_list(v)}" for k, v in sorted(find.items())]
    data = setuptools.get("package-data", {})
    if data:
        out += ["", "[tool.setuptools.package-data]"]
        out += [f"{k} = {_toml_list(v)}" for k, v in sorted(data.items())]
    out += [
        "",
        "[tool.pytest.ini_options]",
        # nbreply fails a notebook cell whose error was hidden; it is idle without --nbval.
        'addopts = "--strict-markers -ra -p bpkit.assignments.nbreply"',
        'testpaths = ["tests"]',
        f"markers = {_toml_list(markers())}",
        "",
    ]
    return "\n".join(out)


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
    out += [f"  - {dep.replace(' ', '')}" for dep in deps]
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


def readme(released: Sequence[str], notebooks: Sequence[str], submitted: Sequence[str]) -> str:
    """The student README: set up, check your work, the notebooks, hand in.

    Parameters
    ----------
    released : sequence of str
        Names of the exercises that are stubs in this edition.
    notebooks : sequence of str
        Paths of the notebooks shipped, relative to the edition root.
    submitted : sequence of str
        Paths that ``bpkit collect`` puts in ``submission.zip``.
    """
    rows = [
        f"| `{ex.name}` | `{ex.module}`: {', '.join(f'`{t}`' for t in ex.targets)} "
        f"| {ex.points} | {ex.title} |"
        for ex in exercises.EXERCISES
        if ex.name in released
    ]
    nb_check = "python -m pytest --nbval --nbval-current-env notebooks"
    if SANITIZE_FILE in notebooks:
        nb_check += f" --nbval-sanitize-with {SANITIZE_FILE}"
    nb_list = "\n".join(f"- `{nb}`" for nb in notebooks if nb.endswith(".ipynb"))
    if nb_list:
        nb_section = f"""{nb_list}

Open them with `jupyter lab notebooks`. They keep the outputs of a reference run; once
your code is in, check that your notebooks reproduce them:

```
{nb_check}
```"""
    else:
        nb_section = "This edition has no notebooks."
    files = "\n".join(f"- `{path}`" for path in submitted)
    return f"""# bpkit, student edition

In this course you write the forward and backward passes of a small neural-network
library in numpy, check each one against numerical gradients, and train networks with it.
The places to fill in are marked `# TODO(<exercise>)`; each function's docstring says what
it takes and returns, with the shape of every array.

## Set up, once

```
python -m pip install -e ".[dev]"
```

(With conda instead: `conda env create -f environment.yml`, then `conda activate bpkit`.)

## Check your work

```
python -m pytest
```

runs the public tests of every exercise; `python -m pytest -m affine` runs one exercise's.
A test of an exercise you have not started fails with "exercise ... is not implemented
yet"; a wrong answer fails with the numbers and, where a usual mistake explains them, a
hint. The grader runs more checks than these, so passing here is necessary, not sufficient.

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
