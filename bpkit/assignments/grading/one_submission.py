"""Grading one submission: each selected exercise's hidden checks in a fresh worker.

:func:`make_context` prepares what every submission of a run shares (the pristine edition
to lay submissions over, the fork server that starts every worker, the sandbox's paths, a
probe of how workers are confined); :func:`grade_path` loads one submission and grades it,
so that whatever goes wrong with it (a damaged zip, a full disk, a worker that dies) costs
only it;
:func:`grade_exercise` runs one exercise's checks. The batch around it, the outputs and
the signals are :mod:`bpkit.assignments.grading.grade`'s.
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import shutil
import tempfile
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import bpkit
from bpkit.assignments.grading import report, scratch, submission
from bpkit.assignments.grading.forkserver_client import ForkServer, ForkServerFailed
from bpkit.assignments.grading.runtime.sandbox import Limits, sandbox_paths
from bpkit.assignments.grading.worker_client import (
    Policy,
    StudentError,
    Worker,
    WorkerDied,
    WorkerStartFailed,
    install_runtime,
    start_server,
)
from bpkit.assignments.student import exercises

SUBMISSION_TIMEOUT = 300.0

NOTEBOOKS_NOTE = (
    "Notebooks are not graded: the score comes from the hidden checks of "
    + ", ".join(submission.MODULES)
    + " alone."
)


_MARKER = re.compile(r"^[ \t]*# BEGIN SOLUTION[ \t]*$", re.M)


class GradingError(Exception):
    """Grading itself could not run (as opposed to a submission doing badly)."""


class Interrupted(Exception):
    """The run was told to stop before this submission was finished."""


@dataclass
class Context:
    """What every submission of one run shares.

    ``confinement`` and ``missing`` come from a probe worker started once by
    :func:`make_context`, before any grading thread exists. :meth:`close` ends the fork
    server that forks every worker of the run.
    """

    tmp: Path
    pristine: Path
    server: ForkServer
    paths: dict
    limits: Limits
    seed: int
    selected: list[exercises.Exercise]
    confinement: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)
    submission_timeout: float = SUBMISSION_TIMEOUT
    stop: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        """End the run's fork server (and any worker still running)."""
        self.server.close()

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
            f"space, {lim.cpu_seconds} s CPU per exercise, {lim.output_kb} KiB of output kept, "
            f"{self.submission_timeout:g} s per submission"
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
    """A worker in ``run_dir``, refused (and stopped) if it is less confined than allowed.

    Raises
    ------
    GradingError
        If the worker could not start (no student code has run then, so it is never the
        submission's fault), or is less confined than the policy allows.
    """
    try:
        worker = Worker(run_dir, ctx.server, ctx.limits, ctx.paths, ctx.policy)
    except (WorkerStartFailed, ForkServerFailed, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise GradingError(
            f"could not start a worker process: {why}. No student code had run yet: this is "
            "a problem of this machine or of the grader's own limits, not of any submission"
        ) from None
    if worker.missing and not ctx.policy.allow_unconfined:
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


def _all_failed(checks, why: str, output: str = "") -> list[report.CheckResult]:
    return [report.CheckResult(c, 0.0, why, output) for c in checks]


def _budget_note(ctx: Context) -> str:
    return (
        f"stopped: the submission used up its {ctx.submission_timeout:g} s budget "
        "(--submission-timeout)"
    )


def grade_exercise(
    ex, sub, ctx: Context, base: Path, work: Path, deadline: float = math.inf
) -> list[report.CheckResult]:
    """Run one exercise's hidden checks in a fresh worker, before ``deadline`` (monotonic).

    A check ends in one of three ways: it passes; it fails (:class:`CheckFailed` about a
    value of the submission, :class:`StudentError` when the submission raised or returned
    something that is not plain data, :class:`WorkerDied`); or it raises anything else,
    which is a fault of the check or of the reference code, never of the student: grading
    stops with :class:`GradingError` naming the check, rather than cost the student points.
    Each call into student code gets the per-call timeout or what is left of the
    submission's budget, whichever is shorter; past the budget no check runs.
    """
    # Imported here: the checks import the reference modules, which `bpkit --help` needs not.
    from bpkit.assignments.grading import stand_ins
    from bpkit.assignments.grading.checks import CHECKS

    checks = CHECKS[ex.name]
    rel = ex.path
    if rel in sub.problems:
        return _all_failed(checks, sub.problems[rel])
    left = deadline - time.monotonic()
    if left <= 0:
        return _all_failed(checks, f"not run: {_budget_note(ctx)}")
    run_dir = work / f"run-{ex.name}"
    try:
        _prepare_run_dir(ex, base, run_dir)
        with start_worker(ctx, run_dir) as worker:
            worker.budget_end = deadline
            worker.layers = stand_ins.layer_service_for(ex.name)
            results = _run_checks(ex, checks, worker, ctx)
    except OSError as exc:  # the grader's copy failed (a full disk): costs this exercise
        return _all_failed(checks, f"not run: could not copy the submission ({exc})")
    except ForkServerFailed as exc:
        raise GradingError(_machinery_failed(str(exc))) from None
    finally:
        remove_quietly(run_dir)
    if not ctx.server.usable():
        # Its workers died with it: what this exercise's worker reported is not its doing.
        raise GradingError(_machinery_failed("the fork server had ended"))
    if time.monotonic() >= deadline:
        results = [_after_budget(r, ctx) for r in results]
    return results


def _machinery_failed(why: str) -> str:
    return (
        f"{why}, while a submission was being graded. This is a problem of this machine "
        "(the server may have been killed, for instance by the out-of-memory killer), not of "
        "the submission: nothing of it was written; grade the rest with --resume"
    )


def _after_budget(result: report.CheckResult, ctx: Context) -> report.CheckResult:
    if result.passed or not any(w in result.message for w in ("did not finish", "not run")):
        return result
    return dataclasses.replace(result, message=f"{_budget_note(ctx)}; {result.message}")


def _prepare_run_dir(ex, base: Path, run_dir: Path) -> None:
    from bpkit.assignments.grading import stand_ins
    from bpkit.assignments.grading.checks import FAST_LAYERS_STAND_IN, NAIVE_ONLY

    shutil.copytree(base, run_dir)
    if ex.name in NAIVE_ONLY:
        (run_dir / "bpkit" / "fast_layers.py").write_text(FAST_LAYERS_STAND_IN, encoding="utf-8")
    stand_ins.lay_over(run_dir, ex.name)


def _run_checks(ex, checks, worker: Worker, ctx: Context) -> list[report.CheckResult]:
    """Import the exercise's module in ``worker``, then run each check in turn."""
    try:
        worker.import_module(ex.module)
    except ForkServerFailed:
        raise  # the grading machinery's failure: grade_exercise stops the run
    except Exception as exc:  # noqa: BLE001  (whatever the import did, it costs only this)
        return _all_failed(checks, _student_side(exc), worker.output())
    results: list[report.CheckResult] = []
    for i, check in enumerate(checks):
        result, stopped = _run_check(ex, check, worker, ctx)
        results.append(result)
        if stopped:
            why = result.message.split("\n", 1)[0]
            results += _all_failed(checks[i + 1 :], f"not run: the worker had stopped ({why})")
            break
    return results


def _run_check(ex, check, worker: Worker, ctx: Context) -> tuple[report.CheckResult, bool]:
    """One check's result, and whether the worker stopped during it."""
    from bpkit.assignments.grading.checks import CheckFailed

    rng = np.random.default_rng([ctx.seed, zlib.crc32(f"{ex.name}/{check.name}".encode())])
    try:
        check.run(worker, rng)
        return report.CheckResult(check, float(check.points)), False
    except CheckFailed as exc:
        return report.CheckResult(check, 0.0, str(exc)), False
    except StudentError as exc:
        return report.CheckResult(check, 0.0, _student_side(exc)), False
    except WorkerDied as exc:
        return report.CheckResult(check, 0.0, str(exc), worker.output()), True
    except ForkServerFailed:
        raise  # the grading machinery's failure: grade_exercise stops the run
    except Exception as exc:  # noqa: BLE001  (the check's own fault: stop, say where)
        detail = "".join(traceback.format_exception(exc)).rstrip()
        raise GradingError(
            f"the hidden check {ex.name}/{check.name} itself failed "
            f"({type(exc).__name__}: {exc}); no submission is to blame, so nothing "
            f"more was graded. Traceback of the check:\n{detail}"
        ) from exc


def remove_quietly(path: Path) -> None:
    """Remove a submission's temporary folder; a failure is left to the run's final cleanup."""
    try:
        scratch.remove_tree(path)
    except OSError:
        pass


def failed_result(name: str, ctx: Context, why: str) -> report.SubmissionResult:
    """A submission that could not be graded: every selected check 0, the reason in words."""
    from bpkit.assignments.grading.checks import CHECKS

    checks = [c for ex in ctx.selected for c in CHECKS[ex.name]]
    return report.SubmissionResult(name, _all_failed(checks, why), notes=[why])


def grade_submission(sub: submission.Submission, ctx: Context) -> report.SubmissionResult:
    """Grade every selected exercise of one submission within its budget.

    Raises
    ------
    Interrupted
        If the run was told to stop before this submission was finished.
    """
    start = time.monotonic()
    deadline = start + ctx.submission_timeout
    work = Path(tempfile.mkdtemp(prefix="sub-", dir=ctx.tmp))
    result = report.SubmissionResult(sub.name)
    try:
        try:
            base = submission.lay_over(sub, ctx.pristine, work / "base")
        except OSError as exc:
            return failed_result(sub.name, ctx, f"could not copy the submission ({exc})")
        for ex in ctx.selected:
            if ctx.stop.is_set():
                raise Interrupted
            result.checks += grade_exercise(ex, sub, ctx, base, work, deadline)
        if ctx.stop.is_set():
            raise Interrupted
    finally:
        remove_quietly(work)
    result.seconds = time.monotonic() - start
    if time.monotonic() >= deadline:
        result.notes.append(_budget_note(ctx) + ": the remaining exercises score 0")
    return result


def grade_path(path: str, ctx: Context) -> report.SubmissionResult:
    """Load one submission now (not before) and grade it; whatever fails costs only it.

    Raises
    ------
    GradingError
        If grading itself cannot go on (a worker cannot start, a hidden check failed).
    Interrupted
        If the run was told to stop first.
    """
    name = submission.display_name(path)
    try:
        sub = submission.load(path)
    except Exception as exc:  # noqa: BLE001  (a damaged hand-in costs only itself)
        return failed_result(name, ctx, f"could not be read: {type(exc).__name__}: {exc}")
    try:
        return grade_submission(sub, ctx)
    except (GradingError, Interrupted):
        raise
    except Exception as exc:  # noqa: BLE001  (anything else costs only this submission)
        return failed_result(name, ctx, f"could not be graded: {type(exc).__name__}: {exc}")


def make_context(
    tmp: Path,
    limits: Limits,
    seed: int | None = None,
    selected: list[exercises.Exercise] | None = None,
    edition: str | None = None,
    source: str | None = None,
    policy: Policy | None = None,
    submission_timeout: float = SUBMISSION_TIMEOUT,
    stop: threading.Event | None = None,
) -> Context:
    """Prepare a grading run in ``tmp``: pristine edition, fork server, sandbox paths.

    Call the context's ``close()`` when the run is over.

    A probe worker, started in an empty folder, reports the confinement every worker of
    this run gets; the report is stored once, here, so grading threads only read it.

    Raises
    ------
    GradingError
        If there is no pristine edition to grade against, the fork server cannot start, or
        the worker cannot be confined and ``allow_unconfined`` is false.
    RuntimeError
        If the sandbox would let workers read the instructor's bpkit.
    """
    secret = [Path(bpkit.__file__).resolve().parent]
    pristine = pristine_edition(tmp, edition, source)
    paths = sandbox_paths(secret)
    try:
        server = start_server(install_runtime(tmp / "runtime"), paths)
    except (ForkServerFailed, OSError) as exc:
        raise GradingError(
            f"could not start the fork server that starts the workers: {exc}. No student "
            "code had run yet: this is a problem of this machine, not of any submission"
        ) from None
    ctx = Context(
        tmp=tmp,
        pristine=pristine,
        server=server,
        paths=paths,
        limits=limits,
        seed=seed if seed is not None else secrets.randbits(63),
        selected=selected or list(exercises.EXERCISES),
        policy=policy or Policy(),
        submission_timeout=submission_timeout,
        stop=stop or threading.Event(),
    )
    probe = tmp / "probe"
    try:
        probe.mkdir()
        with start_worker(ctx, probe) as worker:
            ctx.confinement, ctx.missing = list(worker.confinement), list(worker.missing)
    except BaseException:
        ctx.close()
        raise
    return ctx
