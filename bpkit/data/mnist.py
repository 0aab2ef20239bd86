"""MNIST from its IDX files in a local directory, parsed with numpy alone.

An IDX file is a big-endian header followed by raw values. The header's first four
bytes are the magic number: two zero bytes, a type code (0x08 for unsigned bytes)
and the number of dimensions; then one 32-bit size per dimension. MNIST images are
``0x00000803`` (2051: unsigned bytes, 3-d, N x 28 x 28) and labels ``0x00000801``
(2049: unsigned bytes, 1-d, N). The four files may be plain or gzip-compressed.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import DTypeLike

from bpkit import _validate
from bpkit.data import fetch
from bpkit.data._common import finish_splits, holdout_split

# Byte-identical copies of the original files; the checksums below hold for all.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of the gzip-compressed files.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
GZIP_MAGIC = b"\x1f\x8b"
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
CLASSES = tuple(str(d) for d in range(10))
# Deflate's best ratio is about 1032:1 (258-byte matches coded in 2 bits).
MAX_DEFLATE_RATIO = 1100

# IDX type code -> big-endian numpy type.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(raw: bytes, source: str = "<bytes>") -> tuple[int, np.ndarray]:
    """Parse the bytes of an IDX file.

    Parameters
    ----------
    raw : bytes
        The whole (decompressed) file.
    source : str
        Where the bytes came from, for error messages.

    Returns
    -------
    magic : int
        The header's first four bytes as a big-endian integer.
    array : ndarray
        Native-byte-order values with the shape the header gives.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"raw: expected bytes, got {_validate.describe(raw)}")
    return _parse(io.BytesIO(raw), source, len(raw))


