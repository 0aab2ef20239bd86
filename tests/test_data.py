"""Tests for bpkit.data: the packaged digits, the CIFAR-10 and MNIST readers, downloads.

CIFAR-10 and MNIST are exercised on tiny files written here in the real formats, and
downloads on ``file://`` URLs, so no test needs the real data sets or a network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpkit.data.digits as digits_source
from bpkit.data import cifar10, download, load_cifar10, load_digits, load_mnist, mnist, read_idx
from bpkit.data._common import stratified_split
from bpkit.data.fetch import extract_tar, sha256sum


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Make any attempt to open a network connection fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to use the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_network_guard_is_active():
    """Every test here runs under no_network, so passing tests prove no network was used."""
    import urllib.request

    with pytest.raises(AssertionError, match="tried to use the network"):
        urllib.request.urlopen("http://example.com/", timeout=1)


# ----------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def raw_digits():
    return load_digits(center=False)


def test_digits_split_sizes_and_shapes(digits):
    sizes = {"train": 1197, "val": 300, "test": 300}
    for split, n in sizes.items():
        assert digits[f"X_{split}"].shape == (n, 1, 8, 8), split
        assert digits[f"X_{split}"].dtype == np.float64, split
        assert digits[f"y_{split}"].shape == (n,), split
        assert digits[f"y_{split}"].dtype == np.int64, split
    assert sum(sizes.values()) == 1797
    assert digits["mean"].shape == (1, 8, 8)
    assert digits["classes"] == tuple("0123456789")


def test_digits_splits_partition_the_data_set(raw_digits):
    """Train, val and test together hold every one of the 1,797 samples exactly once."""
    with np.load(Path(digits_source.__file__).with_name("digits.npz")) as npz:
        images, labels = npz["images"], npz["labels"]

    def rows(x, y):
        counts = np.rint(x.reshape(len(x), -1) * 16).astype(np.uint8)
        return sorted(c.tobytes() + bytes([int(k)]) for c, k in zip(counts, y, strict=True))

    combined = np.concatenate([raw_digits[f"X_{s}"] for s in ("train", "val", "test")])
    combined_y = np.concatenate([raw_digits[f"y_{s}"] for s in ("train", "val", "test")])
    assert rows(combined, combined_y) == rows(images / 16.0, labels)


def test_digits_split_is_deterministic_and_pinned(digits):
    again = load_digits()
    for key in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "mean"):
        np.testing.assert_array_equal(digits[key], again[key], err_msg=key)
    # Pinned digests of each split: a change of numpy's RandomState stream or of the
    # split code would silently change every reported result, so it must fail here.
    raw = load_digits(center=False)
    expected = {"train": "0be55943f2900b83", "val": "c3736e49ffca2536", "test": "ff43bfa943051f97"}
    for split, digest in expected.items():
        counts = np.rint(raw[f"X_{split}"] * 16).astype(np.uint8)
        got = hashlib.sha256(counts.tobytes() + raw[f"y_{split}"].astype(np.uint8).tobytes())
        assert got.hexdigest()[:16] == digest, split


def test_digits_classes_are_balanced_across_splits(digits):
    total = np.concatenate([digits[f"y_{s}"] for s in ("train", "val", "test")])
    per_class = np.bincount(total, minlength=10)
    assert per_class.min() >= 170, per_class
    for split, n in (("train", 1197), ("val", 300), ("test", 300)):
        counts = np.bincount(digits[f"y_{split}"], minlength=10)
        expected = per_class * n / 1797
        # Stratified: every class within one sample of its exact proportional share.
        assert np.abs(counts - expected).max() < 1.0 + 1e-9, (split, counts, expected)


def test_digits_splits_are_shuffled_not_sorted_by_class(digits):
    first = digits["y_train"][:50]
    assert len(np.unique(first)) >= 8, first


def test_digits_values_are_sixteenths_in_unit_range(raw_digits):
    for split in ("train", "val", "test"):
        x = raw_digits[f"X_{split}"]
        assert x.min() == 0.0 and x.max() == 1.0, split
        np.testing.assert_array_equal(x * 16, np.rint(x * 16), err_msg=split)
    np.testing.assert_array_equal(raw_digits["mean"], np.zeros((1, 8, 8)))


def test_digits_centering_uses_the_training_mean(digits, raw_digits):
    train_mean = raw_digits["X_train"].mean(axis=0)
    np.testing.assert_allclose(digits["mean"], train_mean, rtol=0, atol=1e-12)
    assert np.abs(digits["X_train"].mean(axis=0)).max() < 1e-12
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(
            digits[f"X_{split}"] + digits["mean"], raw_digits[f"X_{split}"], rtol=0, atol=1e-12
        )
    # Held-out splits are centered with the train mean, so their own mean is not zero.
    assert np.abs(digits["X_val"].mean(axis=0)).max() > 1e-3


def test_digits_flat_is_the_same_data_as_rows(digits):
    flat = load_digits(flat=True)
    assert flat["X_train"].shape == (1197, 64)
    assert flat["mean"].shape == (64,)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(
            flat[f"X_{split}"], digits[f"X_{split}"].reshape(-1, 64), err_msg=split
        )


def test_digits_float32():
    data = load_digits(dtype=np.float32)
    for key in ("X_train", "X_val", "X_test", "mean"):
        assert data[key].dtype == np.float32, key
    assert np.abs(data["X_train"].mean(axis=0)).max() < 1e-6


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dtype": np.int64}, TypeError, r"dtype: expected a floating-point dtype.*int64"),
        ({"dtype": "not a dtype"}, TypeError, r"dtype: expected"),
        ({"flat": "yes"}, TypeError, r"flat: expected True or False, got 'yes'"),
        ({"center": 1}, TypeError, r"center: expected True or False, got 1"),
    ],
)
def test_digits_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)


@given(
    counts=st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=6),
    val_frac=st.floats(min_value=0.0, max_value=0.4),
    test_frac=st.floats(min_value=0.0, max_value=0.4),
)
def test_stratified_split_is_an_exact_proportional_partition(counts, val_frac, test_frac):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    num_val, num_test = int(val_frac * n), int(test_frac * n)
    index = stratified_split(y, num_val, num_test, seed=0)
    assert len(index["val"]) == num_val and len(index["test"]) == num_test
    joined = np.concatenate([index["train"], index["val"], index["test"]])
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))
    for split, size in (("val", num_val), ("test", num_test)):
        got = np.bincount(y[index[split]], minlength=len(counts))
        share = np.asarray(counts) * size / n
        assert np.abs(got - share).max() < 1.0 + 1e-9, (split, got, share)


# ----------------------------------------------------------------------------- CIFAR-10


def _write_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    batch = {
        b"batch_label": b"tiny batch",
        b"labels": labels,
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def _write_cifar(folder: Path, per_batch: int = 4, num_test: int = 3, seed: int = 0):
    """Write five train batches and a test batch; return the raw rows and labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, labels = [], []
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = num_test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = [int(k) for k in rng.integers(0, 10, size=n)]
        _write_batch(folder / name, data, y)
        rows.append(data)
        labels.append(y)
    return np.concatenate(rows[:5]), np.concatenate(labels[:5]), rows[5], np.array(labels[5])


