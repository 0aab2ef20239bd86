"""What a worker may read, and what the grader says when the sandbox is weaker than usual."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

import bpkit
from bpkit.assignments import grade, sandbox
from bpkit.assignments.sandbox import Limits

STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def test_workers_may_read_numpy_and_the_standard_library_but_not_bpkit():
    paths = sandbox.sandbox_paths([Path(bpkit.__file__).parent])
    read = [Path(p) for p in paths["read"]]
    package = Path(bpkit.__file__).resolve().parent
    assert not any(package.is_relative_to(p) for p in read)
    assert any(p.name == "numpy" for p in read)
    assert (STDLIB / "json") in read
    assert not any(p.name in ("site-packages", "dist-packages") for p in read)
    assert paths["list_only"] == [str(STDLIB)]


def test_a_secret_inside_a_readable_folder_stops_grading():
    with pytest.raises(RuntimeError, match="would be allowed to read"):
        sandbox.sandbox_paths([STDLIB / "json"])


def test_without_landlock_the_grader_says_files_are_not_confined(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    # With no Landlock the call returns before restricting anything, so it is safe here.
    line = sandbox.landlock([], [], [])
    assert "NOT confined" in line
    ctx = grade.Context(tmp_path, tmp_path, tmp_path, {}, Limits(), 1, [], [line])
    assert any(note.startswith("WARNING") for note in ctx.notes())


def test_the_seccomp_filter_jumps_stay_inside_the_program():
    prog = sandbox._seccomp_program()
    assert len(prog) < 256
    for i, (code, jt, jf, _) in enumerate(prog):
        if code & 0x07 == 0x05:  # BPF_JMP
            assert 0 <= jt < 256 and 0 <= jf < 256
            assert i + 1 + max(jt, jf) < len(prog)
    assert prog[-1][0] == 0x06  # ends with a return


def test_default_limits_leave_room_for_a_correct_submission():
    limits = Limits()
    assert limits.timeout >= 10 and limits.memory_mb >= 1024 and limits.cpu_seconds >= 60
