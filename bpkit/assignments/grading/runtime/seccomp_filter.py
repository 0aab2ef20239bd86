"""The seccomp filter of the grading worker (x86-64): which system calls it may make.

Student code never needs to start a process, ``exec``, open a socket, trace, signal or
reschedule another process, change resource limits or enter namespaces, so those calls fail
with ``EPERM`` (``clone3``, whose flags sit behind a pointer, and foreign ABIs get ``ENOSYS``;
``fallocate`` gets ``EOPNOTSUPP``, so disk space is taken at write speed).
Threads stay possible: ``clone`` is allowed with ``CLONE_THREAD``. :func:`program` builds
the classic-BPF program, :func:`install` applies it to the calling process for good.
Used by :mod:`.sandbox`; copied next to the worker with it, so it imports
only the standard library.
"""

from __future__ import annotations

import ctypes

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.restype = ctypes.c_int

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
# x86-64 numbers of the system calls student code never needs.
_X86_64_DENIED = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "socket": 41, "socketpair": 53,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "setrlimit": 160,
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
    "chroot": 161, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "keyctl": 250, "add_key": 248, "request_key": 249,
    "kexec_load": 246, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "open_by_handle_at": 304, "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438,
}  # fmt: skip
_X86_64_CLONE, _X86_64_CLONE3, _X86_64_PRLIMIT64 = 56, 435, 302
# System calls that send a signal; allowed only when args[0] is the worker's own pid.
_X86_64_SIGNAL = {
    "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
}  # fmt: skip
# Scheduling and memory-placement calls whose args[0] is the target pid: allowed for 0
# (itself) or its own pid.
_X86_64_SCHED = {
    "sched_setparam": 142, "sched_setscheduler": 144, "sched_setaffinity": 203,
    "sched_setattr": 314, "migrate_pages": 256, "move_pages": 279,
}  # fmt: skip
_X86_64_FCNTL, _X86_64_IOCTL, _X86_64_SETPRIORITY, _X86_64_IOPRIO_SET = 72, 16, 141, 251
# fcntl and ioctl commands that make the kernel signal a chosen process or group later
# (SIGIO, or the signal F_SETSIG picks) or that block other openers (a lease): denied.
_FCNTL_DENIED = {"F_SETOWN": 8, "F_SETSIG": 10, "F_SETOWN_EX": 15, "F_SETLEASE": 1024}
_IOCTL_DENIED = {"FIOSETOWN": 0x8901, "SIOCSPGRP": 0x8902}
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1
# fallocate would reserve gigabytes of disk in microseconds, faster than the grader's disk
# watch looks; "not supported" makes the C library write the blocks instead, at disk speed.
_X86_64_FALLOCATE, _EOPNOTSUPP = 285, 95


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _assemble(ops: list[tuple]) -> list[tuple[int, int, int, int]]:
    """Resolve ``("label", name)`` entries and symbolic jump targets into BPF tuples."""
    labels, body = {}, []
    for op in ops:
        if op[0] == "label":
            labels[op[1]] = len(body)
        else:
            body.append(op)
    out = []
    for i, (code, jt, jf, k) in enumerate(body):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out.append((code, jt, jf, k))
    return out


