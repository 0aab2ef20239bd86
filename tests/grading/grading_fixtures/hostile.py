"""Hostile submissions: an honest edition plus one small edit that tries to beat the grader.

Every attack is written so that, if the grader's isolation failed, the submission would
score *more* than its stubs (it falls back to the honest answer, or to the reference code it
managed to read) -- so a test comparing with the stubs catches the failure -- while staying
harmless to the machine: forks are bounded and reaped, memory is reserved but barely
touched, files are written only under a temporary ``CANARY_DIR``, signals go only to the
grader process under test.

Placeholders replaced before use: ``CANARY_DIR`` (must stay empty), ``REPO_DIR`` (the
instructor's checkout), ``RESULTS_PATH`` (the results.json the grader writes).
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import grading_fixtures as fx
from bpkit.assignments.student import exercises

LAYERS, MODELS, OPTIM = (exercises.get(n).path for n in ("affine", "two_layer_net", "sgd"))
OPTIM_EXERCISES = ("sgd", "sgd_momentum", "rmsprop", "adam")
ALL_EXERCISES = tuple(ex.name for ex in exercises.EXERCISES)


@dataclass(frozen=True)
class Hostile:
    """One attack: code appended to ``module`` of an honest (or stub) hand-in.

    ``affected`` are the exercises it may cost; every other exercise must keep full marks.
    """

    name: str
    module: str
    code: str
    affected: tuple[str, ...]
    base: str = "honest"
    extra: dict[str, str] = field(default_factory=dict)


def _before_sgd(body: str) -> str:
    """Redefine ``sgd`` to run ``body`` first, then answer honestly."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    head = "_honest_sgd = sgd\n\n\ndef sgd(*args, **kwargs):\n"
    return f"{head}{lines}\n    return _honest_sgd(*args, **kwargs)\n"


def _wrap_conv(wrapper: str) -> str:
    return f"_honest_conv = conv_forward_naive\n\n\n{wrapper.strip()}\n"


CANARY = 'open(r"CANARY_DIR/{}", "w").write("this code ran")\n'
# The worker's reply descriptor: its only write-only one past stderr (the request pipe's
# end is read-only), found the way an attacker would.
REPLY_FD = (
    "def _reply_fd():\n"
    "    import fcntl, os\n"
    "    for fd in range(3, 256):\n"
    "        try:\n"
    "            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
    "                return fd\n"
    "        except OSError:\n"
    "            pass\n"
    "    raise RuntimeError('no reply descriptor')\n\n\n"
)

