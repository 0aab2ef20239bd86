"""The worker: a process that confines itself, then runs student code on request.

It is forked by the run's fork server (:mod:`.forkserver`), an interpreter the grader
starts with ``python -I -S -c BOOT``: isolated mode and no ``site``, so neither the
submission, ``PYTHON*`` variables, ``.pth`` files nor a ``sitecustomize`` can run before
it; its only ``sys.path`` entries are the standard library, numpy's directory (dropped
once numpy is in) and the temporary copy of the submission. The worker then reads its
configuration, applies the limits and the sandbox of
:mod:`bpkit.assignments.grading.runtime.sandbox`, and answers requests until told to stop.

Requests and replies are :mod:`.wire` values. Objects that are not plain
data -- a layer's cache, a model -- stay here in a table of handles; the grader refers to
them by :class:`~bpkit.assignments.grading.runtime.wire.Ref`. Requests:

``("import", module)``, ``("put", value)`` -> handle, ``("call", func, args, kwargs)`` ->
handle, where ``func`` is ``("fn", module, qualname)`` or a ``Ref``; ``("get", ref, label)`` ->
plain value (``label`` names it in a refusal); ``("set", ref, name, value)``; ``("bye",)``.

Replies: ``("ok", value)``, ``("raised", type, message, traceback)``, ``("refused",
message)`` when a value is not plain data, ``("missing", message)`` when a name is absent.

While a model exercise is graded, the worker's ``bpkit/layers.py`` and ``layer_utils.py``
are stand-ins whose functions call :func:`serve_layer`: in the middle of a ``call`` the
worker sends ``("layer", name, args, kwargs)`` and reads the grader's answer, ``("ok",
value)`` or ``("raised", type, message)``, before it goes on. Caches stay in the grader;
the worker holds them as :class:`LayerCache` tokens.

The worker holds no reference code and no expected values: those live in the grader.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
import traceback

from . import sandbox, wire

MAX_TEXT = 2000
_CONN = None  # the connection to the grader, for serve_layer
_CACHE_TAG = "bpkit layer cache"
_ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError}


PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Entry point in the worker process.

    ``argv`` holds the request and reply descriptors and the process id of the parent
    (the fork server), which must still be alive.
    """
    if len(argv) > 2:
        die_with_parent(int(argv[2]))
    global _CONN
    conn = _CONN = _Conn(int(argv[0]), int(argv[1]))
    config = conn.recv()
    sandbox.set_limits(config["limits"])
    import numpy  # noqa: F401  (loaded before the sandbox closes numpy's site directory)

    for entry in config["drop_from_path"]:
        while entry in sys.path:
            sys.path.remove(entry)
    lines, missing = sandbox.confine(
        config["read"], config["list_only"], config["write"], config["simulate_missing"]
    )
    root = config["run_dir"]
    os.chdir(root)
    sys.path.insert(0, root)
    # The grader decides whether a worker with a layer missing may go on (it stops it
    # otherwise before any student code is imported).
    conn.send(wire.encode(("ready", lines, missing)))
    _Server(conn, root, config["module_files"]).serve()


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies, however it dies.

    The parent is the grader for the fork server, the fork server for a worker; it
    may have died before the request was made, and then this process exits now. The
    signal comes when the parent *thread* ends.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        os._exit(3)
    if os.getppid() != parent_pid:
        os._exit(3)