@pytest.mark.parametrize("nested", [False, True], ids=["in-root", "in-subfolder"])
def test_cifar_reads_batches_and_splits(tmp_path, nested):
    folder = tmp_path / "cifar-10-batches-py" if nested else tmp_path
    pool, pool_y, test, test_y = _write_cifar(folder)
    data = load_cifar10(tmp_path, num_val=5)
    assert data["X_train"].shape == (15, 3, 32, 32)
    assert data["X_val"].shape == (5, 3, 32, 32)
    assert data["X_test"].shape == (3, 3, 32, 32)
    assert data["X_train"].dtype == np.float64 and data["y_train"].dtype == np.int64
    np.testing.assert_array_equal(data["y_train"], pool_y[:15])
    np.testing.assert_array_equal(data["y_val"], pool_y[15:])
    np.testing.assert_array_equal(data["y_test"], test_y)
    # Row layout: 1024 red, then green, then blue values, each 32x32 row-major.
    raw_val = data["X_val"] + data["mean"]
    c, h, w = 2, 5, 17
    assert raw_val[1, c, h, w] == pytest.approx(pool[16, c * 1024 + h * 32 + w] / 255, abs=1e-12)
    np.testing.assert_allclose(data["mean"], pool[:15].reshape(15, 3, 32, 32).mean(0) / 255)
    assert len(data["classes"]) == 10 and data["classes"][0] == "airplane"


