"""What a worker may read and signal; the grader fails closed when confinement is missing."""

from __future__ import annotations

import argparse
import errno
import json
import os
import platform
import subprocess
import sys
import sysconfig
from dataclasses import replace
from pathlib import Path

import grading_fixtures as fx
import pytest
from grading_fixtures.hostile import REPLY_FD

import bpkit
from bpkit.assignments.grading import grade, one_submission
from bpkit.assignments.grading.runtime import sandbox, seccomp_filter
from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.grading.worker_client import MAX_TEXT, Policy, StudentError, WorkerDied

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
    with pytest.raises(one_submission.GradingError, match=f"refusing to grade: {layer}"):
        one_submission.make_context(
            tmp_path, Limits(), edition=str(stub), policy=Policy(switched_off=(layer,))
        )


@pytest.mark.parametrize("layer", sandbox.LAYERS)
def test_allow_unconfined_grades_and_says_so_loudly(stub, tmp_path, layer):
    policy = Policy(allow_unconfined=True, switched_off=(layer,))
    ctx = one_submission.make_context(tmp_path, Limits(), edition=str(stub), policy=policy)
    assert ctx.missing == [layer]
    assert ctx.notes()[0].startswith(f"WARNING: UNCONFINED GRADING: {layer} NOT in force")
    if layer == "seccomp":  # without seccomp, RLIMIT_NPROC stands in against fork bombs
        assert any("RLIMIT_NPROC" in line for line in ctx.confinement)


def _grade_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_fails_closed_unless_allow_unconfined(stub, tmp_path, capsys):
    policy = Policy(switched_off=("landlock", "seccomp"))
    results = tmp_path / "results.json"
    common = [str(stub), "--edition", str(stub), "--exercises", "sgd", "--results", str(results)]
    assert grade.run(_grade_args(*common), policy) == 1
    assert "refusing to grade: landlock and seccomp" in capsys.readouterr().err
    assert not results.exists()

    assert grade.run(_grade_args(*common, "--allow-unconfined"), policy) == 0
    out = capsys.readouterr().out
    written = json.loads(results.read_text())
    for text in (out, written["output"]):
        assert text.startswith("WARNING: UNCONFINED GRADING: landlock and seccomp NOT in force")
    assert [t["score"] for t in written["tests"]] == [0, 0]


def test_a_fully_confined_machine_grades_without_warning(stub, tmp_path):
    ctx = one_submission.make_context(tmp_path, Limits(), edition=str(stub))
    assert ctx.missing == []
    assert any(line.startswith("Landlock ABI") for line in ctx.confinement)  # probed once
    assert not any("WARNING" in line for line in ctx.notes())


def test_default_limits_leave_room_for_a_correct_submission():
    limits = Limits()
    assert limits.timeout >= 10 and limits.memory_mb >= 1024 and limits.cpu_seconds >= 60


