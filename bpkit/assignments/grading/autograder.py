"""``bpkit autograder OUT.zip``: a Gradescope autograder that grades with ``bpkit grade``.

The zip holds everything the container needs, so nothing is fetched at grading time:

- ``setup.sh``: run once when the image is built; installs the kit (and so its
  dependencies) with pip.
- ``run_autograder``: run for every submission; grades ``<root>/submission`` with the seed
  fixed when the zip was built (so a resubmission or a regrade draws the same values) and writes
  ``<root>/results/results.json``. The root is ``/autograder`` unless the environment
  variable ``BPKIT_AUTOGRADER_ROOT`` names another one (tests use a temporary folder laid
  out like the container); ``BPKIT_PYTHON`` picks the interpreter (default ``python3``).
- ``kit/``: the bpkit source tree with the reference code and the hidden checks, and its
  ``pyproject.toml``; ``run_autograder`` runs ``python -m bpkit`` from there.
- ``pristine/``: the student edition with every exercise stubbed, built now, over which each
  submission's modules are laid.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import tempfile
import zipfile
from pathlib import Path

from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.student import collect

ROOT_VARIABLE = "BPKIT_AUTOGRADER_ROOT"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install --no-cache-dir ./kit
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. BPKIT_AUTOGRADER_ROOT replaces /autograder.
set -u
ROOT="${{BPKIT_AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{BPKIT_PYTHON:-python3}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
cd "$ROOT/source/kit" || exit 1
"$PYTHON" -m bpkit grade "$ROOT/submission" --edition "$ROOT/source/pristine" \\
    --results "$RESULTS" --timeout {timeout} --memory {memory} --seed {seed}{extra}
status=$?
if [ "$status" -ne 0 ] || [ ! -s "$RESULTS" ]; then
    # Grading itself failed (not the submission): say so rather than leave no result.
    WHY="The autograder could not run (bpkit grade exit status $status)."
    printf '{{"score": 0, "output": "%s Please tell the course staff.", "tests": []}}\\n' \\
        "$WHY" > "$RESULTS"
fi
exit 0
"""


def _kit_files(source: Path) -> dict[str, bytes]:
    """The bpkit source tree (reference code and hidden checks included) and its metadata.

    Both come from ``source``, so the kit's code and its ``pyproject.toml`` are of one tree
    even when ``source`` is not the checkout this process imported bpkit from.
    """
    package = source / "bpkit"
    if not package.is_dir():
        raise FileNotFoundError(f"{source}: no bpkit/ folder; expected the repository root")
    files = {
        f"kit/bpkit/{path.relative_to(package).as_posix()}": path.read_bytes()
        for path in sorted(package.rglob("*"))
        if _is_kit_file(path, package)
    }
    for name in ("pyproject.toml", "README.md"):
        if (source / name).is_file():
            files[f"kit/{name}"] = (source / name).read_bytes()
    if "kit/pyproject.toml" not in files:
        raise FileNotFoundError(f"{source}: no pyproject.toml; expected the repository root")
    return files


def _is_kit_file(path: Path, package: Path) -> bool:
    """A module or data file of the package, caches left out."""
    rel = path.relative_to(package)
    return path.is_file() and "__pycache__" not in rel.parts and path.suffix in (".py", ".npz")


def _edition_files(edition: Path) -> dict[str, bytes]:
    package = edition / "bpkit"
    if not package.is_dir():
        raise FileNotFoundError(f"{edition}: no bpkit/ folder; expected a student edition")
    return {
        f"pristine/bpkit/{p.relative_to(package).as_posix()}": p.read_bytes()
        for p in sorted(package.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def build(
    out_zip: str | Path,
    edition: str | Path | None = None,
    source: str | Path | None = None,
    limits: Limits | None = None,
    allow_unconfined: bool = False,
    seed: int | None = None,
) -> Path:
    """Write the autograder zip.

    Parameters
    ----------
    out_zip : path
        Where to write it.
    edition : path, optional
        A pristine student edition; by default one is built with ``bpkit release``.
    source : path, optional
        The repository root (``pyproject.toml``, ``bpkit/``, ``notebooks/``); default: the
        checkout the imported bpkit belongs to (:func:`release.default_source`).
    limits : Limits, optional
        Per-call timeout and memory for ``run_autograder``.
    allow_unconfined : bool
        Make ``run_autograder`` grade even where the kernel offers no Landlock or seccomp
        (``bpkit grade --allow-unconfined``); results then say that grading was unconfined.
    seed : int, optional
        The seed of every grading run of this autograder; by default one drawn now.

    Returns
    -------
    Path
        ``out_zip``.
    """
    from bpkit.assignments.release import edition as release

    limits = limits or Limits()
    root = Path(source).resolve() if source is not None else release.default_source()
    with tempfile.TemporaryDirectory(prefix="bpkit-autograder-") as tmp:
        if edition is None:
            edition = release.build(Path(tmp) / "edition", source=root)
        files = {**_kit_files(root), **_edition_files(Path(edition))}
    return _write_zip(Path(out_zip), _scripts(limits, allow_unconfined, seed), files)


def _scripts(limits: Limits, allow_unconfined: bool, seed: int | None) -> dict[str, str]:
    """``setup.sh`` and ``run_autograder`` with this build's limits and seed filled in."""
    return {
        "setup.sh": SETUP_SH,
        "run_autograder": RUN_AUTOGRADER.format(
            timeout=limits.timeout,
            memory=limits.memory_mb,
            seed=int(seed if seed is not None else secrets.randbits(63)),
            extra=" --allow-unconfined" if allow_unconfined else "",
        ),
    }


def _write_zip(out: Path, scripts: dict[str, str], files: dict[str, bytes]) -> Path:
    """The scripts (executable) first, then the files in sorted order, with fixed dates."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in scripts.items():
            collect.zip_entry(zf, name, text.encode(), 0o755)
        for name, data in sorted(files.items()):
            collect.zip_entry(zf, name, data)
    return out


def build_seed(out_zip: str | Path) -> int:
    """The seed that the autograder zip ``out_zip`` grades with."""
    with zipfile.ZipFile(out_zip) as zf:
        script = zf.read("run_autograder").decode()
    found = re.search(r"--seed (\d+)", script)
    if found is None:
        raise ValueError(f"{out_zip}: its run_autograder fixes no seed")
    return int(found.group(1))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = Limits()
    parser.add_argument("out_zip", metavar="OUT.zip", help="the autograder zip to write")
    parser.add_argument("--edition", metavar="DIR", help="pristine edition (default: build one)")
    parser.add_argument("--source", metavar="ROOT", help="repository root (default: above bpkit)")
    parser.add_argument("--timeout", type=float, default=default.timeout, metavar="S")
    parser.add_argument("--memory", type=int, default=default.memory_mb, metavar="MB")
    parser.add_argument(
        "--allow-unconfined",
        action="store_true",
        help="grade even where Gradescope's kernel cannot confine student code (says so)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed of every grading run (default: one drawn now, printed)"
    )


def run(args: argparse.Namespace) -> int:
    limits = Limits(timeout=args.timeout, memory_mb=args.memory)
    try:
        out = build(
            args.out_zip, args.edition, args.source, limits, args.allow_unconfined, args.seed
        )
    except (OSError, ValueError) as exc:
        print(f"bpkit autograder: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}: upload it as the Gradescope autograder (Ubuntu base image)")
    print(f"seed {build_seed(out)}: every submission it grades draws the same values")
    return 0
