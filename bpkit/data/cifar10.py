"""CIFAR-10 from its "python version" pickle batches in a local directory.

The archive ``cifar-10-python.tar.gz`` (about 170 MB, from
https://www.cs.toronto.edu/~kriz/cifar.html) unpacks to ``cifar-10-batches-py/``
holding ``data_batch_1`` to ``data_batch_5`` (10,000 training images each) and
``test_batch`` (10,000 test images). Each batch is a pickled dict whose ``b"data"``
is a uint8 array of shape (10000, 3072), one row per image with the 1,024 red, then
green, then blue values in row-major order, and whose ``b"labels"`` is a list of
ints in [0, 10).
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from bpkit import _validate
from bpkit.data import fetch
from bpkit.data._common import finish_splits, holdout_split

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
PIXELS = 3 * 32 * 32


class _ArrayClass:
    """Stands for ``numpy.ndarray`` in a pickle: only ``_reconstruct`` may use it.

    Calling ``numpy.ndarray(shape)`` directly would allocate whatever shape a file asks for.
    """


def _allowed_globals() -> dict[tuple[str, str], object]:
    # Asking numpy for its own reconstructors keeps this right on numpy 1 and 2,
    # whose pickles name the same functions under different module paths.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]

    def empty_array(cls: object, shape: object, typecode: object) -> np.ndarray:
        # numpy pickles an array as an empty one whose state (shape and bytes) is set next.
        if cls is not _ArrayClass or shape != (0,):
            raise pickle.UnpicklingError("an array must be rebuilt from ndarray, (0,)")
        return reconstruct(np.ndarray, (0,), typecode)

    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): _ArrayClass,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = empty_array
        allowed[(module, "scalar")] = scalar
    return allowed


# Opcodes that store into or read from the memo: their index must be one already possible.
_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


def _scan(raw: bytes) -> None:
    """Walk the pickle's opcodes without running them; raise ValueError if one is forged.

    The unpickler allocates what an opcode declares (a bytes object of 2**40 bytes, a memo
    of 2**32 slots) before reading it. :mod:`pickletools` reads the declared bytes from
    the file instead, so a length longer than the file, or a memo index beyond the number
    of opcodes so far, is caught here with nothing allocated.
    """
    for count, (op, arg, pos) in enumerate(pickletools.genops(io.BytesIO(raw))):
        if op.name in _MEMO_OPS and not 0 <= arg <= count:
            raise ValueError(f"memo index {arg} at byte {pos} is out of range")
        if op.name == "FRAME" and arg > len(raw) - pos:
            raise ValueError(f"a frame of {arg} bytes at byte {pos} runs past the end")


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain containers and nothing else.

    Unpickling can run arbitrary code; a CIFAR-10 batch needs only arrays, lists,
    dicts and bytes, so every other global is refused before it is imported.
    """

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only "
                "numpy arrays, lists and bytes"
            ) from None


