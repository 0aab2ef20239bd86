"""The disk watch counts what a process holds in files it deleted, whatever their names."""

from __future__ import annotations

import mmap
import os

import pytest

from bpkit.assignments.grading import disk_usage

MIB = 2**20


@pytest.mark.parametrize(
    "name",
    ["plain", "line\x1cbreak", "carriage\rreturn", "unicode\u2028separator", "new\nline"],
    ids=["plain", "file separator", "carriage return", "line separator", "newline"],
)
def test_a_deleted_mapped_file_is_counted_whatever_its_name(tmp_path, name):
    # /proc/<pid>/maps escapes only "\n" in a path; the other line breaks come through raw.
    # Python's mmap keeps a descriptor of the file, which the count of deleted open files
    # would see too: this checks the count of mappings alone (what a mapping made with
    # libc's mmap through ctypes leaves behind).
    held = disk_usage._deleted_mapped
    before = held(os.getpid())
    path = tmp_path / name
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        os.posix_fallocate(fd, 0, 2 * MIB)
        mapped = mmap.mmap(fd, 2 * MIB)
    finally:
        os.close(fd)
    os.unlink(path)
    try:
        assert held(os.getpid()) - before >= 2 * MIB
    finally:
        mapped.close()
    assert held(os.getpid()) == before
