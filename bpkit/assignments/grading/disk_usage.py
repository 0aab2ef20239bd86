"""How much disk a worker uses: its copy's files, and deleted files it still holds.

The grader's disk watch (:meth:`bpkit.assignments.grading.worker_client.Worker`) calls these
after every reply and periodically while a call runs. A file deleted while still open or
mapped takes space that no walk of the folder sees, so /proc is read for those too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def tree_usage(root: Path, max_files: int) -> tuple[int, int]:
    """Bytes (allocated blocks) and entries under ``root``, walked without recursion.

    The worker may create, delete or rename anything while this walks, so an entry can
    vanish or become unreadable between listing and ``stat``: it is skipped then (and
    counted again on the next round if it comes back). The walk stops past ``max_files`` entries.
    """
    used, count, stack = 0, 0, [str(root)]
    while stack and count <= max_files:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    count += 1
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            used += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return used, count


def deleted_but_held(pid: int) -> int:
    """Bytes of deleted regular files that process ``pid`` still holds open or mapped.

    Raises PermissionError when /proc does not show the process's descriptors; returns 0
    when the process is gone.
    """
    return _deleted_open(pid) + _deleted_mapped(pid)


def _deleted_open(pid: int) -> int:
    held: dict[tuple[int, int], int] = {}
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for fd in fds:
        try:
            if not os.readlink(f"{fd_dir}/{fd}").endswith(" (deleted)"):
                continue
            st = os.stat(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            held[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(held.values())


def _deleted_mapped(pid: int) -> int:
    # Each line: start-end perms offset dev inode path, a deleted file's path ending in
    # " (deleted)". Shared memory (/dev/zero, memfd, SysV) is bounded by RLIMIT_AS instead.
    held: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/maps", "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    if b" (deleted)\n" not in data:  # the usual case, found without splitting every line
        return 0
    # Split on "\n" alone, the one character the kernel escapes in a path: a file named
    # with another line break (\r, \x1c, \u2028...) must not split its own line in two.
    lines = [line for line in data.split(b"\n") if line.endswith(b" (deleted)")]
    maps = [line.decode("utf-8", "replace").split(maxsplit=5) for line in lines]
    for parts in maps:
        if len(parts) < 6 or parts[5].startswith(("/dev/zero", "/memfd:", "/SYSV")):
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        held[parts[4]] = held.get(parts[4], 0) + end - start
    return sum(held.values())