ATTACKS = [
    Hostile("sys.exit at import", OPTIM, "import sys as _sys\n_sys.exit(0)", OPTIM_EXERCISES),
    Hostile("os._exit at import", OPTIM, "import os as _os\n_os._exit(0)", OPTIM_EXERCISES),
    Hostile("sys.exit in a function", OPTIM, _before_sgd("import sys\nsys.exit(0)"), ("sgd",)),
    Hostile("os._exit in a function", OPTIM, _before_sgd("import os\nos._exit(0)"), ("sgd",)),
    Hostile("infinite loop", OPTIM, _before_sgd("while True:\n    pass"), ("sgd",)),
    Hostile(
        "sleep past the deadline", OPTIM, _before_sgd("import time\ntime.sleep(3600)"), ("sgd",)
    ),
    Hostile(
        "allocate 50 GB",
        OPTIM,
        # Reserved, then one byte per MiB touched: 200 MB of real memory at most.
        _before_sgd(
            "import numpy\nbig = numpy.empty(50 * 2**30, dtype=numpy.uint8)\nbig[:: 2**20] = 1"
        ),
        ("sgd",),
    ),
    Hostile(
        "fork in a loop",
        OPTIM,
        _before_sgd(
            "import os, subprocess\n"
            "for _ in range(4):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        os._exit(0)\n"
            "    os.waitpid(pid, 0)\n"
            'subprocess.run(["true"], check=True)'
        ),
        ("sgd",),
    ),
    Hostile(
        "fill the disk with files",
        OPTIM,
        _before_sgd(
            "import os, time\n"
            "os.makedirs('junk', exist_ok=True)\n"
            "for i in range(12000):\n"
            "    open(f'junk/{i}', 'w').close()\n"
            "time.sleep(3600)"
        ),
        ("sgd",),
    ),
    Hostile(
        "print 100 MB",
        OPTIM,
        _before_sgd(
            "import sys\n"
            "for _ in range(100):\n"
            '    sys.stdout.write("x" * 2**20)\n'
            'raise NotImplementedError("printed 100 MB")'
        ),
        ("sgd",),
    ),
    Hostile(
        "alarm and signal tampering",
        OPTIM,
        "import signal as _signal\n"
        "_signal.signal(_signal.SIGALRM, _signal.SIG_IGN)\n"
        "_signal.signal(_signal.SIGTERM, _signal.SIG_IGN)\n"
        "_signal.signal(_signal.SIGINT, _signal.SIG_IGN)\n"
        "_signal.alarm(0)\n"
        + _before_sgd("import signal, time\nsignal.alarm(0)\ntime.sleep(3600)"),
        ("sgd",),
    ),
    Hostile(
        "monkeypatched numpy and numpy.testing",
        LAYERS,
        "import numpy.testing as _npt\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "_npt.assert_allclose = lambda *a, **k: None\n"
        "_npt.assert_array_equal = lambda *a, **k: None\n"
        + _wrap_conv(
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _honest_conv(x, w, b, conv_param)\n"
            "    return out * 0, cache"
        ),
        ("conv_forward",),
    ),
    Hostile(
        "monkeypatched bpkit and pytest",
        LAYERS,
        "import bpkit.gradcheck as _gc\n"
        "_gc.rel_error = lambda *a, **k: 0.0\n"
        "for _name in ('pytest', 'bpkit.assignments.grading.checks',\n"
        "              'bpkit.assignments.grading.grade'):\n"
        "    try:\n"
        "        _mod = __import__(_name, fromlist=['x'])\n"
        "        _mod.approx = lambda *a, **k: a[0] if a else None\n"
        "        _mod.close = lambda *a, **k: None\n"
        "    except ImportError:\n"
        "        pass\n"
        + _wrap_conv(
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _honest_conv(x, w, b, conv_param)\n"
            "    return out + 1.0, cache"
        ),
        ("conv_forward",),
    ),
    Hostile(
        "conftest, numpy, pytest and sitecustomize files",
        OPTIM,
        "",
        ALL_EXERCISES,
        base="stub",
        extra={
            "conftest.py": CANARY.format("conftest"),
            "numpy.py": CANARY.format("numpy"),
            "pytest.py": CANARY.format("pytest"),
            "sitecustomize.py": CANARY.format("sitecustomize"),
            "usercustomize.py": CANARY.format("usercustomize"),
            "evil.pth": "import os; " + CANARY.format("pth"),
            "bpkit/numpy.py": CANARY.format("bpkit-numpy"),
            "bpkit/sitecustomize.py": CANARY.format("bpkit-sitecustomize"),
            "bpkit/conftest.py": CANARY.format("bpkit-conftest"),
        },
    ),
    Hostile(
        "ndarray subclass with a lying __eq__ around the right values",
        LAYERS,
        "class _Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(self.shape, dtype=bool)\n"
        "    def __sub__(self, other):\n"
        "        return np.zeros(self.shape)\n\n\n"
        + _wrap_conv(
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _honest_conv(x, w, b, conv_param)\n"
            "    return out.view(_Liar), cache"
        ),
        ("conv_forward",),
    ),
    Hostile(
        "float subclass with a lying __eq__ around the right loss",
        LAYERS,
        "class _LiarFloat(float):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = float.__hash__\n\n\n"
        "_honest_softmax = softmax_loss\n\n\n"
        "def softmax_loss(x, y):\n"
        "    loss, dx = _honest_softmax(x, y)\n"
        "    return _LiarFloat(loss), dx\n",
        ("softmax_loss",),
    ),
    Hostile(
        "objects with __array__ and __float__ around the right values",
        OPTIM,
        "class _Wrapped:\n"
        "    def __init__(self, value):\n"
        "        self.value = value\n"
        "    def __array__(self, dtype=None, copy=None):\n"
        "        return np.asarray(self.value, dtype=dtype)\n"
        "    def __float__(self):\n"
        "        return float(np.sum(self.value))\n"
        "    def __eq__(self, other):\n"
        "        return True\n\n\n"
        "_honest_sgd = sgd\n\n\n"
        "def sgd(w, dw, config=None):\n"
        "    next_w, config = _honest_sgd(w, dw, config)\n"
        "    return _Wrapped(next_w), config\n",
        ("sgd",),
    ),
    Hostile(
        "exception whose __str__ raises",
        OPTIM,
        "class _Nasty(Exception):\n"
        "    def __str__(self):\n"
        "        raise RuntimeError('no message for you')\n"
        "    def __repr__(self):\n"
        "        raise RuntimeError('no repr either')\n\n\n" + _before_sgd("raise _Nasty()"),
        ("sgd",),
    ),
    Hostile(
        "read the instructor's sources",
        OPTIM,
        "_honest_sgd = sgd\n\n\n"
        "def sgd(*args, **kwargs):\n"
        "    import os\n"
        "    os.listdir(os.path.join(os.getcwd(), '..'))\n"
        "    open(r'REPO_DIR/bpkit/assignments/grading/checks/__init__.py').read()\n"
        "    source = open(r'REPO_DIR/bpkit/optim.py').read()\n"
        "    namespace = {}\n"
        "    exec(compile(source, 'reference', 'exec'), namespace)\n"
        "    return namespace['sgd'](*args, **kwargs)\n",
        ALL_EXERCISES,
        base="stub",
    ),
    Hostile(
        "a syntax error in one module",
        OPTIM,
        "def sgd(w, dw, config=None:\n    return w",
        OPTIM_EXERCISES,
    ),
    Hostile("a deleted function", OPTIM, "del sgd", ("sgd",)),
    Hostile(
        "read the expected value from the caller's frames",
        OPTIM,
        "_honest_sgd = sgd\n\n\n"
        "def sgd(w, dw, config=None):\n"
        "    import sys\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for key in ('expected', 'ours', 'reference'):\n"
        "            if key in frame.f_locals:\n"
        "                return frame.f_locals[key], config or {}\n"
        "        frame = frame.f_back\n"
        "    return w, config or {}\n",
        ("sgd",),
    ),
    Hostile(
        "kill the parent process",
        OPTIM,
        # The parent is the fork server; had this worked, the run would have stopped.
        _before_sgd("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
        ("sgd",),
    ),
    Hostile(
        "the fork server's socket found on the stack",
        OPTIM,
        # The worker was forked inside the server's request loop, whose frames are still
        # below its own; a socket there, if usable, could ask the server for anything.
        _before_sgd(
            "import socket, sys\n"
            "found, sent, frame = {}, 0, sys._getframe()\n"
            "while frame is not None:\n"
            "    for v in frame.f_locals.values():\n"
            "        if isinstance(v, socket.socket):\n"
            "            found[id(v)] = v\n"
            "    frame = frame.f_back\n"
            "for sock in found.values():\n"
            "    try:\n"
            "        sent += sock.send(b'x')\n"
            "    except OSError:\n"
            "        pass\n"
            "if not sent:\n"
            "    raise PermissionError(f'{len(found)} socket(s) found, none usable')"
        ),
        ("sgd",),
    ),
    Hostile(
        "a malformed wire reply written at import",
        OPTIM,
        # An array header of shape (0, 2**63) on the reply descriptor, read by the grader
        # as the answer to its import request.
        REPLY_FD + "import os as _os, struct as _struct\n"
        "_payload = b'A' + _struct.pack('<B3sB2Q', 3, b'<f8', 2, 0, 2**63)\n"
        "_os.write(_reply_fd(), _struct.pack('<Q', len(_payload)) + _payload)\n",
        OPTIM_EXERCISES,
    ),
    Hostile(
        "folders created and deleted while the disk is watched",
        OPTIM,
        # Until the deadline, in sgd (one exercise's deadline, not four at import): the
        # grader walks the copy every tenth of a second and each walk likely meets a
        # folder that vanished between listing and reading.
        _before_sgd(
            "import os, shutil\n"
            "while True:\n"
            "    for i in range(500):\n"
            "        os.makedirs(f'churn/{i}/a', exist_ok=True)\n"
            "    shutil.rmtree('churn', ignore_errors=True)"
        ),
        ("sgd",),
    ),
    Hostile(
        "forge the worker's replies",
        OPTIM,
        "import sys as _sys\n"
        "for _name, _mod in list(_sys.modules.items()):\n"
        "    if _name.endswith('worker') and hasattr(_mod, '_Server'):\n"
        "        _wire = _sys.modules[_name.rsplit('.', 1)[0] + '.wire']\n"
        "        _mod._Server.answer = lambda self, request: _wire.encode(('ok', 1.0))\n",
        OPTIM_EXERCISES,
    ),
]


# Attacks on the grader's limits. Disk space is taken by writing 60 MiB at a time; forged
# replies go straight to the reply descriptor (see REPLY_FD); an attempt that the
# sandbox should refuse answers honestly if it is allowed, so that a hole scores more than
# the stubs; nothing is ever signalled, and a priority or scheduling setting is only ever
# written back unchanged.
_RESERVE = (
    "def _reserve(name):\n"
    "    import os\n"
    "    fd = os.open(name, os.O_CREAT | os.O_RDWR, 0o600)\n"
    "    os.write(fd, bytes(60 * 2**20))\n"
    "    return fd\n\n\n"
)
_FORGE = REPLY_FD + (
    "def _forge(payload):\n"
    "    import os, struct\n"
    "    os.write(_reply_fd(), struct.pack('<Q', len(payload)) + payload)\n\n\n"
)
_ALL_REFUSED = (
    "blocked = []\n"
    "for attempt in attempts:\n"
    "    try:\n"
    "        attempt()\n"
    "    except PermissionError:\n"
    "        blocked.append(attempt)\n"
    "if len(blocked) == len(attempts):\n"
    "    raise PermissionError(f'all {len(attempts)} attempts refused')"
)
LIMIT_ATTACKS = [
    Hostile(
        "fast disk writes",
        OPTIM,
        # 5 x 60 MiB in one quick call: each file under the 64 MiB file limit, together
        # over the 256 MiB disk limit; the check after the reply sees it at the latest.
        _RESERVE + _before_sgd("import os\nfor i in range(5):\n    os.close(_reserve(f'big{i}'))"),
        ("sgd",),
    ),
    Hostile(
        "deleted files held open",
        OPTIM,
        _RESERVE
        + "_held = []\n\n\n"
        + _before_sgd(
            "import os\nfor i in range(5):\n    _held.append(_reserve(f'gone{i}'))\n"
            "    os.unlink(f'gone{i}')"
        ),
        ("sgd",),
    ),
    Hostile(
        "a forged huge reply",
        OPTIM,
        # Announces 200 MiB: refused from the header (a grader reading it would wait).
        REPLY_FD
        + _before_sgd("import os, struct\nos.write(_reply_fd(), struct.pack('<Q', 200 * 2**20))"),
        ("sgd",),
    ),
    Hostile(
        "a forged huge error reply",
        OPTIM,
        # An error reply with 4 MB texts, past the worker's own clipping.
        _FORGE
        + _before_sgd(
            "import struct\n"
            "text = b'x' * 4_000_000\n"
            "part = b'S' + struct.pack('<I', len(text)) + text\n"
            "head = b'U\\x04\\x00\\x00\\x00S\\x06\\x00\\x00\\x00raised'\n"
            "_forge(head + b'S\\x0b\\x00\\x00\\x00ForgedError' + part * 2)"
        ),
        ("sgd",),
    ),
    Hostile(
        "a deeply nested reply",
        OPTIM,
        _FORGE + _before_sgd("_forge(b'L\\x01\\x00\\x00\\x00' * 100_000 + b'N')"),
        ("sgd",),
    ),
    Hostile(
        "F_SETOWN and F_SETSIG",
        OPTIM,
        _before_sgd(
            "import fcntl, os, signal, struct\n"
            "r, w = os.pipe()\n"
            "parent = os.getppid()\n"
            "attempts = [\n"
            "    lambda: fcntl.fcntl(r, fcntl.F_SETOWN, parent),\n"
            "    lambda: fcntl.fcntl(r, 15, struct.pack('ii', 1, parent)),  # F_SETOWN_EX\n"
            "    lambda: fcntl.fcntl(r, 10, signal.SIGKILL),  # F_SETSIG\n"
            "    lambda: fcntl.ioctl(r, 0x8901, struct.pack('i', parent)),  # FIOSETOWN\n"
            "]\n" + _ALL_REFUSED
        ),
        ("sgd",),
    ),
    Hostile(
        "setpriority on the grader",
        OPTIM,
        _before_sgd(
            "import os\n"
            "parent = os.getppid()\n"
            "nice = os.getpriority(os.PRIO_PROCESS, parent)\n"
            "attempts = [\n"
            "    lambda: os.setpriority(os.PRIO_PROCESS, parent, nice),\n"
            "    lambda: os.setpriority(os.PRIO_PGRP, 4_000_000, 19),\n"
            "    lambda: os.setpriority(os.PRIO_USER, 4_000_000, 19),\n"
            "]\n" + _ALL_REFUSED
        ),
        ("sgd",),
    ),
    Hostile(
        "sched_* on the grader",
        OPTIM,
        _before_sgd(
            "import ctypes, os\n"
            "parent = os.getppid()\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "policy, param = os.sched_getscheduler(parent), os.sched_getparam(parent)\n"
            "cpus, ioprio = os.sched_getaffinity(parent), libc.syscall(252, 1, parent)\n\n"
            "def syscall(*args):\n"
            "    if libc.syscall(*args) < 0:\n"
            "        raise OSError(ctypes.get_errno(), 'refused')\n\n"
            "attempts = [\n"
            "    lambda: os.sched_setaffinity(parent, cpus),\n"
            "    lambda: os.sched_setscheduler(parent, policy, param),\n"
            "    lambda: os.sched_setparam(parent, param),\n"
            "    lambda: syscall(314, 4_000_000, ctypes.create_string_buffer(56), 0),  # setattr\n"
            "    lambda: syscall(251, 1, parent, ioprio),  # ioprio_set\n"
            "]\n" + _ALL_REFUSED
        ),
        ("sgd",),
    ),
]
ATTACKS += LIMIT_ATTACKS

FORGE_RESULTS = Hostile(
    "write results.json and files elsewhere",
    OPTIM,
    "import atexit as _atexit, json as _json\n\n\n"
    "def _forge():\n"
    "    for path in (r'RESULTS_PATH', r'CANARY_DIR/written'):\n"
    "        try:\n"
    "            with open(path, 'w') as fh:\n"
    "                _json.dump({'score': 100, 'tests': []}, fh)\n"
    "        except OSError:\n"
    "            pass\n\n\n"
    "_forge()\n"
    "_atexit.register(_forge)\n",
    ALL_EXERCISES,
    base="stub",
)


def slug(name: str) -> str:
    """An attack's name as a submission folder name (and CSV row)."""
    return re.sub(r"\W+", "-", name).strip("-")


def build(attack: Hostile, editions: dict, root: Path, canary: Path, results: Path) -> Path:
    """The submission folder of one attack, placeholders filled in."""
    dest = fx.copy_submission(editions[attack.base], root / slug(attack.name))

    def fill(text: str) -> str:
        for token, value in (
            ("CANARY_DIR", canary),
            ("REPO_DIR", fx.REPO),
            ("RESULTS_PATH", results),
        ):
            text = text.replace(token, str(value))
        return text

    if attack.code:
        fx.append(dest / attack.module, fill(attack.code))
    for rel, text in attack.extra.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(fill(text))
    return dest


def batch(editions: dict, root: Path) -> tuple[list[Path], Path]:
    """The honest edition, the bare stubs and every attack as submissions under ``root``.

    Returns the submission folders and the canary folder, which must stay empty.
    """
    canary = root / "canary"
    canary.mkdir(parents=True)
    subs = [fx.copy_submission(editions["honest"], root / "honest")]
    subs.append(fx.copy_submission(editions["stub"], root / "stubs"))
    subs += [build(a, editions, root, canary, root / "nowhere.json") for a in ATTACKS]
    return subs, canary


# ---------------------------------------------------------------- attacks on the batch itself
# Each of these aims at the run rather than at a score: if it worked, the grader would stop,
# lose the other submissions' results or write a broken report.
DEEP_TREE = 5000

ATTACKS += [
    Hostile(
        "a 5000-deep chain of folders left for the cleanup",
        OPTIM,
        # Deeper than the recursion limit of a recursive removal, and than PATH_MAX can name.
        _before_sgd(
            "import os\n"
            "if not os.path.exists('deep'):\n"
            "    top = os.open('.', os.O_RDONLY)\n"
            "    fd = os.dup(top)\n"
            f"    for _ in range({DEEP_TREE}):\n"
            "        os.mkdir('deep', dir_fd=fd)\n"
            "        child = os.open('deep', os.O_RDONLY, dir_fd=fd)\n"
            "        os.close(fd)\n"
            "        fd = child\n"
            "    os.close(fd)\n"
            "    os.close(top)\n"
            "raise RuntimeError('left a deep tree')"
        ),
        ("sgd",),
    ),
    Hostile(
        "terminal escapes in an exception message",
        OPTIM,
        # Clear the screen, print a fake full score, write the clipboard, ring the bell.
        _before_sgd(
            "raise ValueError('\\x1b[2J\\x1b[Htotal 110 110\\n\\x1b]52;c;ZWNobyBoaQ==\\x07"
            "\\u202edone')"
        ),
        ("sgd",),
    ),
]


@dataclass(frozen=True)
class Handin:
    """A submission whose form (name, zip) attacks the batch, built by ``make(root, editions)``.

    ``lost`` exercises must score no more than the stubs, ``kept`` ones as much as the
    honest edition; ``words`` must appear in its table.
    """

    name: str
    make: object
    lost: tuple[str, ...]
    kept: tuple[str, ...]
    words: str


def _module_zip(dest: Path, edition: Path, compression: int) -> Path:
    with zipfile.ZipFile(dest, "w", compression) as zf:
        for rel in fx.MODULES:
            zf.write(edition / rel, rel)
    return dest


def _damaged(dest: Path, edition: Path, compression: int, garbage: bytes, skip: int) -> Path:
    """A zip whose ``bpkit/optim.py`` data is overwritten (after ``skip`` bytes) by garbage."""
    _module_zip(dest, edition, compression)
    with zipfile.ZipFile(dest) as zf:
        info = zf.getinfo(OPTIM)
    data = bytearray(dest.read_bytes())
    name_len, extra_len = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len + skip
    end = info.header_offset + 30 + name_len + extra_len + info.compress_size
    data[start:end] = (garbage * (end - start))[: end - start]
    dest.write_bytes(bytes(data))
    return dest


def _bad_deflate(root: Path, editions: dict) -> Path:
    # 0xff starts a deflate block of the reserved type 3: zlib.error.
    return _damaged(root / "bad-deflate.zip", editions["honest"], zipfile.ZIP_DEFLATED, b"\xff", 0)


def _bad_lzma(root: Path, editions: dict) -> Path:
    # Keep the 4-byte zip LZMA header and the 5 property bytes, garble the stream.
    return _damaged(root / "bad-lzma.zip", editions["honest"], zipfile.ZIP_LZMA, b"\xff\x00", 9)


def _bad_utf8_name(root: Path, editions: dict) -> Path:
    dest = _module_zip(root / "bad-name.zip", editions["honest"], zipfile.ZIP_STORED)
    with zipfile.ZipFile(dest, "a") as zf:
        zf.writestr("bpkit/\u00e9.py", b"# flagged UTF-8 by zipfile\n")
    # Same length, still flagged UTF-8, no longer UTF-8.
    dest.write_bytes(dest.read_bytes().replace("\u00e9".encode(), b"\xff\xfe"))
    return dest


NOT_UTF8 = "caf\udce9"  # the folder b"caf\xe9", as os.fsdecode gives it
ESCAPES_IN_NAME = "evil\x1b[2J\x1b[H\ntotal 110 110\x07"


def _named(name: str):
    def make(root: Path, editions: dict) -> Path:
        return fx.copy_submission(editions["honest"], root / name)

    return make


def _sleeper(root: Path, editions: dict) -> Path:
    dest = fx.copy_submission(editions["honest"], root / "sleeps-under-the-deadline")
    for name in OPTIM_EXERCISES:
        fx.wrap(dest / OPTIM, name, f"import time\ntime.sleep({SLEEP})")
    return dest


# The second batch grades these exercises only, with these limits: every call of the
# sleeper ends just inside the per-call timeout; SUBMISSION_BUDGET cuts it off. Each optim
# check calls its function at least once, so the sleeper needs at least 8 * SLEEP seconds
# for the 8 optim checks; by the budget at most 5 calls have ended, so adam (calls 7 and 8)
# is never reached, however fast the machine.
HANDIN_EXERCISES = ("affine", *OPTIM_EXERCISES)
CALL_TIMEOUT, SLEEP, SUBMISSION_BUDGET = 3.0, 2.9, 15.0

HANDINS = [
    Handin(
        "bad-deflate.zip",
        _bad_deflate,
        HANDIN_EXERCISES,
        (),
        "could not be read as a zip file (error: Error -3 while decompressing data",
    ),
    Handin("bad-lzma.zip", _bad_lzma, HANDIN_EXERCISES, (), "(LZMAError:"),
    Handin("bad-name.zip", _bad_utf8_name, HANDIN_EXERCISES, (), "(UnicodeDecodeError:"),
    Handin(NOT_UTF8, _named(NOT_UTF8), (), HANDIN_EXERCISES, "submission: caf\\xe9"),
    Handin(
        ESCAPES_IN_NAME,
        _named(ESCAPES_IN_NAME),
        (),
        HANDIN_EXERCISES,
        "submission: evil\\x1b[2J\\x1b[H\\ntotal 110 110\\x07",
    ),
    Handin(
        "sleeps-under-the-deadline",
        _sleeper,
        ("adam",),
        ("affine",),
        f"used up its {SUBMISSION_BUDGET:g} s budget",
    ),
]


def handin_batch(editions: dict, root: Path) -> list[Path]:
    """The honest edition, the bare stubs and every :data:`HANDINS` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    subs = [fx.copy_submission(editions["honest"], root / "honest")]
    subs.append(fx.copy_submission(editions["stub"], root / "stubs"))
    return subs + [h.make(root, editions) for h in HANDINS]
