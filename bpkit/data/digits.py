"""Real handwritten digits that ship inside the package, so the course runs offline.

The images are the 1,797 samples of the "Optical Recognition of Handwritten Digits"
data set from the UCI Machine Learning Repository by E. Alpaydin and C. Kaynak (1998),
licensed CC BY 4.0: https://doi.org/10.24432/C50P49 and
https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits.
Each image is an 8x8 grid of counts from 0 to 16, the number of ink pixels in a 4x4
block of a 32x32 scanned bitmap. They are the data set's test portion (written by 13
people), taken from the copy that the scikit-learn wheel carries as
``sklearn/datasets/data/digits.csv.gz`` and converted once to ``digits.npz``
(``images`` uint8 (1797, 8, 8), ``labels`` uint8 (1797,)).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
from numpy.typing import DTypeLike

from bpkit import _validate
from bpkit.data._common import finish_splits, stratified_split

NUM_SAMPLES = 1797
NUM_VAL = 300
NUM_TEST = 300
# Fixed so that every learner, notebook and grader sees the very same split.
SPLIT_SEED = 231
MAX_PIXEL = 16
CLASSES = tuple(str(d) for d in range(10))


def _read_npz() -> tuple[np.ndarray, np.ndarray]:
    """Return the packaged raw images (1797, 8, 8) uint8 and labels (1797,) uint8."""
    source = resources.files("bpkit.data").joinpath("digits.npz")
    with resources.as_file(source) as path, np.load(path) as npz:
        images, labels = npz["images"], npz["labels"]
    if images.shape != (NUM_SAMPLES, 8, 8) or labels.shape != (NUM_SAMPLES,):
        raise RuntimeError(
            f"{path}: expected images (1797, 8, 8) and labels (1797,), got "
            f"{images.shape} and {labels.shape}; the installed package is damaged"
        )
    return images, labels


def load_digits(
    flat: bool = False, dtype: DTypeLike = np.float64, center: bool = True
) -> dict[str, object]:
    """Load the packaged 8x8 handwritten digits, split into train, val and test.

    No network and no files outside the package are needed. The split is stratified
    (each digit in the same proportion in every split) and fixed by an internal seed,
    so it is the same on every machine and every call: 1,197 train, 300 validation
    and 300 test images.

    Parameters
    ----------
    flat : bool, default False
        Return images as rows of shape (N, D) with D = 64 instead of (N, 1, 8, 8).
    dtype : numpy floating dtype, default np.float64
        Type of the returned images.
    center : bool, default True
        Subtract the per-pixel mean of the training images from every split.

    Returns
    -------
    dict
        ``X_train`` (1197, 1, 8, 8), ``X_val`` (300, 1, 8, 8), ``X_test`` (300, 1, 8, 8)
        images of ``dtype`` (shape (N, 64) each when ``flat``); ``y_train`` (1197,),
        ``y_val`` (300,), ``y_test`` (300,) int64 labels in [0, 10); ``mean`` of shape
        (1, 8, 8) or (64,), the training mean that was subtracted (zeros when
        ``center`` is False); ``classes``, the names ``("0", ..., "9")``.

    Notes
    -----
    Raw counts :math:`c \\in \\{0, \\dots, 16\\}` become :math:`x = c / 16 - \\mu` where
    :math:`\\mu` is the per-pixel mean of :math:`c / 16` over the training images, so
    before centering every value lies in [0, 1].

    Examples
    --------
    >>> data = load_digits()
    >>> data["X_train"].shape, data["y_train"].shape
    ((1197, 1, 8, 8), (1197,))
    """
    dtype = _validate.float_dtype("dtype", dtype)
    flat = _validate.boolean("flat", flat)
    center = _validate.boolean("center", center)
    images, labels = _read_npz()
    index = stratified_split(labels, NUM_VAL, NUM_TEST, SPLIT_SEED)
    return finish_splits(
        {split: images[idx][:, None] for split, idx in index.items()},
        {split: labels[idx] for split, idx in index.items()},
        scale=MAX_PIXEL,
        dtype=dtype,
        center=center,
        flat=flat,
        classes=CLASSES,
    )
