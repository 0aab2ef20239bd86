"""``bpkit grade``: run the hidden checks on submissions, in confined worker processes.

For each submission the grader reads only the handed-in modules
(:mod:`bpkit.assignments.grading.submission`), lays them over a pristine student edition
(every exercise a stub) and, for each exercise, starts a fresh worker on a temporary copy
(:mod:`bpkit.assignments.grading.worker_client`). The worker runs student code and nothing
else; the reference results and the score are computed here, in this process. A worker
that raises, hangs, crashes or misbehaves costs the exercise in progress, never the report.

Failure is per submission: reading (a damaged zip), copying (a full disk), grading and
cleaning up one submission may fail in any way; its row then says what went wrong, and
the others are graded. Submissions are read one at a time, when their turn comes, and
each is written out (table, CSV row, results.json) as soon as it is graded. SIGINT and
SIGTERM stop the run: workers killed, finished submissions kept, temporary folders
removed; ``--resume`` then grades only the rest. Workers die with the grader even when it
is killed outright, and its temporary folder is removed by the next run
(:mod:`bpkit.assignments.grading.scratch`).

Grading fails closed: before any submission is touched a probe worker reports how it is
confined, and if Landlock or the seccomp filter is missing on this machine nothing is
graded unless ``--allow-unconfined`` is given (then every output says so in capitals).

Exit status: 0 whenever grading completed, whatever the scores; 1 if grading could not run
or could not go on (no pristine edition, a worker that cannot start or is not confined, a
hidden check that itself failed, an output that could not be written, the ``--csv`` file in
use by another grader); 2 on a usage error (a submission path that does not exist,
``--results`` with several submissions); 3 when stopped by SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import bpkit
from bpkit.assignments.grading import report, scratch, submission, worker_client
from bpkit.assignments.grading.runtime.sandbox import Limits, sandbox_paths
from bpkit.assignments.grading.worker_client import (
    Policy,
    StudentError,
    Worker,
    WorkerDied,
    WorkerStartFailed,
    install_runtime,
)
from bpkit.assignments.student import exercises

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3
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
    policy: Policy = field(default_factory=Policy)
    submission_timeout: float = SUBMISSION_TIMEOUT
    stop: threading.Event = field(default_factory=threading.Event)

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


def start_worker(ctx: Context, run_dir: Path, limits: Limits | None = None) -> Worker:
    """A worker in ``run_dir``, refused (and stopped) if it is less confined than allowed.

    Raises
    ------
    GradingError
        If the worker could not start (no student code has run then, so it is never the
        submission's fault), or is less confined than the policy allows.
    """
    try:
        worker = Worker(run_dir, ctx.runtime, limits or ctx.limits, ctx.paths, ctx.policy)
    except (WorkerStartFailed, OSError) as exc:
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
        limits = dataclasses.replace(ctx.limits, timeout=min(ctx.limits.timeout, left))
        with start_worker(ctx, run_dir, limits) as worker:
            worker.layers = stand_ins.layer_service_for(ex.name)
            results = _run_checks(ex, checks, worker, ctx)
    except OSError as exc:  # the grader's copy failed (a full disk): costs this exercise
        return _all_failed(checks, f"not run: could not copy the submission ({exc})")
    finally:
        _remove_quietly(run_dir)
    if time.monotonic() >= deadline:
        results = [_after_budget(r, ctx) for r in results]
    return results


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
    except Exception as exc:  # noqa: BLE001  (the check's own fault: stop, say where)
        detail = "".join(traceback.format_exception(exc)).rstrip()
        raise GradingError(
            f"the hidden check {ex.name}/{check.name} itself failed "
            f"({type(exc).__name__}: {exc}); no submission is to blame, so nothing "
            f"more was graded. Traceback of the check:\n{detail}"
        ) from exc


def _remove_quietly(path: Path) -> None:
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
        _remove_quietly(work)
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
        policy=policy or Policy(),
        submission_timeout=submission_timeout,
        stop=stop or threading.Event(),
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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in --csv (or --results) and grade only the others",
    )
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N at a time")
    parser.add_argument(
        "--timeout",
        type=float,
        default=default.timeout,
        metavar="S",
        help=f"wall-clock seconds per call into student code (default {default.timeout:g})",
    )
    parser.add_argument(
        "--submission-timeout",
        type=float,
        default=SUBMISSION_TIMEOUT,
        metavar="S",
        help="wall-clock seconds for all of one submission; exercises not reached by then "
        f"score 0 (default {SUBMISSION_TIMEOUT:g})",
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
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the random values (default: a fresh one, printed and kept in results.json)",
    )
    parser.add_argument(
        "--edition", metavar="DIR", help="pristine student edition (default: build one now)"
    )
    parser.add_argument("--source", metavar="ROOT", help="repository root to build it from")
    parser.add_argument(
        "--allow-unconfined",
        action="store_true",
        help="grade even where Landlock or seccomp is missing (trusted submissions only)",
    )


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


@dataclass
class Plan:
    """What one ``bpkit grade`` command asks for, checked."""

    paths: list[str]
    selected: list[exercises.Exercise]
    limits: Limits
    submission_timeout: float
    jobs: int
    csv: str | None
    results: str | None
    resume: bool


def plan(args: argparse.Namespace) -> Plan:
    """Check the command line. Raises :class:`UsageError` with what was expected and got."""
    try:
        selected = [exercises.get(n) for arg in args.exercises or [] for n in arg.split(",") if n]
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    if args.results and len(args.submissions) > 1:
        raise UsageError("--results takes one submission (Gradescope); use --csv for several")
    if args.jobs < 1 or args.timeout <= 0 or args.memory < 256 or args.submission_timeout <= 0:
        raise UsageError(
            "expected --jobs >= 1, --timeout > 0, --submission-timeout > 0 and --memory >= "
            f"256; got {args.jobs}, {args.timeout:g}, {args.submission_timeout:g} and "
            f"{args.memory}"
        )
    if args.resume and not (args.csv or args.results):
        raise UsageError("--resume needs --csv or --results: the output to continue")
    for path in args.submissions:
        if not os.path.lexists(path):
            raise UsageError(f"{path}: no such folder or zip file")
    # CPU seconds cover every call of one exercise, so they grow with the per-call timeout.
    cpu = max(Limits.cpu_seconds, int(8 * args.timeout))
    return Plan(
        paths=list(args.submissions),
        selected=selected or list(exercises.EXERCISES),
        limits=Limits(timeout=args.timeout, memory_mb=args.memory, cpu_seconds=cpu),
        submission_timeout=args.submission_timeout,
        jobs=args.jobs,
        csv=args.csv,
        results=args.results,
        resume=args.resume,
    )


def own_limit_problems(limits: Limits) -> list[str]:
    """Hard limits of this process below what a worker sets on itself (it cannot raise them).

    The same resources and values as ``sandbox.set_limits``.
    """
    mib = 2**20
    wanted = [
        ("RLIMIT_AS", resource.RLIMIT_AS, limits.memory_mb * mib, "--memory"),
        ("RLIMIT_CPU", resource.RLIMIT_CPU, limits.cpu_seconds, "--timeout"),
        ("RLIMIT_FSIZE", resource.RLIMIT_FSIZE, limits.file_mb * mib, None),
        ("RLIMIT_NOFILE", resource.RLIMIT_NOFILE, 256, None),
    ]
    problems = []
    for name, res, value, option in wanted:
        hard = resource.getrlimit(res)[1]
        if hard != resource.RLIM_INFINITY and hard < value:
            hint = f" (lower it with {option})" if option else ""
            problems.append(f"{name} hard limit {hard} < {value} a worker sets{hint}")
    return problems


class Output:
    """Where results go, written as each submission is graded (from any grading thread)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.lock = threading.Lock()
        self.failures: list[str] = []
        self.csv = (
            report.CsvLog(plan.csv, [ex.name for ex in plan.selected], plan.resume)
            if plan.csv
            else None
        )
        self.graded = 0
        self.seed: int | None = None  # the run's seed, recorded in results.json

    def done(self, path: str) -> bool:
        """Whether ``--resume`` finds this submission already graded."""
        if not self.plan.resume:
            return False
        name = submission.display_name(path)
        if self.csv is not None:
            return self.csv.done(name)
        try:
            return "tests" in json.loads(Path(self.plan.results).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False

    def write(self, result: report.SubmissionResult, notes: list[str]) -> None:
        """Print the table, append the CSV row, write results.json: each may fail alone."""
        steps = [("print the table", lambda: print("\n" + report.table(result), flush=True))]
        if self.csv is not None:
            steps.append(("append the CSV row", lambda: self.csv.append(result)))
        if self.plan.results:
            steps.append(
                (
                    "write results.json",
                    lambda: report.write_results(self.plan.results, result, notes, seed=self.seed),
                )
            )
        with self.lock:
            self.graded += 1
            for what, step in steps:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001  (costs this output of this submission)
                    self.failures.append(
                        f"could not {what} of {report.escape(result.name)}: "
                        f"{type(exc).__name__}: {report.escape(str(exc))}"
                    )

    def close(self) -> None:
        if self.csv is not None:
            self.csv.close()


def run(args: argparse.Namespace, policy: Policy | None = None) -> int:
    """``bpkit grade``; ``policy`` defaults to full confinement unless --allow-unconfined."""
    try:
        job = plan(args)
    except UsageError as exc:
        return _usage(str(exc))
    policy = policy or Policy()
    if args.allow_unconfined:
        policy = dataclasses.replace(policy, allow_unconfined=True)
    try:
        out = Output(job)
    except (report.OutputError, OSError) as exc:
        return _error(str(exc))
    try:
        with _Stopper() as stopper:
            status = _run_batch(job, args, policy, out, stopper)
    finally:
        out.close()
    for line in out.failures:
        print(f"bpkit grade: error: {line}", file=sys.stderr)
    return status if not out.failures else max(status, EXIT_FAILED)


def _run_batch(job: Plan, args, policy: Policy, out: Output, stopper: _Stopper) -> int:
    """Grade every submission not yet done, in a run folder removed at the end."""
    try:
        root, lock_fd = scratch.make_root()
    except OSError as exc:
        return _error(f"could not make a temporary folder for grading: {exc}")
    try:
        problems = own_limit_problems(job.limits)
        if problems:
            raise GradingError(
                "this grader runs under hard limits lower than its workers need, so none "
                f"could start: {'; '.join(problems)}. This is the grader's environment, not "
                "any submission: raise the hard limit (ulimit -H) or ask for less"
            )
        ctx = make_context(
            root,
            job.limits,
            args.seed,
            job.selected,
            args.edition,
            args.source,
            policy=policy,
            submission_timeout=job.submission_timeout,
            stop=stopper.event,
        )
        notes = ctx.notes()
        out.seed = ctx.seed
        print("\n".join(notes), flush=True)
        todo = [p for p in job.paths if not out.done(p)]
        if len(todo) < len(job.paths):
            print(f"--resume: {len(job.paths) - len(todo)} already graded, skipped", flush=True)
        _grade_all(todo, ctx, out, notes, job.jobs)
    except (GradingError, RuntimeError) as exc:
        if not stopper.signalled:  # else: a worker killed by the signal, not the cause
            return _error(str(exc))
    except Interrupted:
        pass
    finally:
        worker_client.kill_all()
        _remove_quietly(root)
        os.close(lock_fd)
    if stopper.signalled:
        print(
            f"bpkit grade: interrupted: {out.graded} submission(s) graded and written; the "
            "rest were not. Run the same command with --resume to grade only the rest.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_OK


def _grade_all(paths: list[str], ctx: Context, out: Output, notes: list[str], jobs: int) -> None:
    """Grade ``paths`` on ``jobs`` threads, each written out as soon as it is graded."""

    def one(path: str) -> None:
        if ctx.stop.is_set():
            raise Interrupted
        out.write(grade_path(path, ctx), notes)

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        for future in as_completed([pool.submit(one, p) for p in paths]):
            future.result()
    except BaseException:
        # In-flight submissions stop at once (their workers killed) and are not written.
        ctx.stop.set()
        worker_client.kill_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Stopper:
    """SIGINT, SIGTERM and SIGHUP stop the run: no new exercise starts, every worker is killed.

    Finished submissions are already written; the one in flight is dropped (``--resume``
    grades it again). The handlers are put back on exit.
    """

    def __enter__(self) -> _Stopper:
        self.event = threading.Event()
        self.signalled = False
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signalled = True
        self.event.set()
        worker_client.kill_all()

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _error(message: str) -> int:
    print(f"bpkit grade: error: {report.escape(message, keep_newlines=True)}", file=sys.stderr)
    return EXIT_FAILED


def _usage(message: str) -> int:
    print(f"bpkit grade: error: {report.escape(message)}", file=sys.stderr)
    return EXIT_USAGE
