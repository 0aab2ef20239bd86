"""``bpkit grade``: run the hidden checks on submissions, in confined worker processes.

For each submission the grader reads only the handed-in modules
(:mod:`bpkit.assignments.submission`), lays them over a pristine student edition (every
exercise a stub) and, for each exercise, starts a fresh worker on a temporary copy
(:mod:`bpkit.assignments.remote`). The worker runs student code and nothing else; the
reference results and the score are computed here, in this process. A worker that raises,
hangs, crashes or misbehaves costs the exercise in progress, never the report.

Exit status: 0 whenever grading completed, whatever the scores; 1 if grading could not run
(no pristine edition, a worker that cannot start); 2 on a usage error (a submission path
that does not exist, ``--results`` with several submissions).
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import bpkit
from bpkit.assignments import exercises, report, submission
from bpkit.assignments.remote import (
    StudentError,
    Worker,
    WorkerDied,
    install_runtime,
)
from bpkit.assignments.sandbox import Limits, sandbox_paths

NOTEBOOKS_NOTE = (
    "Notebooks are not graded: the score comes from the hidden checks of "
    + ", ".join(submission.MODULES)
    + " alone."
)


_MARKER = re.compile(r"^[ \t]*# BEGIN SOLUTION[ \t]*$", re.M)


class GradingError(Exception):
    """Grading itself could not run (as opposed to a submission doing badly)."""


@dataclass
class Context:
    """What every submission of one run shares."""

    tmp: Path
    pristine: Path
    runtime: Path
    paths: dict
    limits: Limits
    seed: int
    selected: list[exercises.Exercise]
    confinement: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        lim = self.limits
        lines = [f"seed {self.seed} (bpkit grade --seed {self.seed} draws the same inputs)"]
        lines.append("isolation: " + ("; ".join(self.confinement) or "no worker was started"))
        if any("NOT" in line for line in self.confinement):
            lines.append(
                "WARNING: the worker is not fully confined on this machine; student code could "
                "read files outside its copy (see the README, 'What the grader guarantees')"
            )
        lines.append(
            f"limits: {lim.timeout:g} s wall clock per call, {lim.memory_mb} MiB address "
            f"space, {lim.cpu_seconds} s CPU per exercise, {lim.output_kb} KiB of output kept"
        )
        lines.append(NOTEBOOKS_NOTE)
        return lines


def pristine_edition(tmp: Path, edition: str | None, source: str | None) -> Path:
    """The pristine student edition to lay submissions over: given, or built now."""
    if edition is not None:
        path = Path(edition)
    else:
        from bpkit.assignments import release

        try:
            path = release.build(tmp / "pristine", exercises=None, source=source)
        except (release.ReleaseError, OSError) as exc:
            raise GradingError(f"could not build the pristine student edition: {exc}") from None
    for rel in submission.MODULES:
        module = path / rel
        if not module.is_file():
            raise GradingError(f"{path}: not a student edition (no {rel})")
        if _MARKER.search(module.read_text(encoding="utf-8", errors="replace")):
            raise GradingError(f"{module}: holds solution regions; expected a pristine edition")
    return path


def grade_exercise(ex, sub, ctx: Context, base: Path, work: Path) -> list[report.CheckResult]:
    """Run one exercise's hidden checks in a fresh worker."""
    # Imported here: the checks import the reference modules, which `bpkit --help` needs not.
    from bpkit.assignments.hidden import CHECKS, CheckFailed

    checks = CHECKS[ex.name]
    rel = ex.module.replace(".", "/") + ".py"
    if rel in sub.problems:
        return [report.CheckResult(c, 0.0, sub.problems[rel]) for c in checks]
    run_dir = work / f"run-{ex.name}"
    shutil.copytree(base, run_dir)
    try:
        worker = Worker(run_dir, ctx.runtime, ctx.limits, ctx.paths)
    except (WorkerDied, OSError) as exc:
        raise GradingError(f"could not start a worker process: {exc}") from None
    results: list[report.CheckResult] = []
    with worker:
        if not ctx.confinement:
            ctx.confinement.extend(worker.confinement)
        try:
            worker.import_module(ex.module)
        except (StudentError, WorkerDied) as exc:
            text = f"{exc}" + (f"\n{exc.where}" if getattr(exc, "where", "") else "")
            return [report.CheckResult(c, 0.0, text, worker.output()) for c in checks]
        for i, check in enumerate(checks):
            rng = np.random.default_rng([ctx.seed, zlib.crc32(f"{ex.name}/{check.name}".encode())])
            try:
                check.run(worker, rng)
                results.append(report.CheckResult(check, float(check.points)))
            except CheckFailed as exc:
                results.append(report.CheckResult(check, 0.0, str(exc)))
            except StudentError as exc:
                text = f"{exc}" + (f"\n{exc.where}" if exc.where else "")
                results.append(report.CheckResult(check, 0.0, text))
            except WorkerDied as exc:
                results.append(report.CheckResult(check, 0.0, str(exc), worker.output()))
                results += [
                    report.CheckResult(c, 0.0, f"not run: the worker had stopped ({exc})")
                    for c in checks[i + 1 :]
                ]
                break
            except Exception as exc:  # noqa: BLE001  (a value that trips a check's arithmetic)
                text = f"the check could not complete: {type(exc).__name__}: {exc}"
                results.append(report.CheckResult(check, 0.0, text))
    shutil.rmtree(run_dir, ignore_errors=True)
    return results


