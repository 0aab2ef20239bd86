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
import os
import pickle
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from bpkit.data import fetch
from bpkit.data._common import (
    check_bool,
    check_float_dtype,
    check_labels,
    finish_splits,
    holdout_split,
)

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


def _allowed_globals() -> dict[tuple[str, str], object]:
    # Asking numpy for its own reconstructors keeps this right on numpy 1 and 2,
    # whose pickles name the same functions under different module paths.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


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
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
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
    ) as err:
        raise ValueError(f"{path}: not a CIFAR-10 python batch (cannot unpickle: {err})") from err
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
    labels = check_labels(f"{path}: b'labels'", np.asarray(batch[b"labels"]), len(data), 10)
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
    dtype = check_float_dtype(dtype)
    center = check_bool("center", center)
    flat = check_bool("flat", flat)
    download = check_bool("download", download)
    root = Path(root)
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
