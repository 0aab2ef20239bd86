"""The grader's temporary folders: made so a later run finds them, removed whatever is inside.

Each run works in one folder ``bpkit-grade-*`` in the system's temporary directory and holds
an ``flock`` on the file ``owner.lock`` in it while it lives. The kernel drops that lock
when the process ends, however it ends, so a folder whose lock can be taken belongs to a
grader that is gone (killed by SIGKILL, or a machine that lost power): :func:`make_root`
removes such folders of earlier runs before it makes its own.

:func:`remove_tree` deletes a folder that a submission filled however it liked: deep
chains of folders (deeper than the recursion limit, or than ``PATH_MAX``), folders without
permissions, thousands of files. It walks with file descriptors relative to the folder it
is in, iteratively, holding one descriptor per level only while it descends.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
import time
from pathlib import Path

PREFIX = "bpkit-grade-"
LOCK_NAME = "owner.lock"
# A folder without its lock file may be a run between mkdtemp and taking its lock; only
# one older than this is an orphan.
UNLOCKED_GRACE_SECONDS = 3600.0

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | Path) -> None:
    """Delete ``path`` and everything beneath it, without recursion; missing is fine.

    Symbolic links are removed, never followed. Raises OSError only if something could not
    be removed (after making folders writable and searchable where needed).
    """
    path = os.fspath(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    _chmod_dir(path)
    top = os.open(path, _DIR_FLAGS)
    # One frame per level: (descriptor of the folder, names of its subfolders still to do).
    stack = [(top, _clear_files(top))]
    try:
        while stack:
            fd, subdirs = stack[-1]
            if not subdirs:
                os.close(fd)
                stack.pop()
                if stack:
                    parent_fd, parent_subdirs = stack[-1]
                    os.rmdir(parent_subdirs.pop(), dir_fd=parent_fd)
                continue
            name = subdirs[-1]
            child = _open_child(fd, name)
            if child is None:  # vanished, or not a folder any more: nothing to descend into
                subdirs.pop()
                continue
            stack.append((child, _clear_files(child)))
    finally:
        for fd, _ in stack:
            os.close(fd)
    os.rmdir(path)


def _chmod_dir(path: str) -> None:
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass


def _open_child(fd: int, name: str) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=fd)  # a folder the submission made unreadable
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # ELOOP: a symbolic link in place of the folder
        if exc.errno == errno.ELOOP:
            os.unlink(name, dir_fd=fd)
            return None
        raise


def _clear_files(fd: int) -> list[str]:
    """Unlink everything in the folder ``fd`` but subfolders; return the subfolders' names."""
    try:
        os.fchmod(fd, 0o700)
    except OSError:
        pass
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except FileNotFoundError:
                    pass
    return subdirs


def make_root() -> tuple[Path, int]:
    """A fresh run folder, locked; earlier runs' orphans removed first.

    Returns the folder and the descriptor holding its lock (close it after removing the
    folder).
    """
    base = Path(tempfile.gettempdir())
    remove_orphans(base)
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    return root, fd


def remove_orphans(base: Path) -> list[Path]:
    """Remove the run folders in ``base`` whose grader is gone; return them."""
    removed = []
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return removed
    for folder in candidates:
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            if _is_orphan(folder):
                remove_tree(folder)
                removed.append(folder)
        except OSError:
            continue  # another run removing it too, or not ours to remove: leave it
    return removed


def _is_orphan(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return time.time() - folder.stat().st_mtime > UNLOCKED_GRACE_SECONDS
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its grader is alive
    finally:
        os.close(fd)
    return True
