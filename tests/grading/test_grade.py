"""``bpkit grade`` end to end: scores, the table, results.json, CSV, exit status, bad hand-ins."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import grading_fixtures as fx
import pytest

from bpkit.assignments.grading import grade, one_submission, report, scratch, submission
from bpkit.assignments.grading import worker_client as remote
from bpkit.assignments.grading.checks import CHECKS, Check
from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.student import exercises
from bpkit.cli import main

ALL = [ex.name for ex in exercises.EXERCISES]
TARGETS = {t for ex in exercises.EXERCISES for t in ex.targets}
TOTAL = sum(ex.points for ex in exercises.EXERCISES)


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("editions")
    return {"honest": fx.honest_edition(root / "honest"), "stub": fx.stub_edition(root / "stub")}


@pytest.fixture(scope="module")
def honest_run(editions, tmp_path_factory):
    out = tmp_path_factory.mktemp("honest_run")
    proc = fx.run_grade(str(editions["honest"]), "--results", str(out / "results.json"))
    return proc, json.loads((out / "results.json").read_text())


def test_check_points_add_up_to_the_registry():
    for ex in exercises.EXERCISES:
        assert sum(c.points for c in CHECKS[ex.name]) == ex.points, ex.name
        assert {t for c in CHECKS[ex.name] for t in c.targets} <= set(ex.targets), ex.name


def test_an_honest_edition_gets_every_point(honest_run):
    proc, results = honest_run
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == TOTAL
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])
    assert f"{'total':<15}{TOTAL:>7}{TOTAL:>6}" in proc.stdout


def test_results_json_has_gradescope_fields_and_exact_tags(honest_run):
    _, results = honest_run
    fields = {"name", "score", "max_score", "status", "output", "visibility", "tags"}
    assert len(results["tests"]) == sum(len(CHECKS[n]) for n in ALL)
    for test in results["tests"]:
        assert set(test) >= fields
        assert test["tags"] and set(test["tags"]) <= TARGETS, test
    tags = {tuple(t["tags"]) for t in results["tests"]}
    assert ("conv_backward_naive",) in tags and ("TwoLayerNet.loss",) in tags
    assert ("ThreeLayerConvNet.loss",) in tags


def test_the_output_says_how_the_worker_is_confined_and_that_notebooks_do_not_count(honest_run):
    proc, results = honest_run
    for text in (proc.stdout, results["output"]):
        assert "Landlock ABI" in text and "seccomp" in text
        assert "Notebooks are not graded" in text


def test_stubs_score_zero_and_say_not_implemented(editions, tmp_path):
    proc = fx.run_grade(str(editions["stub"]), "--results", str(tmp_path / "r.json"))
    results = json.loads((tmp_path / "r.json").read_text())
    assert proc.returncode == 0
    assert results["score"] == 0
    assert all("NotImplementedError" in t["output"] for t in results["tests"])


@pytest.fixture(scope="module")
def batch(editions, tmp_path_factory):
    """Several broken hand-ins graded in one run with --jobs 2 and --csv."""
    root = tmp_path_factory.mktemp("batch")
    honest = editions["honest"]
    subs = {}
    subs["missing"] = fx.copy_submission(honest, root / "missing")
    (subs["missing"] / "bpkit/optim.py").unlink()
    subs["syntax"] = fx.copy_submission(honest, root / "syntax")
    fx.append(subs["syntax"] / "bpkit/optim.py", "def broken(:\n    pass")
    subs["renamed"] = fx.copy_submission(honest, root / "renamed")
    # Nothing else imports this function, so only its own exercise may suffer.
    layers = subs["renamed"] / "bpkit/layers.py"
    fx.edit(layers, "def max_pool_backward_naive(", "def max_pool_backward_v2(")
    subs["zipped"] = root / "zipped.zip"
    with zipfile.ZipFile(subs["zipped"], "w") as zf:
        for rel in fx.MODULES:  # nested one folder down, as when zipping the edition itself
            zf.write(honest / rel, f"my-edition/{rel}")
    subs["flat"] = root / "flat"  # Gradescope flattens uploaded files
    subs["flat"].mkdir()
    for rel in fx.MODULES:
        (subs["flat"] / Path(rel).name).write_bytes((honest / rel).read_bytes())
    subs["bad_zip"] = root / "bad_zip.zip"
    subs["bad_zip"].write_bytes(b"PK\x03\x04 this is not really a zip")
    csv_path = root / "grades.csv"
    args = [str(p) for p in subs.values()] + ["--jobs", "2", "--csv", str(csv_path)]
    proc = fx.run_grade(*args)
    return proc, fx.read_csv(csv_path)


def test_batch_completes_with_exit_status_zero_and_one_row_each(batch):
    proc, rows = batch
    assert proc.returncode == 0, proc.stderr
    assert set(rows) == {"missing", "syntax", "renamed", "zipped.zip", "flat", "bad_zip.zip"}
    assert all(set(row) == {"total", "max", *ALL} for row in rows.values())


OPTIM = [ex.name for ex in exercises.EXERCISES if ex.module == "bpkit.optim"]


@pytest.mark.parametrize(
    ("name", "lost", "words"),
    [
        ("missing", OPTIM, "bpkit/optim.py is not in the submission"),
        ("syntax", OPTIM, "SyntaxError"),
        ("renamed", ["max_pool"], "has no max_pool_backward_naive (deleted or renamed?)"),
        ("bad_zip.zip", ALL, "could not be read as a zip file"),
    ],
)
def test_a_broken_module_costs_only_its_exercises(batch, name, lost, words):
    proc, rows = batch
    for ex in exercises.EXERCISES:
        if ex.name in lost:
            assert rows[name][ex.name] < ex.points, (name, ex.name)
        else:
            assert rows[name][ex.name] == ex.points, (name, ex.name)
    assert words in proc.stdout


def test_the_forward_still_scores_when_the_backward_is_renamed(batch):
    _, rows = batch
    forward_only = [c for c in CHECKS["max_pool"] if c.targets == ("max_pool_forward_naive",)]
    assert forward_only
    assert rows["renamed"]["max_pool"] == sum(c.points for c in forward_only)


@pytest.mark.parametrize("name", ["zipped.zip", "flat"])
def test_zips_and_flattened_uploads_are_found(batch, name):
    _, rows = batch
    assert rows[name]["total"] == TOTAL


def test_symbolic_links_in_a_submission_are_refused(tmp_path):
    sub = tmp_path / "sub"
    (sub / "bpkit").mkdir(parents=True)
    os.symlink(fx.REPO / "bpkit/layers.py", sub / "bpkit/layers.py")
    os.symlink(fx.REPO / "bpkit", tmp_path / "linked_pkg")
    loaded = submission.load(sub)
    assert "bpkit/layers.py" not in loaded.files
    assert "symbolic link" in loaded.problems["bpkit/layers.py"]
    via_dir = tmp_path / "via_dir"
    via_dir.mkdir()
    os.symlink(fx.REPO / "bpkit", via_dir / "bpkit")
    assert submission.load(via_dir).files == {}


def test_oversized_zip_members_are_refused(tmp_path):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bpkit/layers.py", b"#" * (submission.MAX_BYTES + 10))
    loaded = submission.load(path)
    assert "larger than" in loaded.problems["bpkit/layers.py"]


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["no/such/folder"], 2, "no such folder"),
        (["{honest}", "{honest}", "--results", "{tmp}/r.json"], 2, "--results takes one"),
        (["{honest}", "--exercises", "backprop"], 2, "unknown exercise"),
        (["{honest}", "--edition", "{repo}"], 1, "holds solution regions"),
    ],
)
def test_exit_status_is_nonzero_only_when_grading_cannot_run(
    editions, tmp_path, args, status, words
):
    fill = {"honest": str(editions["honest"]), "tmp": str(tmp_path), "repo": str(fx.REPO)}
    proc = fx.run_grade(*(a.format(**fill) for a in args))
    assert proc.returncode == status
    assert words in proc.stderr


def test_a_fifo_in_place_of_a_module_is_refused_without_blocking(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    os.mkfifo(sub / "layers.py")  # flattened upload: bpkit/layers.py arrives as layers.py
    loaded = {}
    reader = threading.Thread(target=lambda: loaded.update(sub=submission.load(sub)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading the submission blocked on a FIFO"
    assert "not a regular file" in loaded["sub"].problems["bpkit/layers.py"]


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "\\t=1"),  # the tab is escaped, which leaves no formula either
    ],
)
def test_csv_cells_from_submission_names_are_never_formulas(tmp_path, name, cell):
    check = CHECKS["sgd"][0]
    result = report.SubmissionResult(name, [report.CheckResult(check, 4.0)])
    report.write_csv(tmp_path / "grades.csv", [result])
    with open(tmp_path / "grades.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][0] == cell
    assert rows[1][1:4] == ["4", "4", "4"]


def test_the_disk_watch_skips_entries_that_vanish_mid_walk(tmp_path, monkeypatch):
    (tmp_path / "gone" / "deeper").mkdir(parents=True)
    (tmp_path / "gone.txt").write_text("x")

    class Racing:
        """Lists a folder, then lets the submission delete what was listed (a race)."""

        def __init__(self, path):
            with os.scandir(path) as it:
                self.entries = list(it)
            shutil.rmtree(tmp_path / "gone", ignore_errors=True)
            (tmp_path / "gone.txt").unlink(missing_ok=True)

        def __enter__(self):
            return iter(self.entries)

        def __exit__(self, *exc):
            return False

    class RacingOs:
        """The os module as remote sees it, with the racing scandir."""

        scandir = Racing

        def __getattr__(self, name):
            return getattr(os, name)

    worker = remote.Worker.__new__(remote.Worker)  # only what _check_disk reads
    worker.run_dir, worker.limits = tmp_path, Limits()
    worker.proc = type("Proc", (), {"pid": os.getpid(), "ended": lambda self, timeout=0: False})()
    monkeypatch.setattr(remote, "os", RacingOs())
    worker._check_disk("a test")  # must neither raise nor stop anything


def _broken_reference(worker, rng):
    raise ZeroDivisionError("the reference divided by zero")


def test_a_fault_in_a_hidden_check_stops_grading_and_names_the_check(editions, monkeypatch, capsys):
    broken = Check("sgd", "broken", "a check with a bug", 5, ("sgd",), _broken_reference)
    monkeypatch.setitem(CHECKS, "sgd", [broken])
    status = main(["grade", str(editions["honest"]), "--exercises", "sgd"])
    err = capsys.readouterr().err
    assert status == 1
    assert "the hidden check sgd/broken itself failed (ZeroDivisionError" in err
    assert "no submission is to blame" in err


def test_a_value_that_trips_a_check_fails_the_check_not_the_run(editions, tmp_path):
    sub = fx.copy_submission(editions["honest"], tmp_path / "mixed_keys")
    fx.append(
        sub / "bpkit/models.py",
        "_reference_loss = TwoLayerNet.loss\n\n\n"
        "def _loss(self, X, y=None):\n"
        "    out = _reference_loss(self, X, y)\n"
        "    if y is None:\n"
        "        return out\n"
        "    out[1][1] = 0.0  # an int key next to the str ones\n"
        "    return out\n\n\n"
        "TwoLayerNet.loss = _loss\n",
    )
    ctx = one_submission.make_context(
        tmp_path / "run",
        Limits(),
        1,
        [exercises.get("two_layer_net")],
        edition=str(editions["stub"]),
    )
    results = one_submission.grade_submission(submission.load(sub), ctx).checks
    failed = {r.check.name: r.message for r in results if not r.passed}
    assert set(failed) == {"loss", "reg", "unchanged"}  # "unchanged" checks the values too
    assert all("expected keys ['W1', 'b1', 'W2', 'b2'], got [" in m for m in failed.values())


def test_whatever_the_import_raises_costs_only_that_exercise(editions, tmp_path, monkeypatch):
    def broken_import(worker, module):
        raise OSError("the reply pipe broke")

    ctx = one_submission.make_context(
        tmp_path / "run", Limits(), 1, [exercises.get("sgd")], edition=str(editions["stub"])
    )
    monkeypatch.setattr(remote.Worker, "import_module", broken_import)
    results = one_submission.grade_submission(submission.load(editions["honest"]), ctx).checks
    assert [r.score for r in results] == [0.0] * len(CHECKS["sgd"])
    assert all("OSError: the reply pipe broke" in r.message for r in results)


# ---------------------------------------------------------------- a batch that loses nothing
FAST = ["--exercises", "sgd", "adam", "--timeout", "10"]
SGD, ADAM = exercises.get("sgd").points, exercises.get("adam").points


def _orphans(tmp: Path) -> list[str]:
    """Live processes whose working directory is under ``tmp`` (the workers of a run there)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd.startswith(str(tmp)) and state != "Z":
            found.append(f"{pid} in {cwd}")
    return found


