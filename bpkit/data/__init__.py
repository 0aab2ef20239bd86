"""Datasets for the course, offline by default.

:func:`load_digits` returns real handwritten digits that ship inside the package, so
every notebook runs without a network. :func:`load_cifar10` and :func:`load_mnist`
read the usual files from a local folder and fetch them only when asked to
(``download=True``), always checking a SHA-256 checksum. Every loader returns the
same kind of dict: ``X_train, y_train, X_val, y_val, X_test, y_test`` (images NCHW,
or (N, D) with ``flat=True``), ``mean`` and ``classes``.
"""

from bpkit.data.cifar10 import load_cifar10
from bpkit.data.digits import load_digits
from bpkit.data.fetch import download, sha256sum
from bpkit.data.mnist import load_mnist, read_idx

__all__ = [
    "download",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "read_idx",
    "sha256sum",
]
