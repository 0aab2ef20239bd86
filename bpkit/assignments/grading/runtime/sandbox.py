"""Confinement of the worker process that runs student code: resource limits, Landlock, seccomp.

The worker calls :func:`confine` on itself after it has imported numpy and before it imports
any student module. Everything here is enforced by the kernel, so student code cannot undo
it afterwards:

- ``setrlimit``: address space, CPU seconds, file size, open files, no core dumps;
- Landlock (Linux 5.13+): the worker may read only the Python standard library, numpy and
  the grader's own runtime files, and read and write only its temporary copy of the
  submission; with ABI 4+ it may not open TCP connections, with ABI 6+ it may not signal
  processes outside its own sandbox (the grader) nor reach abstract unix sockets;
- seccomp (x86-64): no new processes (threads are fine), no sockets, no ``ptrace``, no
  ``execve``, no pidfds, no signals to any process but itself (nor files set to signal
  one later: ``F_SETOWN``, ``F_SETSIG``), no priority or scheduling changes but its own,
  no changing resource limits, no namespaces or mounts;
- running as root, it drops every capability first.

A layer the machine cannot apply (no Landlock in the kernel, no seccomp filter for this
CPU) is reported by :func:`confine` as missing; the grader then refuses to grade unless told
``--allow-unconfined``. Without seccomp, a worker not running as root also gets an
``RLIMIT_NPROC`` a little above the processes its user already has, so it cannot fork much.

The grader's wall-clock deadline, output cap and disk watch live on the other side, in
:mod:`..worker_client`; :func:`sandbox_paths` (run by the grader) decides what the
worker may read. This module is copied next to the worker, so it imports
only the standard library. Nothing here defends against kernel exploits: run the grader
inside a container (Gradescope's) as the outer wall.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

from . import seccomp_filter

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

PR_SET_NO_NEW_PRIVS = 38
# Processes (threads included) a worker without seccomp may add to its user's count:
# room for the fast layers' and BLAS's threads, not for a fork bomb.
NPROC_MARGIN = 64
LAYERS = ("landlock", "seccomp")


class Unavailable(Exception):
    """A confinement layer this machine cannot apply; the message says which and why."""


@dataclass(frozen=True)
class Limits:
    """Limits for one worker. Defaults are far above what a correct submission needs.

    Attributes
    ----------
    timeout : float
        Wall-clock seconds for one call into student code (enforced by the grader).
    memory_mb : int
        Address space of the worker in MiB (``RLIMIT_AS``).
    cpu_seconds : int
        CPU seconds for one worker, i.e. one exercise (``RLIMIT_CPU``).
    output_kb : int
        Printed output kept per worker; the rest is read and dropped.
    file_mb : int
        Largest file the worker may write (``RLIMIT_FSIZE``).
    disk_mb : int
        Most disk space the worker's copy may take (checked by the grader while it waits).
    """

    timeout: float = 20.0
    memory_mb: int = 2048
    cpu_seconds: int = 120
    output_kb: int = 64
    file_mb: int = 64
    disk_mb: int = 256

    def as_dict(self) -> dict:
        return asdict(self)


def set_limits(limits: dict) -> None:
    """Apply the kernel-enforced parts of :class:`Limits` (as a dict) to this process."""
    mib = 2**20
    for res, value in (
        (resource.RLIMIT_AS, int(limits["memory_mb"]) * mib),
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_FSIZE, int(limits["file_mb"]) * mib),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(res, (value, value))


def _tasks_of_user(uid: int) -> int:
    """Processes and threads whose real user is ``uid``, as /proc shows them."""
    count = 0
    try:
        pids = os.listdir("/proc")
    except OSError:
        return 0
    for pid in pids:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                fields = dict(line.split(b":", 1) for line in fh if b":" in line)
            if int(fields[b"Uid"].split()[0]) == uid:
                count += int(fields[b"Threads"])
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return count


def limit_processes(tasks: int) -> str:
    """Cap the user's process count at ``tasks`` (counted before Landlock hid /proc) + margin."""
    if os.geteuid() == 0:
        return "running as root: RLIMIT_NPROC would not apply"
    if tasks < 1:  # this process at least: /proc could not be read
        return "could not count processes in /proc: RLIMIT_NPROC NOT set"
    cap = tasks + NPROC_MARGIN
    resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    return f"RLIMIT_NPROC {cap} (about {NPROC_MARGIN} more processes or threads)"


def sandbox_paths(secret: list[Path]) -> dict:
    """What a worker may read: the standard library and numpy, never anything in ``secret``.

    The standard library directory may contain ``site-packages`` (virtual environments,
    pyenv), where an installed bpkit with its reference code and hidden checks would live.
    So the directory itself is only listable, and each of its entries except
    ``site-packages`` / ``dist-packages`` is readable.

    Raises
    ------
    RuntimeError
        If a readable path would contain one of ``secret`` (the instructor's bpkit tree).
    """
    import numpy

    numpy_dir = Path(numpy.__file__).resolve().parent
    read = [numpy_dir]
    if (numpy_dir.parent / "numpy.libs").is_dir():
        read.append(numpy_dir.parent / "numpy.libs")
    list_only = []
    for name in ("stdlib", "platstdlib"):
        lib = Path(sysconfig.get_paths()[name]).resolve()
        if lib in list_only or not lib.is_dir():
            continue
        list_only.append(lib)
        read += [
            lib / e for e in sorted(os.listdir(lib)) if e not in ("site-packages", "dist-packages")
        ]
    zipped = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}{sys.version_info[1]}.zip"
    if zipped.exists():
        read.append(zipped)
    for path in read:
        for hidden in secret:
            if Path(hidden).resolve().is_relative_to(path.resolve()):
                raise RuntimeError(
                    f"the worker would be allowed to read {path}, which holds {hidden}; "
                    "install bpkit outside the Python standard library directory"
                )
    return {
        "read": [str(p) for p in read],
        "list_only": [str(p) for p in list_only],
        "numpy_site": str(numpy_dir.parent),
    }