def program(pid: int) -> list[tuple[int, int, int, int]]:
    """The filter for the worker whose process id is ``pid``.

    A signal may go to ``pid`` itself (Python's own ``os.kill(os.getpid(), ...)``, a
    thread's ``pthread_kill``), never elsewhere: not to the grader, not to ``0`` or a
    negative id (a whole process group). No file may be told to signal anyone
    (``F_SETOWN``, ``F_SETOWN_EX``, ``F_SETSIG``, ``FIOSETOWN``, ``SIOCSPGRP``), so this
    holds whatever Landlock's ABI. Priorities and scheduling may change for the worker
    itself only (``setpriority``, ``ioprio_set`` and ``sched_set*`` with target 0 or
    ``pid``). The kernel reads pids, ``which`` and commands as 32-bit ints, so the low
    word of each argument is all that matters.
    """
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | _EPERM
    nosys = 0x00050000 | _ENOSYS
    unsupported = 0x00050000 | _EOPNOTSUPP
    prog: list[tuple] = [
        (ld, 0, 0, 4),  # seccomp_data.arch
        (jeq, 0, "nosys", _AUDIT_ARCH_X86_64),
        (ld, 0, 0, 0),  # seccomp_data.nr
        (jge, "nosys", 0, _X32_BIT),
    ]
    for nr in sorted(_X86_64_DENIED.values()):
        prog.append((jeq, "deny", 0, nr))
    for nr in sorted(_X86_64_SIGNAL.values()):
        prog.append((jeq, "signal", 0, nr))
    for nr in sorted(_X86_64_SCHED.values()):
        prog.append((jeq, "sched", 0, nr))
    prog += [
        (jeq, "unsupported", 0, _X86_64_FALLOCATE),
        (jeq, "fcntl", 0, _X86_64_FCNTL),
        (jeq, "ioctl", 0, _X86_64_IOCTL),
        (jeq, "setpriority", 0, _X86_64_SETPRIORITY),
        (jeq, "ioprio", 0, _X86_64_IOPRIO_SET),
        (jeq, "clone", 0, _X86_64_CLONE),
        # clone3 hides its flags behind a pointer; glibc falls back to clone on ENOSYS.
        (jeq, "nosys", 0, _X86_64_CLONE3),
        (jeq, "prlimit", 0, _X86_64_PRLIMIT64),
        (ret, 0, 0, allow),
        ("label", "clone"),
        (ld, 0, 0, 16),  # low word of args[0], the clone flags
        (jset, "allow", "deny", _CLONE_THREAD),
        ("label", "prlimit"),
        (ld, 0, 0, 32),  # args[2], the new limit: reading limits (NULL) stays allowed
        (jeq, 0, "deny", 0),
        (ld, 0, 0, 36),
        (jeq, "allow", "deny", 0),
        ("label", "fcntl"),
        (ld, 0, 0, 24),  # low word of args[1], the command
        *[(jeq, "deny", 0, cmd) for cmd in sorted(_FCNTL_DENIED.values())],
        (ret, 0, 0, allow),
        ("label", "ioctl"),
        (ld, 0, 0, 24),  # low word of args[1], the request
        *[(jeq, "deny", 0, cmd) for cmd in sorted(_IOCTL_DENIED.values())],
        (ret, 0, 0, allow),
        ("label", "setpriority"),
        (ld, 0, 0, 16),  # args[0], which: one process, not a group or a user
        (jeq, "who", "deny", _PRIO_PROCESS),
        ("label", "ioprio"),
        (ld, 0, 0, 16),
        (jeq, "who", "deny", _IOPRIO_WHO_PROCESS),
        ("label", "who"),
        (ld, 0, 0, 24),  # low word of args[1], who: 0 (itself) or its own pid
        (jeq, "allow", 0, 0),
        (jeq, "allow", "deny", pid),
        ("label", "sched"),
        (ld, 0, 0, 16),  # low word of args[0], the target: 0 (itself) or its own pid
        (jeq, "allow", 0, 0),
        (jeq, "allow", "deny", pid),
        ("label", "signal"),
        (ld, 0, 0, 16),  # low word of args[0], the target pid
        (jeq, "allow", "deny", pid),
        ("label", "allow"),
        (ret, 0, 0, allow),
        ("label", "deny"),
        (ret, 0, 0, deny),
        ("label", "nosys"),
        (ret, 0, 0, nosys),
        ("label", "unsupported"),
        (ret, 0, 0, unsupported),
    ]
    return _assemble(prog)


def install(prog: list[tuple[int, int, int, int]]) -> None:
    """Apply ``prog`` to this process (and its future threads); raise OSError if refused."""
    filters = (_SockFilter * len(prog))(*prog)
    fprog = _SockFprog(len(prog), filters)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
