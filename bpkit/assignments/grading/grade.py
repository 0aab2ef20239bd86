"""``bpkit grade``: run the hidden checks on submissions, in confined worker processes.

This module is the command: its options, the batch, the outputs and the signals. Grading
one submission is :mod:`bpkit.assignments.grading.one_submission`.

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
import os
import resource
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from bpkit.assignments.grading import report, scratch, submission, worker_client
from bpkit.assignments.grading.one_submission import (
    SUBMISSION_TIMEOUT,
    Context,
    GradingError,
    Interrupted,
    grade_path,
    make_context,
    remove_quietly,
)
from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.grading.worker_client import Policy
from bpkit.assignments.student import exercises

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3


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
        help="wall-clock seconds for all of one submission; the call running then is "
        f"stopped and exercises not reached score 0 (default {SUBMISSION_TIMEOUT:g})",
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
    ctx = None
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
        if ctx is not None:
            ctx.close()
        remove_quietly(root)
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