def _parse(
    stream: BinaryIO, source: str, size: int | None, most: int | None = None
) -> tuple[int, np.ndarray]:
    """Parse an IDX file from ``stream``, reading no more than its header declares.

    ``size`` is the file's length when known (plain files): the declared data size is
    compared with it before any data is read. Without it (gzip), the data is read in
    chunks and the stream must end right after it; ``most`` then bounds the declared size
    (what the compressed file could possibly inflate to).
    """
    head = stream.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{source}: not an IDX file: expected a magic number starting with two zero "
            f"bytes, got {head.hex() or 'an empty file'}"
        )
    magic = int.from_bytes(head, "big")
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        raise ValueError(
            f"{source}: unknown IDX type code 0x{code:02x} in magic number {magic}; "
            f"expected one of {', '.join(f'0x{c:02x}' for c in IDX_TYPES)}"
        )
    dims = stream.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        got = 4 + len(dims) if size is None else size
        raise ValueError(
            f"{source}: truncated IDX header: expected {ndim} dimension sizes after the "
            f"magic number, got a {got}-byte file"
        )
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(dims[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
    dtype = IDX_TYPES[code]
    # Python integers: a product of four 32-bit sizes never overflows.
    expected = math.prod(shape) * dtype.itemsize
    if size is not None and size - header != expected:
        raise ValueError(
            f"{source}: expected {expected} bytes of data for shape {shape}, got {size - header}"
        )
    limit = min(_validate.MAX_FILE_BYTES, most if most is not None else expected)
    if expected > limit:
        raise ValueError(
            f"{source}: expected at most {limit} bytes of data, "
            f"got a header declaring {expected} for shape {shape}"
        )
    data = bytearray()
    while len(data) < expected:
        chunk = stream.read(min(fetch.CHUNK_BYTES, expected - len(data)))
        if not chunk:
            break
        data += chunk
    extra = len(stream.read(fetch.CHUNK_BYTES)) if len(data) == expected else 0
    if len(data) != expected or extra:
        more = " or more" if extra == fetch.CHUNK_BYTES else ""
        raise ValueError(
            f"{source}: expected {expected} bytes of data for shape {shape}, "
            f"got {len(data) + extra}{more}"
        )
    array = np.frombuffer(data, dtype).astype(dtype.newbyteorder("="), copy=False)
    return magic, array.reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed (recognised by its content, not its name).

    A gzip file is inflated as a stream, never past the size its IDX header declares.

    Returns
    -------
    ndarray
        The values, shaped by the header, e.g. (N, 28, 28) uint8 for MNIST images.
    """
    _validate.path("path", path)
    return _read(Path(path))[1]


def _read(path: Path) -> tuple[int, np.ndarray]:
    size = path.stat().st_size
    if size > _validate.MAX_FILE_BYTES:
        raise ValueError(
            f"{path}: expected a file of at most {_validate.MAX_FILE_BYTES} bytes, got {size}"
        )
    with open(path, "rb") as f:
        if f.read(2) != GZIP_MAGIC:
            f.seek(0)
            return _parse(f, str(path), size)
        f.seek(0)
        try:
            with gzip.GzipFile(fileobj=f) as stream:
                # Deflate shrinks data at most about 1032:1: a header declaring more
                # than that is forged, and is refused before anything is inflated.
                return _parse(stream, str(path), None, MAX_DEFLATE_RATIO * size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise ValueError(
                f"{path}: corrupt or truncated gzip file ({err}); expected a whole gzip file"
            ) from err


def _locate(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_checked(root: Path, name: str, magic: int, what: str) -> np.ndarray:
    path = _locate(root, name)
    if path is None:
        raise FileNotFoundError(
            f"MNIST {what} not found: expected {root / name} or {root / name}.gz "
            f"(IDX, magic number {magic}); pass download=True to fetch it"
        )
    got, array = _read(path)
    if got != magic:
        raise ValueError(
            f"{path}: expected MNIST {what} with IDX magic number {magic} "
            f"(0x{magic:08x}), got {got} (0x{got:08x})"
        )
    return array


def load_mnist(
    root: str | os.PathLike,
    num_train: int | None = None,
    num_val: int = 5000,
    num_test: int | None = None,
    dtype: DTypeLike = np.float64,
    center: bool = True,
    flat: bool = False,
    download: bool = False,
    progress: bool = True,
) -> dict[str, object]:
    """Load MNIST from local IDX files, split into train, val and test.

    ``root`` must hold ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or with a
    ``.gz`` suffix. The validation split is the last ``num_val`` of the 60,000 training
    images; train is the first ``num_train`` of the rest; test the first ``num_test``
    of the 10,000 test images. Pixels are divided by 255 and, with ``center``, the
    per-pixel training mean is subtracted from every split.

    Parameters
    ----------
    root : str or path-like
        Folder holding the four files.
    num_train : int, optional
        Training images to keep; default all that validation leaves (55,000).
    num_val : int, default 5000
        Validation images carved from the end of the training file.
    num_test : int, optional
        Test images to keep; default all 10,000.
    dtype : numpy floating dtype, default np.float64
        Type of the returned images.
    center : bool, default True
        Subtract the per-pixel mean of the training images from every split.
    flat : bool, default False
        Return images of shape (N, D) with D = 784 instead of (N, 1, 28, 28).
    download : bool, default False
        Fetch each missing file (gzip) into ``root`` from a public mirror and verify
        its SHA-256. Nothing is fetched otherwise.
    progress : bool, default True
        Show a progress bar while downloading.

    Returns
    -------
    dict
        ``X_train``, ``X_val``, ``X_test`` of shape (N, 1, 28, 28) or (N, 784) when
        ``flat``; ``y_train``, ``y_val``, ``y_test`` int64 of shape (N,); ``mean`` of
        shape (1, 28, 28) or (784,), the subtracted training mean (zeros without
        ``center``); ``classes``, the names ``("0", ..., "9")``.

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download`` is False.
    ValueError
        A file is not a valid IDX file of the expected kind, the image and label
        counts disagree, or a size is out of range.

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
    if download:
        for name, sha256 in MNIST_SHA256.items():
            if _locate(root, name) is None:
                urls = [f"{mirror}{name}.gz" for mirror in MNIST_MIRRORS]
                fetch.download_first(urls, root / f"{name}.gz", sha256, progress=progress)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _read_checked(root, f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC, "images")
        labels = _read_checked(root, f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC, "labels")
        where = f"{root / prefix}-labels-idx1-ubyte"
        arrays[split] = (images[:, None], _validate.file_labels(where, labels, len(images), 10))
    (x_pool, y_pool), (x_test, y_test) = arrays["train"], arrays["test"]
    if x_pool.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"{root}: expected train and test images of one size, got "
            f"{x_pool.shape[2:]} and {x_test.shape[2:]}"
        )
    images, labels = holdout_split(x_pool, y_pool, x_test, y_test, num_train, num_val, num_test)
    return finish_splits(
        images, labels, scale=255, dtype=dtype, center=center, flat=flat, classes=CLASSES
    )