def grade_submission(sub: submission.Submission, ctx: Context) -> report.SubmissionResult:
    """Grade every selected exercise of one submission."""
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="sub-", dir=ctx.tmp))
    try:
        base = submission.lay_over(sub, ctx.pristine, work / "base")
        result = report.SubmissionResult(sub.name)
        for ex in ctx.selected:
            result.checks += grade_exercise(ex, sub, ctx, base, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.monotonic() - start
    return result


def make_context(
    tmp: Path,
    limits: Limits,
    seed: int | None = None,
    selected: list[exercises.Exercise] | None = None,
    edition: str | None = None,
    source: str | None = None,
) -> Context:
    """Prepare a grading run in ``tmp``: pristine edition, worker runtime, sandbox paths.

    Raises
    ------
    GradingError
        If there is no pristine edition to grade against.
    RuntimeError
        If the sandbox would let workers read the instructor's bpkit.
    """
    secret = [Path(bpkit.__file__).resolve().parent]
    return Context(
        tmp=tmp,
        pristine=pristine_edition(tmp, edition, source),
        runtime=install_runtime(tmp / "runtime"),
        paths=sandbox_paths(secret),
        limits=limits,
        seed=seed if seed is not None else secrets.randbits(63),
        selected=selected or list(exercises.EXERCISES),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = Limits()
    parser.add_argument(
        "submissions", nargs="+", metavar="SUBMISSION", help="student edition folders or zips"
    )
    parser.add_argument("--results", metavar="JSON", help="write Gradescope's results.json here")
    parser.add_argument("--csv", metavar="CSV", help="write one row per submission here")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N at a time")
    parser.add_argument(
        "--timeout",
        type=float,
        default=default.timeout,
        metavar="S",
        help=f"wall-clock seconds per call into student code (default {default.timeout:g})",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=default.memory_mb,
        metavar="MB",
        help=f"address space of a worker in MiB (default {default.memory_mb})",
    )
    parser.add_argument(
        "--exercises", nargs="+", metavar="NAME", help="grade only these exercises (default: all)"
    )
    parser.add_argument("--seed", type=int, help="seed of the random inputs (default: fresh)")
    parser.add_argument(
        "--edition", metavar="DIR", help="pristine student edition (default: build one now)"
    )
    parser.add_argument("--source", metavar="ROOT", help="repository root to build it from")


def run(args: argparse.Namespace) -> int:
    try:
        selected = [exercises.get(n) for arg in args.exercises or [] for n in arg.split(",") if n]
    except KeyError as exc:
        return _usage(str(exc.args[0]))
    if args.results and len(args.submissions) > 1:
        return _usage("--results takes one submission (Gradescope); use --csv for several")
    if args.jobs < 1 or args.timeout <= 0 or args.memory < 256:
        return _usage("expected --jobs >= 1, --timeout > 0 and --memory >= 256")
    try:
        subs = [submission.load(p) for p in args.submissions]
    except submission.SubmissionError as exc:
        return _usage(str(exc))
    # CPU seconds cover every call of one exercise, so they grow with the per-call timeout.
    cpu = max(Limits.cpu_seconds, int(8 * args.timeout))
    limits = Limits(timeout=args.timeout, memory_mb=args.memory, cpu_seconds=cpu)
    with tempfile.TemporaryDirectory(prefix="bpkit-grade-") as tmp:
        try:
            ctx = make_context(Path(tmp), limits, args.seed, selected, args.edition, args.source)
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                results = list(pool.map(lambda s: grade_submission(s, ctx), subs))
        except (GradingError, RuntimeError) as exc:
            print(f"bpkit grade: error: {exc}", file=sys.stderr)
            return 1
    notes = ctx.notes()
    print("\n".join(notes))
    for result in results:
        print()
        print(report.table(result))
    if args.results:
        report.write_results(args.results, results[0], notes)
    if args.csv:
        report.write_csv(args.csv, results)
    return 0


def _usage(message: str) -> int:
    print(f"bpkit grade: error: {message}", file=sys.stderr)
    return 2
