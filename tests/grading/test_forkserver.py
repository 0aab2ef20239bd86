"""The fork server: workers forked from it start apart, and its failure is never a student's."""

from __future__ import annotations

import os
import signal
import threading
import time

import grading_fixtures as fx
import pytest

from bpkit.assignments.grading import forkserver_client, one_submission, submission
from bpkit.assignments.grading.forkserver_client import ForkServerFailed
from bpkit.assignments.grading.one_submission import GradingError
from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.student import exercises

SGD = exercises.get("sgd")


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    return fx.stub_edition(tmp_path_factory.mktemp("stub") / "edition")


@pytest.fixture
def ctx(stub, tmp_path):
    ctx = one_submission.make_context(tmp_path / "run", Limits(), 1, [SGD], edition=str(stub))
    yield ctx
    ctx.close()


def _sleeper(stub, tmp_path):
    """A submission whose optim module, at import, says so in a file, then sleeps 30 s."""
    sub = fx.copy_submission(stub, tmp_path / "sleeper")
    fx.append(sub / SGD.path, "import time as _time\nopen('asleep', 'w').close()\n_time.sleep(30)")
    return submission.load(sub)


def _kill_when(path, pid):
    """Kill ``pid`` as soon as ``path`` exists (within 60 s)."""
    end = time.monotonic() + 60
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


def test_a_server_killed_mid_run_stops_the_run_and_costs_no_student(ctx, stub, tmp_path):
    sub = _sleeper(stub, tmp_path)
    work = tmp_path / "work"
    base = submission.lay_over(sub, ctx.pristine, work / "base")
    # Killed once the worker is inside the submission's code.
    asleep = work / f"run-{SGD.name}" / "asleep"
    killer = threading.Thread(target=_kill_when, args=(asleep, ctx.server.proc.pid))
    killer.start()
    start = time.monotonic()
    with pytest.raises(GradingError, match="not of the submission"):
        one_submission.grade_exercise(SGD, sub, ctx, base, work)
    killer.join()
    # The worker died with the server: the run stopped then, not at the 20 s deadline.
    assert time.monotonic() - start < 15
    assert not ctx.server.usable()
    with pytest.raises(GradingError, match="fork server"):
        one_submission.start_worker(ctx, tmp_path)


def test_a_late_reply_never_answers_a_later_request(ctx, monkeypatch):
    os.kill(ctx.server.proc.pid, signal.SIGSTOP)
    try:
        monkeypatch.setattr(forkserver_client, "REPLY_SECONDS", 0.5)
        with pytest.raises(ForkServerFailed, match="timed out"):
            ctx.server.status(1)
    finally:
        os.kill(ctx.server.proc.pid, signal.SIGCONT)
    # Its reply may now arrive; nothing reads it, and every request after fails.
    with pytest.raises(ForkServerFailed, match="had already failed"):
        ctx.server.status(1)
    assert ctx.server.proc.wait(timeout=10) == 0  # it read the closed socket and ended
    assert not ctx.server.usable()


def test_workers_of_one_run_draw_different_legacy_random_numbers(ctx, stub, tmp_path):
    draws = []
    for name in ("a", "b", "c"):
        run_dir = fx.copy_submission(stub, tmp_path / name)
        with one_submission.start_worker(ctx, run_dir) as worker:
            draws.append(tuple(worker.function("numpy.random.random")(3).get()))
    assert len(set(draws)) == 3
