"""The fork server: one interpreter per grading run that forks every worker of the run.

Starting a worker as a fresh interpreter costs about 0.2 s, most of it importing numpy; a
run starts one worker per exercise per submission. The grader therefore starts this
server once (``python -I -S -c BOOT`` with a scrubbed environment, which every worker
inherits; see :mod:`...forkserver_client`); it imports numpy (``numpy.random`` too) and the
worker runtime, then waits for requests on a Unix socket. Each ``fork`` request forks a
child that becomes a worker exactly as a fresh interpreter would: it reads its
configuration, limits and confines itself (:func:`.worker.main`) before any student code
is imported.

The server itself never imports student code, holds no reference code and has no
threads (so forking it is safe). A child keeps only its own three descriptors, starts a
session of its own (the grader kills its process group), and is SIGKILLed by the kernel
when the server dies, which the server is when the grader dies.

Requests (one :mod:`.wire` value per datagram) and replies:

- ``("hello",)`` -> ``("ready", pid)``, once numpy is loaded;
- ``("fork", run_dir)`` with three descriptors attached (requests, replies, output) ->
  ``("pid", pid)``;
- ``("wait", pid)`` -> ``("status", code)``: ``None`` while the child runs, else its exit
  status as ``subprocess`` gives it (``-signal`` when killed), and the child is reaped;
- ``("peek", pid)`` -> the same, but an ended child is left unreaped. The server reaps a
  child only when asked, so the grader can kill an ended worker's process group without
  its process id having been reused.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback

# Loaded once, for every child; wire imports numpy.
from . import sandbox, seccomp_filter, wire, worker  # noqa: F401

MAX_REQUEST = 65536


def main(argv: list[str]) -> None:
    """Entry point: ``argv`` holds the socket's descriptor and the grader's process id."""
    worker.die_with_parent(int(argv[1]))
    import numpy.random  # noqa: F401  (numpy 2 loads it lazily; each child reseeds it)

    sock = socket.socket(fileno=int(argv[0]))
    children: set[int] = set()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 3)
        except OSError:
            break
        if not data:
            break  # the grader closed its end: the run is over
        try:
            reply = _answer(sock, wire.decode(data), fds, children)
        except (wire.WireError, OSError, TypeError, IndexError) as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        finally:
            for fd in fds:
                os.close(fd)
        try:
            sock.sendall(wire.encode(reply))
        except OSError:
            break  # the grader gave up on this server
    # Children die with this process (PR_SET_PDEATHSIG).
    os._exit(0)


def _answer(sock: socket.socket, request: tuple, fds: list[int], children: set[int]) -> tuple:
    if request == ("hello",):
        return ("ready", os.getpid())
    if request[0] == "fork" and len(fds) == 3 and type(request[1]) is str:
        pid = _fork(sock, request[1], fds, children)
        children.add(pid)
        return ("pid", pid)
    if request[0] in ("wait", "peek") and type(request[1]) is int and request[1] in children:
        if request[0] == "peek":
            return ("status", _peek(request[1]))
        return ("status", _status(request[1], children))
    return ("error", f"not a request: {request!r:.200}")


def _fork(sock: socket.socket, run_dir: str, fds: list[int], children: set[int]) -> int:
    server = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    children.clear()  # nothing of the server's bookkeeping for the student to find
    code = 0
    try:
        _become_worker(sock, server, run_dir, fds)
    except BaseException:  # noqa: BLE001  (the worker's own failure, shown to the grader)
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110  (student code may have replaced it)
                pass
        os._exit(code)


def _become_worker(sock: socket.socket, server: int, run_dir: str, fds: list[int]) -> None:
    """In the child: keep only its own descriptors, then run the worker."""
    sock.close()
    os.setsid()
    requests, replies, output = fds
    os.dup2(output, 1)
    os.dup2(output, 2)
    keep = sorted({0, 1, 2, requests, replies})
    for low, high in zip(keep, keep[1:] + [2**31 - 1], strict=True):
        os.closerange(low + 1, high)
    os.environ["HOME"] = os.environ["TMPDIR"] = run_dir
    # Python reseeds `random` in a fork; numpy's legacy global generator, loaded above,
    # would otherwise draw the same numbers in every worker.
    sys.modules["numpy.random"].seed()
    worker.main([str(requests), str(replies), str(server)])


def _peek(pid: int) -> int | None:
    """Like :func:`_status`, but the child stays unreaped: its pid cannot be reused yet."""
    found = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if found is None or found.si_pid == 0:
        return None
    return found.si_status if found.si_code == os.CLD_EXITED else -found.si_status


def _status(pid: int, children: set[int]) -> int | None:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        return None
    children.discard(pid)
    return os.waitstatus_to_exitcode(status)