# ---------------------------------------------------------------- limits the grader holds
# Functions a submission could hold, run by a real confined worker. File space is taken
# with posix_fallocate, which the seccomp filter turns into writing the blocks.
PROBE_MODULE = (
    REPLY_FD
    + """
import mmap, os, struct, sys, time

MIB = 2**20
held = []


def reserve(name, mib):
    fd = os.open(name, os.O_CREAT | os.O_RDWR, 0o600)
    os.posix_fallocate(fd, 0, mib * MIB)
    return fd


def fast_files(n, mib):
    for i in range(n):
        os.close(reserve(f"fast{i}", mib))
    return n


def deleted_open(n, mib):
    for i in range(n):
        held.append(reserve(f"gone{i}", mib))
        os.unlink(f"gone{i}")
    return n


def deleted_mapped(n, mib):
    for i in range(n):
        fd = os.open(f"map{i}", os.O_CREAT | os.O_RDWR, 0o600)
        os.posix_fallocate(fd, 0, mib * MIB)
        held.append(mmap.mmap(fd, mib * MIB))
        os.close(fd)
        os.unlink(f"map{i}")
    return n


def forge(payload):
    os.write(_reply_fd(), struct.pack("<Q", len(payload)) + payload)
    time.sleep(3600)


def huge_header():
    os.write(_reply_fd(), struct.pack("<Q", 2**30))
    time.sleep(3600)


def huge_error(n):
    text = ("x" * n).encode()
    part = b"S" + struct.pack("<I", len(text)) + text
    forge(b"U" + struct.pack("<I", 4) + b"S\\x06\\x00\\x00\\x00raised" + part * 3)


def others():
    # Each attempt on another process, or on a file to signal one: "ok" or the errno name.
    import ctypes, errno, fcntl

    parent, me, got = os.getppid(), os.getpid(), {}
    libc = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe()
    owner = struct.pack("ii", 1, parent)  # struct f_owner_ex {F_OWNER_PID, pid}

    def syscall(*args):
        if libc.syscall(*args) < 0:
            raise OSError(ctypes.get_errno(), "syscall")

    # Harmless even if allowed: the parent's own settings are written back unchanged, and
    # groups and users are ones with no process (ESRCH where the call is allowed).
    nobody = 4_000_000
    nice = os.getpriority(os.PRIO_PROCESS, parent)
    policy, param = os.sched_getscheduler(parent), os.sched_getparam(parent)
    ioprio = libc.syscall(252, 1, parent)  # ioprio_get
    attempts = {
        "F_SETOWN-parent": lambda: fcntl.fcntl(read_end, fcntl.F_SETOWN, parent),
        "F_SETOWN-self": lambda: fcntl.fcntl(read_end, fcntl.F_SETOWN, me),
        "F_SETOWN_EX-parent": lambda: fcntl.fcntl(read_end, 15, owner),
        "F_SETSIG": lambda: fcntl.fcntl(read_end, 10, 9),
        "FIOSETOWN-parent": lambda: fcntl.ioctl(read_end, 0x8901, struct.pack("i", parent)),
        "setpriority-parent": lambda: os.setpriority(os.PRIO_PROCESS, parent, nice),
        "setpriority-group": lambda: os.setpriority(os.PRIO_PGRP, nobody, 19),
        "setpriority-user": lambda: os.setpriority(os.PRIO_USER, nobody, 19),
        "sched_setaffinity-parent": lambda: os.sched_setaffinity(
            parent, os.sched_getaffinity(parent)
        ),
        "sched_setscheduler-parent": lambda: os.sched_setscheduler(parent, policy, param),
        "sched_setparam-parent": lambda: os.sched_setparam(parent, param),
        "sched_setattr-other": lambda: syscall(314, nobody, ctypes.create_string_buffer(56), 0),
        "ioprio_set-parent": lambda: syscall(251, 1, parent, ioprio),
        "migrate_pages-parent": lambda: syscall(256, parent, 0, None, None),
        "move_pages-parent": lambda: syscall(279, parent, 0, None, None, None, 0),
        "ioprio_set-user": lambda: syscall(251, 3, nobody, ioprio),
        "fallocate": lambda: syscall(285, os.open("f", os.O_CREAT | os.O_WRONLY), 0, 0, 4096),
        # What a process may still do to itself:
        "setpriority-self": lambda: os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(0, 0)),
        "sched_setaffinity-self": lambda: os.sched_setaffinity(0, os.sched_getaffinity(0)),
        "F_GETFL": lambda: fcntl.fcntl(read_end, fcntl.F_GETFL),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            got[name] = "ok"
        except OSError as exc:
            got[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    return got


def many_files(n):
    os.makedirs("junk", exist_ok=True)
    for i in range(n):
        open(f"junk/{i}", "w").close()
    return n


def deep_reply():
    forge(b"L\\x01\\x00\\x00\\x00" * 10_000 + b"N")
"""
)


