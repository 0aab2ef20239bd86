"""What a worker may read and signal; the grader fails closed when confinement is missing."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import grading_fixtures as fx
import pytest

import bpkit
from bpkit.assignments.grading import grade
from bpkit.assignments.grading.runtime import sandbox, seccomp_filter
from bpkit.assignments.grading.runtime.sandbox import Limits

STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
X86_64 = platform.machine() == "x86_64"


def test_workers_may_read_numpy_and_the_standard_library_but_not_bpkit():
    paths = sandbox.sandbox_paths([Path(bpkit.__file__).parent])
    read = [Path(p) for p in paths["read"]]
    package = Path(bpkit.__file__).resolve().parent
    assert not any(package.is_relative_to(p) for p in read)
    assert any(p.name == "numpy" for p in read)
    assert (STDLIB / "json") in read
    assert not any(p.name in ("site-packages", "dist-packages") for p in read)
    # Only the library folders themselves are listable: the stdlib, and in a virtual
    # environment also the environment's own lib folder (whose site-packages stays shut).
    libs = []
    for name in ("stdlib", "platstdlib"):
        lib = Path(sysconfig.get_paths()[name]).resolve()
        if lib.is_dir() and str(lib) not in libs:
            libs.append(str(lib))
    assert paths["list_only"] == libs


def test_a_secret_inside_a_readable_folder_stops_grading():
    with pytest.raises(RuntimeError, match="would be allowed to read"):
        sandbox.sandbox_paths([STDLIB / "json"])


def test_without_landlock_the_layer_is_reported_unavailable(monkeypatch):
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    # With no Landlock the call raises before restricting anything, so it is safe here.
    with pytest.raises(sandbox.Unavailable, match="NOT confined"):
        sandbox.landlock([], [], [])


def test_on_another_cpu_seccomp_is_reported_unavailable(monkeypatch):
    monkeypatch.setattr(sandbox.platform, "machine", lambda: "aarch64")
    # It raises before installing anything, so it is safe in the test process.
    with pytest.raises(sandbox.Unavailable, match="not available on aarch64"):
        sandbox.seccomp()


def test_the_seccomp_filter_jumps_stay_inside_the_program():
    prog = seccomp_filter.program(4242)
    assert len(prog) < 256
    for i, (code, jt, jf, _) in enumerate(prog):
        if code & 0x07 == 0x05:  # BPF_JMP
            assert 0 <= jt < 256 and 0 <= jf < 256
            assert i + 1 + max(jt, jf) < len(prog)
    assert prog[-1][0] == 0x06  # ends with a return
    assert any(code == 0x15 and k == 4242 for code, _, _, k in prog)  # the pid is compared


# Run in a fresh interpreter: the filter cannot be taken off the process that installs it.
# Each line prints "<name> ok" or "<name> <errno name>".
SIGNAL_PROBE = """
import ctypes, errno, os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
from bpkit.assignments.grading.runtime import sandbox
parent = os.getppid()
print(sandbox.seccomp(), flush=True)
libc = ctypes.CDLL(None, use_errno=True)
siginfo = ctypes.create_string_buffer(128)

def attempt(name, call):
    try:
        result = call()
        if isinstance(result, int) and result < 0:
            raise OSError(ctypes.get_errno(), name)
        print(name, "ok")
    except OSError as exc:
        print(name, errno.errorcode.get(exc.errno, exc.errno))