# ---------------------------------------------------------------- Landlock
_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446
_LL_VERSION = 1
_LL_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FILE_ONLY = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """Landlock ABI version of the running kernel, or 0 if Landlock is unavailable."""
    abi = _libc.syscall(_LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_LL_VERSION))
    return max(int(abi), 0)


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def landlock(read: list[str], list_only: list[str], write: list[str]) -> str:
    """Restrict this process's file access (and TCP, signals where the ABI allows).

    Parameters
    ----------
    read : list of str
        Files or directories readable (with everything beneath).
    list_only : list of str
        Directories whose entries may be listed but not read.
    write : list of str
        Directories readable and writable (create, delete, truncate) with everything beneath.

    Returns
    -------
    str
        What was restricted.

    Raises
    ------
    Unavailable
        If the kernel has no Landlock or refuses the ruleset; nothing was restricted then.
    """
    abi = landlock_abi()
    if abi < 1:
        raise Unavailable("Landlock unavailable on this kernel: file access is NOT confined")
    fs = _fs_rights(abi)
    attr = _RulesetAttr(fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0, 0)
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _libc.syscall(_LL_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise Unavailable(f"Landlock refused a ruleset ({os.strerror(ctypes.get_errno())})")
    try:
        for paths, rights in (
            (read, _FS_READ_FILE | _FS_READ_DIR),
            (list_only, _FS_READ_DIR),
            (write, fs),
        ):
            for path in paths:
                _add_path_rule(ruleset, path, rights)
        _no_new_privs()
        if _libc.syscall(_LL_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise Unavailable(f"landlock_restrict_self failed ({os.strerror(ctypes.get_errno())})")
    finally:
        os.close(ruleset)
    extra = ", TCP" if abi >= 4 else ""
    extra += ", signals to other processes" if abi >= 6 else ""
    return f"Landlock ABI {abi} (files{extra})"


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not os.path.isdir(path):
            rights &= _FILE_ONLY
        if not rights:
            return
        rule = _PathBeneath(rights, fd)
        if _libc.syscall(_LL_ADD_RULE, ruleset, _LL_RULE_PATH_BENEATH, ctypes.byref(rule), 0):
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)


def _no_new_privs() -> None:
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


# ---------------------------------------------------------------- seccomp
def seccomp() -> str:
    """Install the system-call filter (x86-64 only); return what it does.

    Raises
    ------
    Unavailable
        On another CPU, or when the kernel refuses the filter; nothing was installed then.
    """
    if platform.machine() != "x86_64":
        raise Unavailable(
            f"seccomp filter not available on {platform.machine()}: fork and signals are "
            "NOT blocked"
        )
    try:
        seccomp_filter.install(seccomp_filter.program(os.getpid()))
    except OSError as exc:
        raise Unavailable(f"the kernel refused the seccomp filter ({exc.strerror})") from None
    return (
        "seccomp (no processes, exec, sockets, ptrace or pidfds; signals only to itself, "
        "no file set to signal anyone; priority and scheduling of itself only)"
    )


def drop_capabilities() -> bool:
    """As root, give up every capability of this process; return whether it was root."""
    if os.geteuid() != 0:
        return False

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    return True


def confine(
    read: list[str], list_only: list[str], write: list[str], simulate_missing=()
) -> tuple[list[str], list[str]]:
    """Drop capabilities, apply Landlock then seccomp.

    Parameters
    ----------
    read, list_only, write : list of str
        As for :func:`landlock`.
    simulate_missing : sequence of str
        Layers (``"landlock"``, ``"seccomp"``) to act as if the machine lacked: the tests'
        way to reach the paths a machine without them takes.

    Returns
    -------
    lines : list of str
        One line per layer: what it restricts, or why it is missing.
    missing : list of str
        The layers of :data:`LAYERS` that are not in force.
    """
    lines, missing = [], []
    # Counted now: Landlock hides /proc from this process.
    tasks = _tasks_of_user(os.getuid()) if os.geteuid() != 0 else 0
    if drop_capabilities():
        lines.append("root capabilities dropped")
    layers = {"landlock": lambda: landlock(read, list_only, write), "seccomp": seccomp}
    for name in LAYERS:
        try:
            if name in simulate_missing:
                raise Unavailable(f"{name} switched off for a test: NOT in force")
            lines.append(layers[name]())
        except Unavailable as exc:
            lines.append(str(exc))
            missing.append(name)
    if "seccomp" in missing:
        lines.append(limit_processes(tasks))
    return lines, missing