@pytest.fixture()
def probe_worker(stub, tmp_path):
    """Start a worker on a folder holding PROBE_MODULE with small disk limits."""
    ctx = one_submission.make_context(tmp_path / "run", Limits(), 1, edition=str(stub))
    ctx.limits = replace(ctx.limits, timeout=30.0, disk_mb=16, file_mb=8)
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    (run_dir / "probe.py").write_text(PROBE_MODULE)
    worker = one_submission.start_worker(ctx, run_dir)
    worker.import_module("probe")
    yield worker
    worker.close()


@pytest.mark.parametrize("function", ["fast_files", "deleted_open", "deleted_mapped"])
def test_disk_use_is_checked_after_every_reply_and_counts_deleted_files(probe_worker, function):
    # 4 x 6 MiB: each file under the 8 MiB file limit, together over the 16 MiB disk limit;
    # the call returns at once, so only the check after the reply can see it.
    with pytest.raises(WorkerDied, match="wrote more than 16 MiB"):
        probe_worker.function(f"probe.{function}")(4, 6)


def test_the_number_of_files_is_capped(probe_worker, monkeypatch):
    # The call returns as soon as its files exist, and the count is checked after the
    # reply: however slow the machine, the limit (lowered here) is what stops the worker.
    from bpkit.assignments.grading import worker_client

    monkeypatch.setattr(worker_client, "MAX_FILES", 100)
    assert probe_worker.function("probe.many_files")(50).get() == 50
    with pytest.raises(WorkerDied, match="wrote more than 16 MiB or 100 files"):
        probe_worker.function("probe.many_files")(150)


def test_within_the_disk_limit_calls_go_on(probe_worker):
    assert probe_worker.function("probe.fast_files")(2, 6).get() == 2
    assert probe_worker.function("probe.deleted_open")(0, 6).get() == 0


def test_a_reply_announcing_more_than_the_cap_is_refused_from_its_header(probe_worker):
    with pytest.raises(WorkerDied, match="exceeds the limit of 33554432 bytes"):
        probe_worker.function("probe.huge_header")()


def test_error_texts_from_a_worker_are_clipped_by_the_grader(probe_worker):
    with pytest.raises(StudentError) as info:
        probe_worker.function("probe.huge_error")(5 * 2**20)
    assert len(str(info.value)) < 3 * MAX_TEXT
    assert len(info.value.where) < MAX_TEXT + 100
    assert "more characters]" in str(info.value)


@pytest.mark.skipif(not X86_64, reason="the seccomp filter exists for x86-64 only")
def test_a_worker_can_neither_set_files_to_signal_nor_reschedule_other_processes(probe_worker):
    got = probe_worker.function("probe.others")().get()
    allowed = {name: got.pop(name) for name in ("setpriority-self", "sched_setaffinity-self")}
    assert got.pop("F_GETFL") == allowed["setpriority-self"] == "ok"
    assert allowed["sched_setaffinity-self"] == "ok"
    # posix_fallocate then writes the blocks, at disk speed:
    assert got.pop("fallocate") == errno.errorcode[errno.EOPNOTSUPP]
    assert got == {name: "EPERM" for name in got} and len(got) == 16, got


def test_a_deeply_nested_reply_is_refused_not_recursed(probe_worker):
    with pytest.raises(WorkerDied, match="nested more than"):
        probe_worker.function("probe.deep_reply")()


def test_a_worker_filling_a_nearly_full_filesystem_is_stopped(probe_worker, monkeypatch):
    from bpkit.assignments.grading import worker_client

    real = os.statvfs

    def nearly_full(path):
        fs = real(path)
        free = worker_client.DISK_RESERVE_MB * 2**20 // fs.f_frsize - 1
        return os.statvfs_result((*fs[:4], free, *fs[5:]))

    assert probe_worker.function("probe.fast_files")(1, 6).get() == 1  # holds under 8 MiB
    monkeypatch.setattr(os, "statvfs", nearly_full)
    with pytest.raises(WorkerDied, match="less than 64 MiB left and the submission held 12 MiB"):
        probe_worker.function("probe.fast_files")(2, 6)
