"""``bpkit grade``: run the hidden checks on submissions, in confined worker processes.

For each submission the grader reads only the handed-in modules
(:mod:`bpkit.assignments.grading.submission`), lays them over a pristine student edition (every
exercise a stub) and, for each exercise, starts a fresh worker on a temporary copy
(:mod:`bpkit.assignments.grading.worker_client`). The worker runs student code and nothing else; the
reference results and the score are computed here, in this process. A worker that raises,
hangs, crashes or misbehaves costs the exercise in progress, never the report.

Grading fails closed: before any submission is touched a probe worker reports how it is
confined, and if Landlock or the seccomp filter is missing on this machine nothing is
graded unless ``--allow-unconfined`` is given (then every output says so in capitals).

Exit status: 0 whenever grading completed, whatever the scores; 1 if grading could not run
(no pristine edition, a worker that cannot start or is not confined, a hidden check that
itself failed); 2 on a usage error (a submission path that does not exist, ``--results``
with several submissions).
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import sys
import tempfile
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import bpkit
from bpkit.assignments.grading import report, submission
from bpkit.assignments.grading.runtime.sandbox import Limits, sandbox_paths
from bpkit.assignments.grading.worker_client import (
    StudentError,
    Worker,
    WorkerDied,
    install_runtime,
)
from bpkit.assignments.student import exercises

NOTEBOOKS_NOTE = (
    "Notebooks are not graded: the score comes from the hidden checks of "
    + ", ".join(submission.MODULES)
    + " alone."
)


_MARKER = re.compile(r"^[ \t]*# BEGIN SOLUTION[ \t]*$", re.M)
# Confinement layers to act as if this machine lacked: the tests' switch for the paths a
# machine without Landlock or seccomp takes (see sandbox.confine). Empty in real runs.
SIMULATE_MISSING: tuple[str, ...] = ()


class GradingError(Exception):
    """Grading itself could not run (as opposed to a submission doing badly)."""


@dataclass
class Context:
    """What every submission of one run shares.

    ``confinement`` and ``missing`` come from a probe worker started once by
    :func:`make_context`, before any grading thread exists.
    """

    tmp: Path
    pristine: Path
    runtime: Path
    paths: dict
    limits: Limits
    seed: int
    selected: list[exercises.Exercise]
    confinement: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    allow_unconfined: bool = False
    simulate_missing: tuple[str, ...] = ()

    def notes(self) -> list[str]:
        lim = self.limits
        lines = []
        if self.missing:
            lines.append(
                f"WARNING: UNCONFINED GRADING: {' and '.join(self.missing)} NOT in force on "
                "this machine, graded anyway because of --allow-unconfined. Student code "
                "could read the kit and the hidden checks, signal or trace other processes "
                "and forge its results: do not trust these scores for a real course."
            )
        lines.append(f"seed {self.seed} (bpkit grade --seed {self.seed} draws the same inputs)")
        lines.append("isolation: " + ("; ".join(self.confinement) or "no worker was started"))
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
        from bpkit.assignments.release import edition as release

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


def start_worker(ctx: Context, run_dir: Path) -> Worker:
    """A worker in ``run_dir``, refused (and stopped) if it is less confined than allowed."""
    try:
        worker = Worker(run_dir, ctx.runtime, ctx.limits, ctx.paths, ctx.simulate_missing)
    except (WorkerDied, OSError) as exc:
        raise GradingError(f"could not start a worker process: {exc}") from None
    if worker.missing and not ctx.allow_unconfined:
        worker.close()
        raise GradingError(
            f"refusing to grade: {' and '.join(worker.missing)} cannot confine the worker on "
            f"this machine ({'; '.join(worker.confinement)}). Student code could then read "
            "the hidden checks and forge its results. Grade on a Linux x86-64 kernel with "
            "Landlock (5.13+), or pass --allow-unconfined to grade anyway (trusted code only)"
        )
    return worker


def _student_side(exc: Exception) -> str:
    """In words, an error that came from the worker or the submission."""
    if isinstance(exc, (StudentError, WorkerDied)):
        where = getattr(exc, "where", "")
        return f"{exc}" + (f"\n{where}" if where else "")
    return f"the worker could not be used: {type(exc).__name__}: {exc}"


def grade_exercise(ex, sub, ctx: Context, base: Path, work: Path) -> list[report.CheckResult]:
    """Run one exercise's hidden checks in a fresh worker.

    A check ends in one of three ways: it passes; it fails (:class:`CheckFailed` about a
    value of the submission, :class:`StudentError` when the submission raised or returned
    something that is not plain data, :class:`WorkerDied`); or it raises anything else,
    which is a fault of the check or of the reference code, never of the student: grading
    stops with :class:`GradingError` naming the check, rather than cost the student points.
    """
    # Imported here: the checks import the reference modules, which `bpkit --help` needs not.
    from bpkit.assignments.grading.checks import (
        CHECKS,
        FAST_LAYERS_STAND_IN,
        NAIVE_ONLY,
        CheckFailed,
    )

    checks = CHECKS[ex.name]
    rel = ex.path
    if rel in sub.problems:
        return [report.CheckResult(c, 0.0, sub.problems[rel]) for c in checks]
    run_dir = work / f"run-{ex.name}"
    shutil.copytree(base, run_dir)
    if ex.name in NAIVE_ONLY:
        (run_dir / "bpkit" / "fast_layers.py").write_text(FAST_LAYERS_STAND_IN, encoding="utf-8")
    results: list[report.CheckResult] = []
    with start_worker(ctx, run_dir) as worker:
        try:
            worker.import_module(ex.module)
        except Exception as exc:  # noqa: BLE001  (whatever the import did, it costs only this)
            return [report.CheckResult(c, 0.0, _student_side(exc), worker.output()) for c in checks]
        for i, check in enumerate(checks):
            rng = np.random.default_rng([ctx.seed, zlib.crc32(f"{ex.name}/{check.name}".encode())])
            try:
                check.run(worker, rng)
                results.append(report.CheckResult(check, float(check.points)))
            except CheckFailed as exc:
                results.append(report.CheckResult(check, 0.0, str(exc)))
            except StudentError as exc:
                results.append(report.CheckResult(check, 0.0, _student_side(exc)))
            except WorkerDied as exc:
                results.append(report.CheckResult(check, 0.0, str(exc), worker.output()))
                results += [
                    report.CheckResult(c, 0.0, f"not run: the worker had stopped ({exc})")
                    for c in checks[i + 1 :]
                ]
                break
            except Exception as exc:  # noqa: BLE001  (the check's own fault: stop, say where)
                detail = "".join(traceback.format_exception(exc)).rstrip()
                raise GradingError(
                    f"the hidden check {ex.name}/{check.name} itself failed "
                    f"({type(exc).__name__}: {exc}); no submission is to blame, so nothing "
                    f"was graded. Traceback of the check:\n{detail}"
                ) from exc
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
    allow_unconfined: bool = False,
    simulate_missing: tuple[str, ...] = (),
) -> Context:
    """Prepare a grading run in ``tmp``: pristine edition, worker runtime, sandbox paths.

    A probe worker, started in an empty folder, reports the confinement every worker of
    this run gets; the report is stored once, here, so grading threads only read it.

    Raises
    ------
    GradingError
        If there is no pristine edition to grade against, or the worker cannot be confined
        and ``allow_unconfined`` is false.
    RuntimeError
        If the sandbox would let workers read the instructor's bpkit.
    """
    secret = [Path(bpkit.__file__).resolve().parent]
    ctx = Context(
        tmp=tmp,
        pristine=pristine_edition(tmp, edition, source),
        runtime=install_runtime(tmp / "runtime"),
        paths=sandbox_paths(secret),
        limits=limits,
        seed=seed if seed is not None else secrets.randbits(63),
        selected=selected or list(exercises.EXERCISES),
        allow_unconfined=allow_unconfined,
        simulate_missing=tuple(simulate_missing),
    )
    probe = tmp / "probe"
    probe.mkdir()
    with start_worker(ctx, probe) as worker:
        ctx.confinement, ctx.missing = list(worker.confinement), list(worker.missing)
    return ctx


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
    parser.add_argument(
        "--allow-unconfined",
        action="store_true",
        help="grade even where Landlock or seccomp is missing (trusted submissions only)",
    )


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
            ctx = make_context(
                Path(tmp),
                limits,
                args.seed,
                selected,
                args.edition,
                args.source,
                allow_unconfined=args.allow_unconfined,
                simulate_missing=SIMULATE_MISSING,
            )
            pool = ThreadPoolExecutor(max_workers=args.jobs)
            try:
                results = list(pool.map(lambda s: grade_submission(s, ctx), subs))
            finally:  # after a GradingError, grade no further submission
                pool.shutdown(wait=True, cancel_futures=True)
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