def _wait_for(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _grader(args: list[str], tmp: Path, log: Path) -> subprocess.Popen:
    """``bpkit grade`` with its temporary folders under ``tmp``, output to ``log``."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "bpkit", "grade", *args]
    with open(log, "w") as fh:
        return subprocess.Popen(cmd, cwd=fx.REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _valid_rows(path: Path, columns: list[str]) -> dict[str, list[str]]:
    """The rows of a grades CSV, checked whole: header, one complete row per name."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["submission", "total", "max", *columns]
    names = [row[0] for row in rows[1:]]
    assert len(names) == len(set(names)), f"a submission written twice: {names}"
    for row in rows[1:]:
        assert len(row) == len(rows[0]) and all(cell != "" for cell in row), row
    return {row[0]: row for row in rows[1:]}


def test_killing_the_grader_anywhere_leaves_nothing_behind_and_resume_finishes(editions, tmp_path):
    """SIGKILL and SIGINT at seeded random points of a batch, ten times, then --resume.

    Every run continues the same CSV with --resume; one that got to finish the batch
    before its signal starts the next over, so that each kill lands in a batch.
    """
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    subs = [fx.copy_submission(editions["honest"], tmp_path / f"s{i}") for i in range(6)]
    grades = tmp_path / "grades.csv"
    args = [*map(str, subs), "--edition", str(editions["stub"]), *FAST]
    args += ["--jobs", "2", "--csv", str(grades), "--resume"]
    rng = random.Random(20261130)
    kills = [signal.SIGKILL, signal.SIGINT] * 5
    rng.shuffle(kills)
    statuses = []
    for i, sig in enumerate(kills):
        log = tmp_path / f"run{i}.log"
        proc = _grader(args, tmp, log)
        # Once the grader has printed its notes it is grading: kill it within a batch's time.
        assert _wait_for(lambda p=proc, f=log: f.stat().st_size > 0 or p.poll() is not None, 60)
        time.sleep(rng.uniform(0.0, 1.0))
        proc.send_signal(sig)
        status = proc.wait(timeout=60)
        statuses.append(status)
        assert _wait_for(lambda: not _orphans(tmp)), f"workers outlived the grader: {_orphans(tmp)}"
        rows = _valid_rows(grades, ["sgd", "adam"]) if grades.stat().st_size else {}
        finished = status == 0 or (status == -signal.SIGINT and len(rows) == len(subs))
        if finished:  # it had finished before the signal, or was exiting when it came
            assert len(rows) == len(subs), log.read_text()[-2000:]
            assert os.listdir(tmp) == [], "a finished run left a temporary folder"
            grades.unlink()
        elif sig == signal.SIGINT:
            assert status == grade.EXIT_INTERRUPTED, log.read_text()[-2000:]
            assert "--resume to grade only the rest" in log.read_text()
            assert os.listdir(tmp) == [], "SIGINT left a temporary folder"
        else:
            assert status == -signal.SIGKILL
    assert -signal.SIGKILL in statuses and grade.EXIT_INTERRUPTED in statuses, statuses
    final = _grader(args, tmp, tmp_path / "final.log")
    assert final.wait(timeout=300) == 0, (tmp_path / "final.log").read_text()[-2000:]
    rows = _valid_rows(grades, ["sgd", "adam"])
    assert sorted(rows) == sorted(s.name for s in subs)
    assert all(row[1] == row[2] == str(SGD + ADAM) for row in rows.values()), rows
    assert os.listdir(tmp) == [], "a killed run's temporary folder was not removed"
    assert _orphans(tmp) == []


def test_resume_keeps_the_rows_there_and_grades_only_the_rest(editions, tmp_path):
    subs = [fx.copy_submission(editions["honest"], tmp_path / n) for n in ("kept", "todo")]
    grades = tmp_path / "grades.csv"
    # A row already there (its numbers deliberately not what grading gives), and half of
    # another, as a grader killed while writing it leaves.
    grades.write_text(f"submission,total,max,sgd,adam\nkept,3,{SGD + ADAM},3,0\ntodo,2")
    args = [*map(str, subs), "--edition", str(editions["stub"]), *FAST, "--csv", str(grades)]
    proc = fx.run_grade(*args, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "1 already graded, skipped" in proc.stdout
    assert "submission: kept" not in proc.stdout
    rows = _valid_rows(grades, ["sgd", "adam"])
    assert rows["kept"] == ["kept", "3", str(SGD + ADAM), "3", "0"]
    assert rows["todo"] == ["todo", *map(str, [SGD + ADAM, SGD + ADAM, SGD, ADAM])]
    proc = fx.run_grade(*args, "--resume", "--exercises", "sgd")
    assert proc.returncode == 1 and "--resume: " in proc.stderr  # not the same columns
    assert _valid_rows(grades, ["sgd", "adam"]) == rows


def test_a_second_grader_on_the_same_csv_stops_without_touching_it(editions, tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text("submission,total,max,sgd,adam\nsomeone,20,20,10,10\n")
    before = grades.read_bytes()
    with open(grades, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as the first grader holds it while it runs
        proc = fx.run_grade(str(editions["honest"]), *FAST, "--csv", str(grades))
    assert proc.returncode == 1
    assert "being written by another bpkit grade" in proc.stderr
    assert grades.read_bytes() == before


def test_a_row_is_appended_and_flushed_as_each_submission_is_graded(tmp_path):
    log = report.CsvLog(tmp_path / "g.csv", ["sgd"])
    try:
        log.append(report.SubmissionResult("a", [report.CheckResult(CHECKS["sgd"][0], 4.0)]))
        # Read by another opener while the log is still open: already on disk.
        assert (tmp_path / "g.csv").read_text() == "submission,total,max,sgd\na,4,4,4\n"
        assert log.done("a") and not log.done("b")
    finally:
        log.close()


def test_a_tree_deeper_than_recursion_and_path_max_is_removed(tmp_path):
    # The hostile suite leaves a 5000-deep chain in a worker's copy; this one is smaller but
    # still deeper than the recursion limit and than PATH_MAX can name (1200 * 9 bytes).
    depth = sys.getrecursionlimit() + 200
    top = tmp_path / "copy"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for i in range(depth):
        os.mkdir("dddddddd", dir_fd=fd)
        if i % 300 == 0:
            os.close(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
            os.symlink(fx.REPO, "link", dir_fd=fd)
            os.mkdir("shut", 0, dir_fd=fd)
        child = os.open("dddddddd", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    assert depth * 9 > os.pathconf(tmp_path, "PC_PATH_MAX")
    scratch.remove_tree(top)
    assert not top.exists()
    assert (fx.REPO / "bpkit").is_dir()  # the link was removed, not followed


def test_a_dead_graders_folder_is_removed_and_a_live_ones_kept(tmp_path):
    dead = tmp_path / (scratch.PREFIX + "dead")
    live = tmp_path / (scratch.PREFIX + "live")
    for folder in (dead, live):
        (folder / "sub" / "deep").mkdir(parents=True)
        (folder / scratch.LOCK_NAME).touch()
    held = os.open(live / scratch.LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert scratch.remove_orphans(tmp_path) == [dead]
    finally:
        os.close(held)
    assert not dead.exists() and live.is_dir()


# ---------------------------------------------------------------- one layout rule
def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _hand_in(path: Path, files: dict[str, bytes], form: str) -> Path:
    """``files`` handed in as ``path``.zip or as the folder ``path``."""
    if form == "zip":
        return _zip(path.with_suffix(".zip"), files)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


@pytest.mark.parametrize(
    "prefix", ["", "bpkit/", "edition/bpkit/", "upload/edition/bpkit/"], ids=repr
)
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_one_layout_rule_for_folders_and_zips(editions, tmp_path, prefix, form):
    files = {prefix + Path(rel).name: (editions["honest"] / rel).read_bytes() for rel in fx.MODULES}
    files["notebooks/README.md"] = b"not a module"
    loaded = submission.load(_hand_in(tmp_path / "sub", files, form))
    assert loaded.problems == {}
    assert set(loaded.files) == set(fx.MODULES)
    assert loaded.files["bpkit/optim.py"] == (editions["honest"] / "bpkit/optim.py").read_bytes()


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_two_copies_are_an_error_that_says_where(tmp_path, form):
    files = {"a/bpkit/layers.py": b"x = 1\n", "b/bpkit/optim.py": b"y = 2\n"}
    loaded = submission.load(_hand_in(tmp_path / "two", files, form))
    assert loaded.files == {}
    assert all("two copies found at a/bpkit/, b/bpkit/" in p for p in loaded.problems.values())


# ---------------------------------------------------------------- failures cost one submission
def test_a_full_disk_while_copying_costs_only_that_submission(editions, tmp_path):
    big = fx.copy_submission(editions["honest"], tmp_path / "big")
    fx.append(big / "bpkit/optim.py", "#" * (3 * 2**19))  # 1.5 MiB: under the size cap
    honest = fx.copy_submission(editions["honest"], tmp_path / "fine")
    grades = tmp_path / "grades.csv"

    def small_files():  # the grader may write no file over 1 MiB: its copy of "big" fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, resource.RLIM_INFINITY))

    cmd = [sys.executable, "-m", "bpkit", "grade", str(big), str(honest), *FAST]
    cmd += ["--edition", str(editions["stub"]), "--csv", str(grades)]
    proc = subprocess.run(
        cmd, cwd=fx.REPO, capture_output=True, text=True, timeout=300, preexec_fn=small_files
    )
    assert proc.returncode == 0, proc.stderr
    rows = fx.read_csv(grades)
    assert rows["big"]["total"] == 0 and rows["fine"]["total"] == SGD + ADAM
    assert "could not copy the submission ([Errno 27] File too large" in proc.stdout


def test_a_lower_hard_limit_of_the_grader_is_reported_as_the_graders_problem(editions, tmp_path):
    def low_hard_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 2**20, 32 * 2**20))

    cmd = [sys.executable, "-m", "bpkit", "grade", str(editions["honest"]), *FAST]
    cmd += ["--edition", str(editions["stub"])]
    proc = subprocess.run(
        cmd, cwd=fx.REPO, capture_output=True, text=True, timeout=300, preexec_fn=low_hard_limit
    )
    assert proc.returncode == 1
    assert "RLIMIT_FSIZE hard limit 33554432 < 67108864" in proc.stderr
    assert "not any submission" in proc.stderr and "the submission" not in proc.stderr


def test_a_submission_that_cannot_even_be_listed_costs_only_itself(editions, tmp_path, monkeypatch):
    ctx = one_submission.make_context(
        tmp_path / "run", Limits(), 1, [exercises.get("sgd")], edition=str(editions["stub"])
    )

    def broken_load(path):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(submission, "load", broken_load)
    result = one_submission.grade_path(str(editions["honest"]), ctx)
    assert result.total == 0 and len(result.checks) == len(CHECKS["sgd"])
    assert result.notes == ["could not be read: RecursionError: maximum recursion depth exceeded"]


def test_the_submission_budget_stops_a_slow_submission(editions, tmp_path):
    slow = fx.copy_submission(editions["honest"], tmp_path / "slow")
    for name in ("sgd", "adam"):
        fx.wrap(slow / "bpkit/optim.py", name, "import time\ntime.sleep(1.5)")
    results = tmp_path / "r.json"
    proc = fx.run_grade(
        str(slow), "--edition", str(editions["stub"]), "--exercises", "sgd", "adam",
        "--submission-timeout", "2", "--results", str(results),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tests = json.loads(results.read_text())["tests"]
    adam = [t for t in tests if t["name"].startswith("adam:")]
    # Four calls of at least 1.5 s each cannot fit in 2 s: adam is never reached.
    assert adam and all(t["score"] == 0 for t in adam)
    assert all("used up its 2 s budget" in t["output"] for t in adam)
    assert "the remaining exercises score 0" in proc.stdout


def test_the_budget_ends_the_call_running_when_it_runs_out(editions, tmp_path):
    # Each sgd check calls sgd at least once: two calls of 1.5 s cannot both end within
    # the 2 s budget, although each is well within the 10 s per-call timeout.
    slow = fx.copy_submission(editions["honest"], tmp_path / "slow")
    fx.wrap(slow / "bpkit/optim.py", "sgd", "import time\ntime.sleep(1.5)")
    results = tmp_path / "r.json"
    proc = fx.run_grade(
        str(slow), "--edition", str(editions["stub"]), "--exercises", "sgd",
        "--timeout", "10", "--submission-timeout", "2", "--results", str(results),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tests = json.loads(results.read_text())["tests"]
    assert sum(t["score"] for t in tests) < SGD
    cut = [t for t in tests if "did not finish before the submission's time budget" in t["output"]]
    assert cut and all("used up its 2 s budget" in t["output"] for t in cut), tests


# ---------------------------------------------------------------- safe output
def test_control_characters_are_escaped_and_a_newline_never_breaks_a_row(tmp_path):
    check = CHECKS["sgd"][0]
    nasty = "evil\x1b[2J\x1b[H\nTOTAL 110 110\x07\u202e\udcff"
    result = report.SubmissionResult(nasty, [report.CheckResult(check, 0.0, nasty + "\nwhere")])
    text = report.table(result)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "evil\\x1b[2J\\x1b[H\\nTOTAL 110 110\\x07\\u202e\\xff" in text.splitlines()[0]
    data = json.dumps(report.results_json(result, []))
    assert "\\u001b" not in data and "\\u0007" not in data  # JSON escapes of the raw bytes
    report.write_csv(tmp_path / "g.csv", [result])
    lines = (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and lines[1].startswith("evil\\x1b[2J")


def test_long_reasons_wrap_and_an_unfinished_exercise_takes_one_line():
    long_why = "expected shape (3, 4), got (4, 3); " * 8
    checks = [
        report.CheckResult(c, 0.0, "sgd() raised NotImplementedError: x") for c in CHECKS["sgd"]
    ]
    checks += [report.CheckResult(CHECKS["adam"][0], 0.0, long_why)]
    checks += [report.CheckResult(c, c.points) for c in CHECKS["adam"][1:]]
    lines = report.table(report.SubmissionResult("s", checks), width=80).splitlines()
    sgd = [line for line in lines if line.startswith("sgd ")]
    assert len(sgd) == 1 and sgd[0].endswith("not implemented yet")
    adam = lines.index(next(line for line in lines if line.startswith("adam ")))
    wrapped = lines[adam : lines.index(lines[-1])]  # up to the total
    assert len(wrapped) > 3 and all(len(line) <= 80 for line in lines)
    assert all(line.startswith(" " * 30) for line in wrapped[1:])  # under the column
    assert " ".join(" ".join(line[30:].split()) for line in wrapped).count("got (4, 3)") == 8


def test_an_output_that_cannot_be_written_costs_only_that_output(editions, tmp_path):
    results = tmp_path / "results.json"
    results.mkdir()  # a folder in the way: results.json cannot be renamed into place
    proc = fx.run_grade(str(editions["honest"]), *FAST, "--results", str(results))
    assert proc.returncode == 1
    assert "could not write results.json of honest: IsADirectoryError" in proc.stderr
    assert f"{'total':<15}{SGD + ADAM:>7}{SGD + ADAM:>6}" in proc.stdout  # the table still is
    assert os.listdir(results) == [] and os.listdir(tmp_path) == ["results.json"]


def test_graders_writing_the_same_results_json_never_leave_it_broken(tmp_path):
    path = tmp_path / "results.json"
    results = [
        report.SubmissionResult(f"s{i}", [report.CheckResult(CHECKS["sgd"][0], float(i))])
        for i in range(4)
    ]
    seen, stop = [], threading.Event()

    def read_while_written():
        while not stop.is_set():
            if path.exists():
                seen.append(json.loads(path.read_text())["score"])  # never half a file

    def write(result):
        for _ in range(50):
            report.write_results(path, result, ["note"])

    reader = threading.Thread(target=read_while_written)
    writers = [threading.Thread(target=write, args=(r,)) for r in results]
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert json.loads(path.read_text())["score"] in {0, 1, 2, 3}
    assert set(seen) <= {0, 1, 2, 3} and seen
    assert os.listdir(tmp_path) == ["results.json"]  # no temporary file left


def test_checks_failing_for_one_reason_share_one_line():
    why = "bpkit/layers.py has no max_pool_backward_naive (deleted or renamed?)"
    checks = [report.CheckResult(CHECKS["max_pool"][0], CHECKS["max_pool"][0].points)]
    checks += [report.CheckResult(c, 0.0, why + "\nwhere") for c in CHECKS["max_pool"][1:]]
    lines = report.table(report.SubmissionResult("s", checks)).splitlines()
    names = ", ".join(c.name for c in CHECKS["max_pool"][1:])
    assert [line for line in lines if why in line] == [
        f"{'max_pool':<15}{CHECKS['max_pool'][0].points:>7}{exercises.get('max_pool').points:>6}"
        f"  {names}: {why}"
    ]