class _Conn:
    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd

    def _read(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(self.rfd, min(left, 2**20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def recv(self) -> object:
        n = wire.frame_length(self._read(8))
        return wire.decode(self._read(n), allow_refs=True)

    def send(self, payload: bytes) -> None:
        view = memoryview(wire.frame(payload))
        while view:
            view = view[os.write(self.wfd, view) :]


class LayerCache:
    """A layer's cache that the grader keeps; hand it to the matching backward."""

    __slots__ = ("token",)

    def __init__(self, token: int):
        self.token = token

    def __repr__(self) -> str:
        return f"<layer cache #{self.token}, kept by the grader>"


def serve_layer(name: str, args: tuple, kwargs: dict) -> object:
    """Have the grader run layer ``name`` on these arguments and return its result.

    Only the stand-in layer modules laid over the submission for model grading call this;
    in any other worker the grader treats the request as a broken protocol.
    """
    up = ("layer", name, _tokens_up(list(args)), _tokens_up(dict(kwargs)))
    _CONN.send(wire.encode(up, where=f"the arguments of {name}"))
    reply = _CONN.recv()
    if type(reply) is tuple and len(reply) == 2 and reply[0] == "ok":
        return _tokens_down(reply[1])
    if type(reply) is tuple and len(reply) == 3 and reply[0] == "raised":
        raise _ERRORS.get(reply[1], RuntimeError)(reply[2])
    raise RuntimeError(f"{name}: the grader sent no usable answer")


def _tokens_up(value: object) -> object:
    if type(value) is LayerCache:
        return (_CACHE_TAG, value.token)
    if type(value) in (list, tuple):
        return type(value)(_tokens_up(v) for v in value)
    if type(value) is dict:
        return {k: _tokens_up(v) for k, v in value.items()}
    return value


def _tokens_down(value: object) -> object:
    if type(value) is wire.Ref:
        return LayerCache(value.handle)
    if type(value) in (list, tuple):
        return type(value)(_tokens_down(v) for v in value)
    return value


class _Missing(Exception):
    pass


class _Server:
    def __init__(self, conn: _Conn, root: str, module_files: dict[str, str]):
        self.conn, self.root = conn, root
        self.module_files = module_files  # from the registry, in the grader: module -> path
        self.handles: dict[int, object] = {}

    def serve(self) -> None:
        while True:
            try:
                request = self.conn.recv()
            except EOFError:
                return
            if request[0] == "bye":
                return
            self.conn.send(self.answer(request))

    def answer(self, request: tuple) -> bytes:
        op, args = request[0], request[1:]
        try:
            value = getattr(self, "op_" + op)(*args)
            return wire.encode(("ok", value), where="the returned value")
        except wire.WireError as exc:
            return wire.encode(("refused", _clip(str(exc))))
        except _Missing as exc:
            return wire.encode(("missing", _clip(str(exc))))
        except BaseException as exc:  # noqa: BLE001  (student code may raise anything)
            return wire.encode(("raised", *self.describe(exc)))

    def store(self, value: object) -> int:
        handle = len(self.handles) + 1
        self.handles[handle] = value
        return handle

    def resolve(self, value: object) -> object:
        if type(value) is wire.Ref:
            obj = self.handles[value.handle]
            for step in value.path:
                obj = getattr(obj, step.name) if type(step) is wire.Attr else obj[step]
            return obj
        if type(value) in (list, tuple):
            return type(value)(self.resolve(v) for v in value)
        if type(value) is dict:
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def op_import(self, module: str) -> None:
        importlib.import_module(module)

    def op_put(self, value: object) -> int:
        return self.store(value)

    def op_call(self, func: object, args: list, kwargs: dict) -> int:
        if type(func) is tuple:
            _, module, qualname = func
            target = importlib.import_module(module)
            for part in qualname.split("."):
                if not hasattr(target, part):
                    path = self.module_files.get(module, module)
                    raise _Missing(f"{path} has no {qualname} (deleted or renamed?)")
                target = getattr(target, part)
        else:
            target = self.resolve(func)
        return self.store(target(*self.resolve(args), **self.resolve(kwargs)))

    def op_get(self, ref: wire.Ref, label: str) -> object:
        value = self.resolve(ref)
        wire.encode(value, where=label)  # refuses what is not plain data, naming the part
        return value

    def op_set(self, ref: wire.Ref, name: str, value: object) -> None:
        setattr(self.resolve(ref), name, self.resolve(value))

    def describe(self, exc: BaseException) -> tuple[str, str, str]:
        """Type name, message and a short traceback, robust to exceptions that misbehave."""
        name = _safe(lambda: type(exc).__qualname__)
        if isinstance(exc, SystemExit):
            name = "SystemExit"
            message = "sys.exit() was called: " + _safe(lambda: repr(exc.code))
        else:
            message = _safe(lambda: str(exc))
        return name, _clip(message), _clip(_safe(lambda: self.frames(exc)))

    def frames(self, exc: BaseException) -> str:
        prefix = self.root.rstrip("/") + "/"
        lines = []
        for frame in traceback.extract_tb(exc.__traceback__)[-6:]:
            if frame.filename.startswith(prefix):
                where = frame.filename[len(prefix) :]
                lines.append(f"  {where}, line {frame.lineno}, in {frame.name}: {frame.line}")
        if isinstance(exc, SyntaxError) and isinstance(exc.filename, str):
            lines.append(f"  {exc.filename.removeprefix(prefix)}, line {exc.lineno}")
        return "\n".join(lines)


def _safe(fn) -> str:
    try:
        text = fn()
    except BaseException:  # noqa: BLE001
        return "<could not be printed: its __str__ or __repr__ raised>"
    return text if type(text) is str else "<not a string>"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " [...]"
