r"""How far a correct gradient may be from its centered-difference estimate, and the assertion.

A test that compares an analytic gradient with ``bpkit.gradcheck``'s centered differences
must allow for the error of the estimate itself, and no more. For one entry :math:`x_i`
of the input, with :math:`g(x) = \sum_k \mathrm{d}y_k\, f_k(x)` the function whose
gradient the check estimates, step :math:`h` and :math:`\epsilon = 2.2 \times 10^{-16}`:

- **Truncation.** Taylor's theorem gives
  :math:`|(g(x + h e_i) - g(x - h e_i)) / 2h - \partial_i g| \le h^2 \max|\partial_i^3 g| / 6`.
  The layers tested here are linear in the perturbed argument (affine, convolution), or
  piecewise linear with every input at least ``margin`` from a kink (ReLU, max pooling),
  so this term is zero there; smooth test functions pass a bound on the third derivative.
- **Round-off.** Each output :math:`f_k` is a sum of at most ``n`` terms whose absolute
  values add up to :math:`M_k`, so floating point computes it to within
  :math:`n \epsilon M_k` (the standard worst-case bound of a sum). The two evaluations
  of :math:`g` then differ from the exact ones by at most
  :math:`n \epsilon S` each, with :math:`S = \sum_k |\mathrm{d}y_k| M_k`, and dividing
  their difference by :math:`2h` gives :math:`n \epsilon S / h`.
- **The step.** ``x_i + h`` is rounded, so the step actually taken differs from ``h`` by up
  to :math:`\epsilon |x_i|`, a relative error of :math:`\epsilon \max|x| / h` on the
  estimate.

The analytic gradient's own rounding, at most ``n`` epsilon times a sum of the same
magnitudes without the :math:`1/h`, is about :math:`10^5` times smaller than the round-off
term and is covered by the worst-case factor ``n`` (real rounding errors grow like
:math:`\sqrt{n}`, not :math:`n`).

With ``h = 1e-5`` and the small problems of these tests the bound is near :math:`10^{-7}`:
far below any real mistake (a missing term, a wrong index, a forgotten ``dout`` change the
gradient by amounts of order one), and never crossed by a correct gradient, whatever the
seed.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def centered_difference_bound(
    analytic, *, terms: int, scale: float, h: float = 1e-5, x_max: float = 0.0, third=0.0
) -> np.ndarray:
    r"""Per-entry bound on ``|numerical - analytic|`` for a correct ``analytic`` gradient.

    Parameters
    ----------
    analytic : ndarray
        The gradient under test (only its magnitude is used, for the step term).
    terms : int
        The largest number of terms summed into one output of f (``n``).
    scale : float
        :math:`S = \sum_k |\mathrm{d}y_k| M_k`, or for a scalar f the sum of the absolute
        values of the terms it adds up.
    h : float
        The step of the centered difference.
    x_max : float
        The largest absolute entry of the perturbed array.
    third : float or ndarray
        A bound on :math:`|\partial_i^3 g|` (0 for functions linear near the point).

    Returns
    -------
    ndarray, shape of analytic
        ``h**2 * third / 6 + terms * EPS * scale / h + EPS * x_max / h * |analytic|``.
    """
    analytic = np.abs(np.asarray(analytic, dtype=np.float64))
    truncation = h**2 * np.asarray(third, dtype=np.float64) / 6
    roundoff = terms * EPS * scale / h
    step = EPS * x_max / h * analytic
    return truncation + roundoff + step


def assert_gradient_close(analytic, numerical, bound, name: str) -> None:
    """Fail with the worst entry, its error and its bound when any entry exceeds its bound."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    assert analytic.shape == numerical.shape, (
        f"{name}: shape {analytic.shape}, expected {numerical.shape}"
    )
    err = np.abs(analytic - numerical)
    bound = np.broadcast_to(bound, err.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / bound)  # a zero bound allows only a zero error
    if ratio.size and np.max(ratio) > 1:
        at = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        raise AssertionError(
            f"{name}: entry {at} is {analytic[at]!r}, the centered difference {numerical[at]!r}; "
            f"error {err[at]:.3g} exceeds the bound {bound[at]:.3g} of a correct gradient"
        )
