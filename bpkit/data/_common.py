"""The preprocessing that every dataset loader shares (its checks are in bpkit._validate).

A loader reads raw ``uint8`` images and integer labels, chooses which samples go to
the train, validation and test splits, and hands them to :func:`finish_splits`, which
scales, centers and reshapes them the same way for every dataset. Keeping that step
in one place is what lets a notebook swap digits for CIFAR-10 without other changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bpkit import _validate

SPLITS = ("train", "val", "test")


def finish_splits(
    images: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    scale: float,
    dtype: np.dtype,
    center: bool,
    flat: bool,
    classes: Sequence[str],
) -> dict[str, object]:
    """Turn raw splits into the dict every loader returns.

    Parameters
    ----------
    images : dict of str to ndarray
        Keys ``train``, ``val``, ``test``; each an integer array of shape (N, C, H, W).
    labels : dict of str to ndarray
        Same keys; each of shape (N,) with class indices.
    scale : float
        The largest raw pixel value; pixels are divided by it to land in [0, 1].
    dtype : numpy.dtype
        Floating-point type of the returned images.
    center : bool
        Subtract the per-pixel mean of the training images from every split.
    flat : bool
        Return images of shape (N, D) with D = C * H * W instead of (N, C, H, W).
    classes : sequence of str
        Class names, index ``k`` naming label ``k``.

    Returns
    -------
    dict
        ``X_train, X_val, X_test`` float arrays of shape (N, C, H, W) or (N, D);
        ``y_train, y_val, y_test`` int64 arrays of shape (N,); ``mean`` of shape
        (C, H, W) or (D,), the training mean that was subtracted (zeros when
        ``center`` is False); ``classes``, a tuple of str.
    """
    out: dict[str, object] = {}
    for split in SPLITS:
        # In place after one copy: full CIFAR-10 in float64 is already 1.2 GB.
        x = images[split].astype(dtype)
        x /= dtype.type(scale)
        if flat:
            x = x.reshape(x.shape[0], -1)
        out[f"X_{split}"] = x
        out[f"y_{split}"] = np.asarray(labels[split], dtype=np.int64)
    x_train = out["X_train"]
    mean = np.zeros(x_train.shape[1:], dtype=dtype)
    if center and x_train.shape[0]:
        # The mean comes from training data only, so no statistic of the held-out
        # splits leaks into the preprocessing they are evaluated with.
        mean = x_train.mean(axis=0, dtype=np.float64).astype(dtype)
        for split in SPLITS:
            out[f"X_{split}"] -= mean
    out["mean"] = mean
    out["classes"] = tuple(classes)
    return out


def stratified_split(
    y: np.ndarray, num_val: int, num_test: int, seed: int
) -> dict[str, np.ndarray]:
    """Split sample indices into train/val/test with every class in the same proportion.

    Each class gives the validation and test sets a share of its samples proportional
    to its size; rounding leftovers go to the classes with the largest remainders, so
    the split sizes are exactly ``num_val`` and ``num_test``.

    Parameters
    ----------
    y : ndarray of shape (N,)
        Integer class labels.
    num_val, num_test : int
        Sizes of the validation and test splits.
    seed : int
        Seed of the shuffle within each class and of the final order of each split.

    Returns
    -------
    dict of str to ndarray
        Keys ``train``, ``val``, ``test``; disjoint int64 index arrays covering ``range(N)``.
    """
    # RandomState, not default_rng: numpy promises that RandomState streams never change
    # between releases, so the split (and every result reported on it) is reproducible.
    rng = np.random.RandomState(seed)  # noqa: NPY002
    classes, counts = np.unique(y, return_counts=True)
    per_class = {}
    for split, size in (("val", num_val), ("test", num_test)):
        quota = counts * size / len(y)
        take = np.floor(quota).astype(np.int64)
        short = size - int(take.sum())
        take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
        per_class[split] = take
    parts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for k, label in enumerate(classes):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val, n_test = per_class["val"][k], per_class["test"][k]
        parts["val"].append(idx[:n_val])
        parts["test"].append(idx[n_val : n_val + n_test])
        parts["train"].append(idx[n_val + n_test :])
    # Shuffle across classes so that slicing a split never yields a single class.
    return {split: rng.permutation(np.concatenate(parts[split])) for split in SPLITS}


def holdout_split(
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    num_train: int | None,
    num_val: int,
    num_test: int | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Carve a validation split from the end of a training pool and subsample the rest.

    The validation split is the last ``num_val`` pool samples whatever ``num_train``
    is, so shrinking the training set for a quick experiment leaves validation alone.
    Train is the first ``num_train`` of the remaining samples and test the first
    ``num_test`` test samples (``None`` means all of them). Slicing rather than sampling
    keeps this deterministic; CIFAR-10 and MNIST files already come in mixed order.

    Parameters
    ----------
    x_pool : ndarray of shape (N, C, H, W)
        Training images; ``y_pool`` of shape (N,) their labels.
    x_test : ndarray of shape (N_test, C, H, W)
        Test images; ``y_test`` of shape (N_test,) their labels.
    num_train, num_val, num_test : int or None
        Split sizes, checked against what the files hold.

    Returns
    -------
    tuple of dict
        Images and labels, each keyed ``train``, ``val``, ``test``.
    """
    pool = x_pool.shape[0]
    num_val = _validate.count("num_val", num_val, pool, allow_none=False)
    num_train = _validate.count("num_train", num_train, pool - num_val)
    num_test = _validate.count("num_test", num_test, x_test.shape[0])
    start_val = pool - num_val
    images = {
        "train": x_pool[:num_train],
        "val": x_pool[start_val:],
        "test": x_test[:num_test],
    }
    labels = {
        "train": y_pool[:num_train],
        "val": y_pool[start_val:],
        "test": y_test[:num_test],
    }
    return images, labels
