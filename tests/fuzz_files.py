"""Fuzz targets of tests/test_fuzz.py for bpkit.data: loaders fed files written here.

Truncated files, wrong magic numbers, headers declaring huge sizes, gzip bombs, pickles
that forge lengths or memo indices or try to run code, and the usual wrong-kind
arguments. The files live in one temporary folder, removed when the process ends.
"""

from __future__ import annotations

import atexit
import gzip
import pickle
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
from fuzzing import ERROR, SAME, Target, Variant, counts, flags, reals

from bpkit.data import cifar10, download, load_cifar10, load_digits, load_mnist, read_idx, sha256sum

WORKDIR = Path(tempfile.mkdtemp(prefix="bpkit-fuzz-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)


def _idx(array, code=8):
    shape = struct.pack(f">{array.ndim}I", *array.shape)
    return bytes([0, 0, code, array.ndim]) + shape + array.astype(">u1").tobytes()


def _file(name, content):
    path = WORKDIR / name
    path.write_bytes(content)
    return path


def _gzip_bomb(header):
    """An IDX header followed by 8 MB of zeros that gzip packs into about 8 KB (made once)."""
    path = WORKDIR / f"bomb-{header.hex()}.gz"
    if not path.exists():
        with gzip.open(path, "wb") as f:
            f.write(header)
            f.write(bytes(8 << 20))
    return path


def _idx_variants():
    good = _idx(np.arange(48, dtype=np.uint8).reshape(3, 4, 4))
    huge = bytes([0, 0, 8, 4]) + struct.pack(">4I", *(2**32 - 1,) * 4)
    return [
        Variant("gzip", lambda p, k: _file("good.gz", gzip.compress(p.read_bytes())), SAME),
        Variant("str path", lambda p, k: str(p), SAME),
        Variant("truncated", lambda p, k: _file("cut", good[:-1]), ERROR),
        Variant("trailing byte", lambda p, k: _file("long", good + b"\0"), ERROR),
        Variant("empty", lambda p, k: _file("empty", b""), ERROR),
        Variant("wrong magic", lambda p, k: _file("magic", b"\1\2" + good[2:]), ERROR),
        Variant("type code", lambda p, k: _file("code", b"\0\0\7" + good[3:]), ERROR),
        Variant("0 dimensions", lambda p, k: _file("ndim0", b"\0\0\x08\0"), ERROR),
        Variant("huge dimensions", lambda p, k: _file("huge", huge), ERROR),
        Variant("huge dims gzip", lambda p, k: _file("huge.gz", gzip.compress(huge)), ERROR),
        Variant("gzip bomb", lambda p, k: _gzip_bomb(good), ERROR),
        Variant(
            "gzip bomb, header 2**30",
            lambda p, k: _gzip_bomb(bytes([0, 0, 8, 1]) + struct.pack(">I", 2**30 - 1)),
            ERROR,
        ),
        Variant("corrupt gzip", lambda p, k: _file("bad.gz", gzip.compress(good)[:-12]), ERROR),
        Variant("None", lambda p, k: None, ERROR),
        Variant("int", lambda p, k: 3, ERROR),
        Variant("missing", lambda p, k: WORKDIR / "no-such-file", ERROR, errors=(OSError,)),
    ]


def _batch_bytes(data, labels_, protocol=2):
    return pickle.dumps({b"data": data, b"labels": labels_}, protocol=protocol)


class _Boom:
    def __reduce__(self):
        return (print, ("a pickle ran code",))


def _cifar_variants():
    data = np.arange(4 * 3072, dtype=np.uint8).reshape(4, 3072)
    labels_ = [0, 1, 2, 3]
    memo = b"\x80\x02]r" + struct.pack("<I", 2**32 - 1) + b"."
    bytes8 = b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc."
    ndarray_call = b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x40\x85\x85R."
    return [
        Variant("protocol 4", lambda p, k: _file("p4", _batch_bytes(data, labels_, 4)), SAME),
        Variant(
            "numpy labels", lambda p, k: _file("nl", _batch_bytes(data, np.array(labels_))), SAME
        ),
        Variant("garbage", lambda p, k: _file("garbage", b"\0\1 not a pickle"), ERROR),
        Variant("empty", lambda p, k: _file("empty", b""), ERROR),
        Variant("truncated", lambda p, k: _file("cut", p.read_bytes()[:-40]), ERROR),
        Variant("a list", lambda p, k: _file("list", pickle.dumps([1, 2])), ERROR),
        Variant("no labels", lambda p, k: _file("nolab", pickle.dumps({b"data": data})), ERROR),
        Variant("float data", lambda p, k: _file("fd", _batch_bytes(data * 1.0, labels_)), ERROR),
        Variant("label 10", lambda p, k: _file("l10", _batch_bytes(data, [0, 1, 2, 10])), ERROR),
        Variant(
            "ragged labels", lambda p, k: _file("rl", _batch_bytes(data, [[0], [1, 2]])), ERROR
        ),
        Variant("labels None", lambda p, k: _file("ln", _batch_bytes(data, None)), ERROR),
        Variant("runs code", lambda p, k: _file("boom", pickle.dumps({b"data": _Boom()})), ERROR),
        Variant("huge bytes8", lambda p, k: _file("b8", bytes8), ERROR),
        Variant("huge memo index", lambda p, k: _file("memo", memo), ERROR),
        Variant("ndarray call", lambda p, k: _file("nd", ndarray_call), ERROR),
        Variant(
            "deep nesting", lambda p, k: _file("deep", b"\x80\x02" + b"]" * 50000 + b"."), ERROR
        ),
        Variant("None", lambda p, k: None, ERROR),
        Variant("missing", lambda p, k: WORKDIR / "nothing", ERROR, errors=(OSError,)),
    ]


def _idx_make(rng):
    return {"path": _file("good", _idx(np.arange(48, dtype=np.uint8).reshape(3, 4, 4)))}


def _cifar_make(rng):
    data = np.arange(4 * 3072, dtype=np.uint8).reshape(4, 3072)
    return {"path": _file("batch", _batch_bytes(data, [0, 1, 2, 3]))}


def _mnist_root(rng):
    root = WORKDIR / "mnist"
    root.mkdir(exist_ok=True)
    for prefix, n in (("train", 12), ("t10k", 4)):
        images = np.arange(n * 784, dtype=np.uint8).reshape(n, 28, 28)
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(images))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.arange(n, dtype=np.uint8) % 10))
    return {
        "root": root,
        "num_train": 5,
        "num_val": 3,
        "num_test": None,
        "dtype": np.float64,
        "center": True,
        "flat": False,
    }