def test_cifar_subsampling_flat_and_dtype(tmp_path):
    pool, _, test, _ = _write_cifar(tmp_path)
    data = load_cifar10(
        tmp_path, num_train=7, num_val=3, num_test=2, flat=True, center=False, dtype=np.float32
    )
    assert data["X_train"].shape == (7, 3072) and data["X_train"].dtype == np.float32
    assert data["X_val"].shape == (3, 3072) and data["X_test"].shape == (2, 3072)
    np.testing.assert_allclose(data["X_val"], pool[17:] / 255, rtol=1e-6)
    np.testing.assert_allclose(data["X_test"], test[:2] / 255, rtol=1e-6)
    np.testing.assert_array_equal(data["mean"], np.zeros(3072, dtype=np.float32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_val": 21}, r"num_val: expected an integer from 0 to 20, got 21"),
        ({"num_val": 5, "num_train": 16}, r"num_train: expected an integer from 0 to 15, got 16"),
        ({"num_val": 5, "num_test": 4}, r"num_test: expected an integer from 0 to 3, got 4"),
    ],
)
def test_cifar_rejects_sizes_beyond_the_files(tmp_path, kwargs, match):
    _write_cifar(tmp_path)
    with pytest.raises(ValueError, match=match):
        load_cifar10(tmp_path, **kwargs)


def test_cifar_missing_batch_names_path_and_remedy(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3 in .*cifar-10-batches-py.*download"):
        load_cifar10(tmp_path, num_val=5)


class _Trap:
    """Unpickling this would create a directory, if the loader allowed it."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("garbage", r"not a CIFAR-10 python batch"),
        ("list", r"expected a pickled dict, got list"),
        ("no-labels", r"expected keys b'data' and b'labels', missing \[b'labels'\]"),
        ("short-rows", r"expected b'data' rows of 3072 .* got shape \(4, 100\)"),
        ("float-data", r"expected b'data' to be a uint8 array"),
        ("label-10", r"expected labels in \[0, 10\), got values from 0 to 10"),
        ("label-count", r"expected 4 labels to match the images, got shape \(3,\)"),
    ],
)
def test_cifar_malformed_batch_raises_clear_error(tmp_path, content, match):
    _write_cifar(tmp_path)
    bad = tmp_path / "data_batch_2"
    data = np.zeros((4, 3072), dtype=np.uint8)
    if content == "garbage":
        bad.write_bytes(b"\x00\x01 this is not a pickle")
    elif content == "list":
        bad.write_bytes(pickle.dumps([1, 2, 3]))
    elif content == "no-labels":
        bad.write_bytes(pickle.dumps({b"data": data}))
    elif content == "short-rows":
        _write_batch(bad, np.zeros((4, 100), dtype=np.uint8), [0, 1, 2, 3])
    elif content == "float-data":
        _write_batch(bad, data.astype(np.float64), [0, 1, 2, 3])
    elif content == "label-10":
        _write_batch(bad, data, [0, 1, 2, 10])
    elif content == "label-count":
        _write_batch(bad, data, [0, 1, 2])
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, num_val=5)
    assert "data_batch_2" in str(info.value)


def test_cifar_refuses_pickles_that_run_code(tmp_path):
    _write_cifar(tmp_path)
    target = tmp_path / "created_by_pickle"
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3], b"x": _Trap(target)}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load \w+\.mkdir"):
        load_cifar10(tmp_path, num_val=5)
    assert not target.exists()


class _Python2Pickler(pickle._Pickler):
    """Pickle str and bytes the way Python 2 did (as byte strings, BINSTRING opcodes).

    The published CIFAR-10 batches were written by Python 2 with numpy 1; the pure-Python
    pickler lets a test produce that exact opcode stream without either installed.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    def save_str(self, obj):
        self.save_bytes(obj.encode("latin1"))

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def test_cifar_reads_batches_as_python2_and_numpy1_wrote_them(tmp_path):
    _write_cifar(tmp_path)
    data = (np.arange(4 * 3072) % 251).astype(np.uint8).reshape(4, 3072)
    batch = {"batch_label": "testing batch 1 of 1", "labels": [9, 0, 4, 2], "data": data}
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(batch)
    # numpy 1 named its reconstructor numpy.core.multiarray; numpy 2 says numpy._core.
    stream = buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in stream and b"U\x04data" in stream
    (tmp_path / "test_batch").write_bytes(stream)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load_cifar10(tmp_path, num_val=5, center=False)
    np.testing.assert_array_equal(result["y_test"], [9, 0, 4, 2])
    np.testing.assert_allclose(result["X_test"].reshape(4, -1), data / 255, atol=1e-12)


def _tar_gz(src: Path, archive: Path, arcname: str) -> str:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=arcname)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def test_cifar_download_fetches_verifies_and_unpacks(tmp_path, monkeypatch):
    _, pool_y, _, _ = _write_cifar(tmp_path / "src")
    archive = tmp_path / "served" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    digest = _tar_gz(tmp_path / "src", archive, "cifar-10-batches-py")
    monkeypatch.setattr(cifar10, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setattr(cifar10, "CIFAR10_SHA256", digest)
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_cifar10(root, num_val=5)
    data = load_cifar10(root, num_val=5, download=True, progress=False)
    np.testing.assert_array_equal(data["y_val"], pool_y[15:])
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()


# ----------------------------------------------------------------------------- MNIST

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}
_CODES.update({np.float32: 0x0D, np.float64: 0x0E})