def load_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch file.

    Parameters
    ----------
    path : str or path-like
        A file such as ``data_batch_1`` or ``test_batch``.

    Returns
    -------
    images : ndarray of shape (N, 3, 32, 32), uint8
        C = 3 colour channels (red, green, blue).
    labels : ndarray of shape (N,), int64
        Class indices in [0, 10).
    """
    path = Path(_validate.path("path", path))
    size = path.stat().st_size
    if size > _validate.MAX_FILE_BYTES:
        raise ValueError(
            f"{path}: expected a file of at most {_validate.MAX_FILE_BYTES} bytes, got {size}"
        )
    raw = path.read_bytes()
    try:
        _scan(raw)
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    # Garbage bytes can surface as almost any of these, depending on where they break.
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as err:
        raise ValueError(
            f"{path}: not a CIFAR-10 python batch (cannot unpickle: {err}); "
            "expected a pickled dict of b'data' and b'labels'"
        ) from err
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    batch = {k.encode() if isinstance(k, str) else k: v for k, v in batch.items()}
    missing = [k for k in (b"data", b"labels") if k not in batch]
    if missing:
        raise ValueError(
            f"{path}: expected keys b'data' and b'labels', missing {missing}; "
            f"found {sorted(batch, key=repr)}"
        )
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path}: expected b'data' to be a uint8 array (N, {PIXELS}), got {got}")
    if data.shape[1] != PIXELS:
        raise ValueError(
            f"{path}: expected b'data' rows of {PIXELS} = 3*32*32 values, got shape {data.shape}"
        )
    labels = _validate.file_labels(f"{path}: b'labels'", batch[b"labels"], len(data), 10)
    return data.reshape(-1, 3, 32, 32), labels


def _batch_dir(root: Path) -> tuple[Path, list[str]]:
    """Return the folder that should hold the batches and the names missing from it."""
    names = (*TRAIN_BATCHES, TEST_BATCH)
    for folder in (root, root / FOLDER):
        if all((folder / name).is_file() for name in names):
            return folder, []
    folder = root / FOLDER if (root / FOLDER).is_dir() else root
    return folder, [name for name in names if not (folder / name).is_file()]


def load_cifar10(
    root: str | os.PathLike,
    num_train: int | None = None,
    num_val: int = 1000,
    num_test: int | None = None,
    dtype: DTypeLike = np.float64,
    center: bool = True,
    flat: bool = False,
    download: bool = False,
    progress: bool = True,
) -> dict[str, object]:
    """Load CIFAR-10 from local python batches, split into train, val and test.

    The validation split is the last ``num_val`` images of the 50,000 training images;
    train is the first ``num_train`` of the rest; test the first ``num_test`` of the
    10,000 test images. Pixels are divided by 255 and, with ``center``, the per-pixel
    training mean is subtracted from every split.

    Parameters
    ----------
    root : str or path-like
        Folder holding the batch files, or holding ``cifar-10-batches-py/`` with them.
    num_train : int, optional
        Training images to keep; default all that validation leaves (49,000).
    num_val : int, default 1000
        Validation images carved from the end of the training batches.
    num_test : int, optional
        Test images to keep; default all 10,000.
    dtype : numpy floating dtype, default np.float64
        Type of the returned images. The full set in float64 takes 1.2 GB; pass
        ``np.float32`` or a smaller ``num_train`` on a small machine.
    center : bool, default True
        Subtract the per-pixel mean of the training images from every split.
    flat : bool, default False
        Return images of shape (N, D) with D = 3072 instead of (N, 3, 32, 32).
    download : bool, default False
        If the batches are missing, fetch ``cifar-10-python.tar.gz`` into ``root``,
        verify its SHA-256 and unpack it there. Nothing is fetched otherwise. The
        archive stays in ``root`` and may be deleted once unpacked.
    progress : bool, default True
        Show a progress bar while downloading.

    Returns
    -------
    dict
        ``X_train``, ``X_val``, ``X_test`` of shape (N, 3, 32, 32) (C = 3 colour
        channels) or (N, 3072) when ``flat``; ``y_train``, ``y_val``, ``y_test``
        int64 of shape (N,); ``mean`` of shape (3, 32, 32) or (3072,), the subtracted
        training mean (zeros without ``center``); ``classes``, the ten class names.

    Raises
    ------
    FileNotFoundError
        A batch file is missing and ``download`` is False.
    ValueError
        A batch file is not a CIFAR-10 python batch, or a size is out of range.

    Notes
    -----
    A raw value :math:`c \\in \\{0, \\dots, 255\\}` becomes :math:`x = c / 255 - \\mu`,
    with :math:`\\mu` the per-pixel mean of :math:`c / 255` over the kept training images.
    """
    dtype = _validate.float_dtype("dtype", dtype)
    center = _validate.boolean("center", center)
    flat = _validate.boolean("flat", flat)
    download = _validate.boolean("download", download)
    progress = _validate.boolean("progress", progress)
    root = Path(_validate.path("root", root))
    folder, missing = _batch_dir(root)
    if missing and download:
        archive = fetch.download(CIFAR10_URL, root / ARCHIVE, CIFAR10_SHA256, progress=progress)
        fetch.extract_tar(archive, root)
        folder, missing = _batch_dir(root)
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 python batches not found: expected {', '.join(missing)} in {folder} "
            f"(either in root or in root/{FOLDER}); pass download=True to fetch {CIFAR10_URL}"
        )
    parts = [load_batch(folder / name) for name in TRAIN_BATCHES]
    x_pool = np.concatenate([x for x, _ in parts])
    y_pool = np.concatenate([y for _, y in parts])
    x_test, y_test = load_batch(folder / TEST_BATCH)
    images, labels = holdout_split(x_pool, y_pool, x_test, y_test, num_train, num_val, num_test)
    return finish_splits(
        images, labels, scale=255, dtype=dtype, center=center, flat=flat, classes=CLASSES
    )
