"""Grading results and the three ways they are written: a table, a CSV, Gradescope's JSON.

Gradescope reads ``results.json`` with a top-level ``score`` and one entry per test in
``tests``: ``name``, ``score``, ``max_score``, ``status`` (``passed``/``failed``),
``output``, ``visibility`` and ``tags``. Here a test is one hidden check, and its ``tags``
are the functions or methods that check grades (``["conv_backward_naive"]``,
``["TwoLayerNet.loss"]``).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bpkit.assignments.student import exercises

if TYPE_CHECKING:
    from bpkit.assignments.grading.checks import Check


@dataclass
class CheckResult:
    """The verdict on one hidden check; ``message`` is empty when it passed."""

    check: Check
    score: float
    message: str = ""
    output: str = ""

    @property
    def passed(self) -> bool:
        return not self.message


@dataclass
class SubmissionResult:
    """All check results of one submission, in registry order."""

    name: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def points(self, exercise: str) -> float:
        return sum(r.score for r in self.checks if r.check.exercise == exercise)

    def max_points(self, exercise: str) -> float:
        return sum(r.check.points for r in self.checks if r.check.exercise == exercise)

    def exercise_names(self) -> list[str]:
        return list(dict.fromkeys(r.check.exercise for r in self.checks))

    @property
    def total(self) -> float:
        return sum(r.score for r in self.checks)

    @property
    def max_total(self) -> float:
        return sum(r.check.points for r in self.checks)


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def table(result: SubmissionResult, width: int = 140) -> str:
    """The per-exercise table: points, max and what failed, in words."""
    lines = [f"submission: {result.name}", f"{'exercise':<15}{'points':>7}{'max':>6}  what failed"]
    for name in result.exercise_names():
        failed = [r for r in result.checks if r.check.exercise == name and not r.passed]
        why = [f"{r.check.name}: {r.message.splitlines()[0]}" for r in failed] or ["-"]
        row = f"{name:<15}{_num(result.points(name)):>7}{_num(result.max_points(name)):>6}  "
        lines.append(row + _clip(why[0], width - len(row)))
        lines += [" " * len(row) + _clip(w, width - len(row)) for w in why[1:]]
    lines.append(f"{'total':<15}{_num(result.total):>7}{_num(result.max_total):>6}")
    return "\n".join(lines)


def _clip(text: str, room: int) -> str:
    room = max(room, 40)
    return text if len(text) <= room else text[: room - 3] + "..."


def results_json(
    result: SubmissionResult,
    notes: Sequence[str],
    visibility: str = "visible",
    seed: int | None = None,
):
    """Gradescope's ``results.json`` content as a dict; ``extra_data`` records the seed."""
    tests = []
    for r in result.checks:
        output = "passed" if r.passed else r.message
        if r.output:
            output += "\n\nwhat the code printed (capped):\n" + r.output
        tests.append(
            {
                "name": f"{r.check.exercise}: {r.check.title}",
                "score": round(r.score, 4),
                "max_score": r.check.points,
                "status": "passed" if r.passed else "failed",
                "output": output,
                "visibility": visibility,
                "tags": list(r.check.targets),
            }
        )
    out = {
        "score": round(result.total, 4),
        "execution_time": round(result.seconds, 2),
        "output": "\n".join(notes),
        "visibility": visibility,
        "tests": tests,
    }
    if seed is not None:
        out["extra_data"] = {"seed": seed}
    return out


def write_results(
    path: str | Path, result: SubmissionResult, notes: Sequence[str], seed: int | None = None
) -> None:
    """Write ``results.json`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(results_json(result, notes, seed=seed), indent=2) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)


def write_csv(path: str | Path, results: Sequence[SubmissionResult]) -> None:
    """One row per submission: name, total, max, then the points of every exercise."""
    names = [ex.name for ex in exercises.EXERCISES]
    graded = [n for n in names if any(n in r.exercise_names() for r in results)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["submission", "total", "max", *graded])
        for r in results:
            out.writerow(
                [
                    _cell(r.name),
                    _num(r.total),
                    _num(r.max_total),
                    *(_num(r.points(n)) for n in graded),
                ]
            )


def _cell(text: str) -> str:
    """``text`` as a cell that a spreadsheet shows as text, never runs as a formula.

    A submission's name is chosen by a student; one starting with ``=``, ``+``, ``-``,
    ``@`` (or a tab or carriage return) would be a formula, so it gets a leading quote.
    """
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