def _idx_bytes(array: np.ndarray) -> bytes:
    code = _CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    raw = _idx_bytes(array)
    if gz:
        Path(f"{path}.gz").write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


def _write_mnist(root: Path, gz: bool, num_train: int = 12, num_test: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        _write_idx(root / f"{prefix}-images-idx3-ubyte", images, gz)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, gz)
        out[prefix] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_mnist_reads_idx_files_and_splits(tmp_path, gz):
    raw = _write_mnist(tmp_path, gz)
    data = load_mnist(tmp_path, num_val=3)
    assert data["X_train"].shape == (9, 1, 28, 28)
    assert data["X_val"].shape == (3, 1, 28, 28)
    assert data["X_test"].shape == (4, 1, 28, 28)
    assert data["y_train"].dtype == np.int64
    images, labels = raw["train"]
    np.testing.assert_array_equal(data["y_val"], labels[9:])
    np.testing.assert_allclose(data["X_val"][:, 0] + data["mean"][0], images[9:] / 255, atol=1e-12)
    np.testing.assert_allclose(data["mean"][0], images[:9].mean(0) / 255, atol=1e-12)
    np.testing.assert_array_equal(data["y_test"], raw["t10k"][1])


def test_mnist_flat_without_centering(tmp_path):
    raw = _write_mnist(tmp_path, gz=True)
    data = load_mnist(tmp_path, num_val=2, num_train=5, num_test=1, flat=True, center=False)
    assert data["X_train"].shape == (5, 784) and data["X_test"].shape == (1, 784)
    assert 0.0 <= data["X_train"].min() and data["X_train"].max() <= 1.0
    np.testing.assert_allclose(data["X_test"][0], raw["t10k"][0][0].ravel() / 255)


@given(
    shape=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=4),
    kind=st.sampled_from(sorted(_CODES, key=str)),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_read_idx_round_trips_every_type(tmp_path_factory, shape, kind, seed):
    rng = np.random.default_rng(seed)
    array = (rng.standard_normal(shape) * 100).astype(kind)
    path = tmp_path_factory.mktemp("idx") / "array.idx"
    path.write_bytes(_idx_bytes(array))
    got = read_idx(path)
    assert got.dtype == np.dtype(kind) and got.shape == tuple(shape)
    np.testing.assert_array_equal(got, array)