def _cifar_root(rng):
    root = WORKDIR / "cifar"
    root.mkdir(exist_ok=True)
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for name in (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH):
        (root / name).write_bytes(_batch_bytes(data, [3, 4]))
    return {
        "root": root,
        "num_train": 5,
        "num_val": 3,
        "num_test": None,
        "dtype": np.float32,
        "center": True,
        "flat": True,
    }


DTYPES = [
    Variant("str", lambda d, k: np.dtype(d).name, SAME),
    Variant("int", lambda d, k: np.int64, ERROR),
    Variant("complex", lambda d, k: np.complex64, ERROR),
    Variant("nonsense", lambda d, k: "floaty", ERROR),
    Variant("number", lambda d, k: 2.5, ERROR),
]
ROOT = [
    Variant("str", lambda r, k: str(r), SAME),
    Variant("None", lambda r, k: None, ERROR),
    Variant("int", lambda r, k: 7, ERROR),
    Variant("missing", lambda r, k: r / "nothing", ERROR, errors=(OSError,)),
]
LOADER_ARGS = {
    "root": (("root", "MNIST", "CIFAR-10"), ROOT),
    "num_train": (("num_train",), counts(low=0, huge=10**9, none_valid=True)),
    "num_val": (("num_val",), counts(low=0, huge=10**9)),
    "num_test": (("num_test",), counts(low=0, huge=10**9, none_valid=True, base=2)),
    "dtype": (("dtype",), DTYPES),
    "center": (("center",), flags()),
    "flat": (("flat",), flags()),
}

DATA_TARGETS = [
    Target(
        "load_digits",
        load_digits,
        lambda rng: {"flat": False, "dtype": np.float64, "center": True},
        {
            "flat": (("flat",), flags()),
            "dtype": (("dtype",), DTYPES),
            "center": (("center",), flags()),
        },
    ),
    Target("read_idx", read_idx, _idx_make, {"path": (("path", str(WORKDIR)), _idx_variants())}),
    Target(
        "load_batch",
        cifar10.load_batch,
        _cifar_make,
        {"path": (("path", str(WORKDIR)), _cifar_variants())},
    ),
    Target("load_mnist", load_mnist, _mnist_root, LOADER_ARGS),
    Target("load_cifar10", load_cifar10, _cifar_root, LOADER_ARGS),
    Target(
        "sha256sum",
        sha256sum,
        _idx_make,
        {"path": (("path", str(WORKDIR)), [v for v in ROOT if v.label != "str"])},
    ),
    Target(
        "download",
        lambda **k: download(**k).read_bytes(),
        lambda rng: {
            "url": _idx_make(rng)["path"].as_uri(),
            "dest": WORKDIR / "fetched",
            "sha256": sha256sum(_idx_make(rng)["path"]),
            "progress": False,
            "timeout": 5.0,
        },
        {
            "url": (
                ("url",),
                [Variant("None", lambda u, k: None, ERROR), Variant("int", lambda u, k: 3, ERROR)],
            ),
            "dest": (
                ("dest",),
                [
                    Variant("None", lambda u, k: None, ERROR),
                    Variant("str", lambda u, k: str(u), SAME),
                ],
            ),
            "sha256": (
                ("sha256",),
                [
                    Variant("upper case", lambda s, k: s.upper(), SAME),
                    Variant("short", lambda s, k: s[:10], ERROR),
                    Variant("None", lambda s, k: None, ERROR),
                    Variant("not hex", lambda s, k: "z" * 64, ERROR),
                ],
            ),
            "progress": (("progress",), flags()[1:]),
            "timeout": (("timeout",), reals(low_bad=(0.0, -1.0))),
        },
    ),
]