me = os.getpid()
attempt("kill-self", lambda: os.kill(me, 0))
attempt("pthread_kill-self", lambda: signal.pthread_kill(threading.get_ident(), 0))
attempt("kill-parent", lambda: os.kill(parent, 0))
attempt("kill-group-0", lambda: os.kill(0, 0))
attempt("kill-minus-1", lambda: os.kill(-1, 0))
attempt("killpg-own", lambda: os.killpg(os.getpgid(0), 0))
attempt("tkill-parent", lambda: libc.syscall(200, parent, 0))
attempt("tgkill-parent", lambda: libc.syscall(234, parent, parent, 0))
attempt("rt_sigqueueinfo-parent", lambda: libc.syscall(129, parent, 0, siginfo))
attempt("rt_tgsigqueueinfo-parent", lambda: libc.syscall(297, parent, parent, 0, siginfo))
attempt("pidfd_open-parent", lambda: os.pidfd_open(parent))
attempt("pidfd_open-self", lambda: os.pidfd_open(me))
attempt("pidfd_send_signal", lambda: libc.syscall(424, 0, 0, None, 0))
attempt("pidfd_getfd", lambda: libc.syscall(438, 0, 0, 0))
attempt("fork", os.fork)
"""


@pytest.mark.skipif(not X86_64, reason="the seccomp filter exists for x86-64 only")
def test_seccomp_lets_a_worker_signal_only_itself():
    proc = subprocess.run(
        [sys.executable, "-c", SIGNAL_PROBE, str(fx.REPO)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "signals only to itself" in lines[0]
    got = dict(line.split(" ", 1) for line in lines[1:])
    assert got.pop("kill-self") == got.pop("pthread_kill-self") == "ok"
    assert got == {name: "EPERM" for name in got} and len(got) == 13, got


# As root RLIMIT_NPROC does not bind, so the probe first becomes an ordinary user.
NPROC_PROBE = """
import os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from bpkit.assignments.grading.runtime import sandbox
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
print(sandbox.limit_processes(sandbox._tasks_of_user(os.getuid())), flush=True)
started, stop = 0, threading.Event()
try:
    for _ in range(4 * sandbox.NPROC_MARGIN):
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
except RuntimeError:
    pass
stop.set()
print(started)
"""


def test_rlimit_nproc_caps_the_processes_a_worker_without_seccomp_can_add():
    proc = subprocess.run(
        [sys.executable, "-c", NPROC_PROBE, str(fx.REPO)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    line, started = proc.stdout.splitlines()
    assert line.startswith("RLIMIT_NPROC")
    # Other processes of the same user may come and go meanwhile: allow a little slack.
    assert 8 <= int(started) <= sandbox.NPROC_MARGIN + 8


@pytest.fixture(scope="module")
def stub(tmp_path_factory) -> Path:
    return fx.stub_edition(tmp_path_factory.mktemp("sandbox") / "stub")


@pytest.mark.parametrize("layer", sandbox.LAYERS)
def test_a_missing_layer_stops_grading_before_any_submission(stub, tmp_path, layer):
    with pytest.raises(grade.GradingError, match=f"refusing to grade: {layer}"):
        grade.make_context(tmp_path, Limits(), edition=str(stub), simulate_missing=(layer,))


@pytest.mark.parametrize("layer", sandbox.LAYERS)
def test_allow_unconfined_grades_and_says_so_loudly(stub, tmp_path, layer):
    ctx = grade.make_context(
        tmp_path, Limits(), edition=str(stub), allow_unconfined=True, simulate_missing=(layer,)
    )
    assert ctx.missing == [layer]
    assert ctx.notes()[0].startswith(f"WARNING: UNCONFINED GRADING: {layer} NOT in force")
    if layer == "seccomp":  # without seccomp, RLIMIT_NPROC stands in against fork bombs
        assert any("RLIMIT_NPROC" in line for line in ctx.confinement)


def _grade_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_fails_closed_unless_allow_unconfined(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grade, "SIMULATE_MISSING", ("landlock", "seccomp"))
    results = tmp_path / "results.json"
    common = [str(stub), "--edition", str(stub), "--exercises", "sgd", "--results", str(results)]
    assert grade.run(_grade_args(*common)) == 1
    assert "refusing to grade: landlock and seccomp" in capsys.readouterr().err
    assert not results.exists()

    assert grade.run(_grade_args(*common, "--allow-unconfined")) == 0
    out = capsys.readouterr().out
    written = json.loads(results.read_text())
    for text in (out, written["output"]):
        assert text.startswith("WARNING: UNCONFINED GRADING: landlock and seccomp NOT in force")
    assert [t["score"] for t in written["tests"]] == [0, 0]


def test_a_fully_confined_machine_grades_without_warning(stub, tmp_path):
    ctx = grade.make_context(tmp_path, Limits(), edition=str(stub))
    assert ctx.missing == []
    assert any(line.startswith("Landlock ABI") for line in ctx.confinement)  # probed once
    assert not any("WARNING" in line for line in ctx.notes())


def test_default_limits_leave_room_for_a_correct_submission():
    limits = Limits()
    assert limits.timeout >= 10 and limits.memory_mb >= 1024 and limits.cpu_seconds >= 60