def test_mnist_missing_file_names_both_candidates(tmp_path):
    _write_mnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    pattern = r"t10k-labels-idx1-ubyte or .*t10k-labels-idx1-ubyte\.gz \(IDX, magic number 2049\)"
    with pytest.raises(FileNotFoundError, match=pattern):
        load_mnist(tmp_path, num_val=3)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("swapped", r"expected MNIST images with IDX magic number 2051 .* got 2049"),
        ("truncated", r"expected 9408 bytes of data for shape \(12, 28, 28\), got 9407"),
        ("trailing", r"expected 9408 bytes of data for shape \(12, 28, 28\), got 9409"),
        ("not-idx", r"not an IDX file: expected a magic number starting with two zero bytes"),
        ("type-code", r"unknown IDX type code 0x07"),
        ("short-header", r"truncated IDX header"),
        ("bad-gzip", r"corrupt or truncated gzip file"),
        ("label-count", r"expected 12 labels to match the images, got shape \(11,\)"),
        ("label-value", r"expected labels in \[0, 10\), got values from .* to 12"),
    ],
)
def test_mnist_malformed_files_raise_clear_errors(tmp_path, damage, match):
    raw = _write_mnist(tmp_path, gz=False)
    images_path = tmp_path / "train-images-idx3-ubyte"
    labels_path = tmp_path / "train-labels-idx1-ubyte"
    labels = raw["train"][1]
    if damage == "swapped":
        images_path.write_bytes(labels_path.read_bytes())
    elif damage == "truncated":
        images_path.write_bytes(images_path.read_bytes()[:-1])
    elif damage == "trailing":
        images_path.write_bytes(images_path.read_bytes() + b"\x00")
    elif damage == "not-idx":
        images_path.write_bytes(b"P5\n28 28\n255\n" + bytes(100))
    elif damage == "type-code":
        images_path.write_bytes(bytes([0, 0, 7, 3]) + images_path.read_bytes()[4:])
    elif damage == "short-header":
        images_path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    elif damage == "bad-gzip":
        images_path.unlink()
        Path(f"{images_path}.gz").write_bytes(gzip.compress(_idx_bytes(raw["train"][0]))[:-20])
    elif damage == "label-count":
        labels_path.write_bytes(_idx_bytes(labels[:11]))
    elif damage == "label-value":
        labels_path.write_bytes(_idx_bytes(np.where(np.arange(12) == 4, 12, labels)))
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(tmp_path, num_val=3)
    assert "train-" in str(info.value)


def test_mnist_download_tries_mirrors_and_verifies(tmp_path, monkeypatch):
    served = tmp_path / "served"
    _write_mnist(served, gz=True)
    hashes = {p.name[:-3]: sha256sum(p) for p in served.glob("*.gz")}
    assert len(hashes) == 4
    dead = (tmp_path / "no-such-mirror").as_uri() + "/"
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (dead, served.as_uri() + "/"))
    monkeypatch.setattr(mnist, "MNIST_SHA256", hashes)
    root = tmp_path / "root"
    data = load_mnist(root, num_val=3, download=True, progress=False)
    assert data["X_train"].shape == (9, 1, 28, 28)
    assert sorted(p.name for p in root.iterdir()) == sorted(f"{n}.gz" for n in hashes)


# ----------------------------------------------------------------------------- download


@pytest.mark.parametrize("progress", [False, True], ids=["quiet", "progress-bar"])
def test_download_with_matching_checksum(tmp_path, progress):
    payload = os.urandom(3000)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    dest = tmp_path / "out" / "file.bin"
    got = download(src.as_uri(), dest, hashlib.sha256(payload).hexdigest(), progress=progress)
    assert got == dest and dest.read_bytes() == payload
    assert sha256sum(dest) == hashlib.sha256(payload).hexdigest()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]


def test_download_mismatch_names_both_digests_and_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"the bytes that the server really sends")
    dest = tmp_path / "out" / "file.bin"
    wrong = "0" * 64
    actual = sha256sum(src)
    with pytest.raises(ValueError, match=rf"expected {wrong}, got {actual}"):
        download(src.as_uri(), dest, wrong)
    assert list(dest.parent.iterdir()) == []


def test_download_keeps_a_verified_file_and_replaces_a_bad_one(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"good")
    digest = sha256sum(src)
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"good")
    # Already verified: the URL is never opened, so a dead one does no harm.
    assert download((tmp_path / "gone").as_uri(), dest, digest) == dest
    dest.write_bytes(b"stale")
    download(src.as_uri(), dest, digest)
    assert dest.read_bytes() == b"good"


@pytest.mark.parametrize("sha256", [None, "abc", "g" * 64])
def test_download_requires_a_real_checksum(tmp_path, sha256):
    with pytest.raises((TypeError, ValueError), match=r"sha256: expected a 64-character hex"):
        download((tmp_path / "x").as_uri(), tmp_path / "y", sha256)


def test_extract_tar_refuses_members_outside_dest(tmp_path):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"oops"))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match=r"refusing to extract unsafe member"):
        extract_tar(archive, dest)
    assert not (tmp_path / "escaped.txt").exists()
