"""Normalising one image: min-max, z-score and percentiles (notebook 03).

Every function returns a new floating-point array (``float32`` by default) and never modifies
its input; :func:`percentile_range` is the shared first step.

>>> import numpy as np
>>> standardize(np.array([1.0, 2.0, 3.0])).round(3)
array([-1.225,  0.   ,  1.225], dtype=float32)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._validate import check_array, check_in_range, is_int


def check_image(x: Any, name: str = "x") -> np.ndarray:
    """Return ``x`` as a non-empty, finite array of integers or floats."""
    arr = check_array(x, name, finite=True)
    if arr.dtype.kind == "b":
        raise TypeError(f"`{name}` must be an integer or floating-point array, got dtype bool")
    return arr


def check_float_dtype(dtype: Any) -> np.dtype:
    """Return ``dtype`` as a numpy floating-point dtype; integers would truncate the result."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be a floating-point dtype, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"`dtype` must be a floating-point dtype, got {dt}")
    return dt


def check_percentiles(pmin: Any, pmax: Any) -> tuple[float, float]:
    pmin = check_in_range(pmin, "pmin", 0, 100)
    pmax = check_in_range(pmax, "pmax", 0, 100)
    if not pmin < pmax:
        raise ValueError(f"`pmin` must be smaller than `pmax`, got {pmin:g} and {pmax:g}")
    return pmin, pmax


def _reduced_axes(axis: int | Iterable[int] | None, ndim: int) -> tuple[int, ...]:
    """The axes statistics are computed over, as sorted non-negative integers."""
    if axis is None:
        return tuple(range(ndim))
    axes = [axis] if is_int(axis) else list(axis)
    normalised = []
    for a in axes:
        if not is_int(a) or not -ndim <= a < ndim:
            raise ValueError(
                f"`axis` must be None or axes of a {ndim}D array (-{ndim} to {ndim - 1}), "
                f"got {axis!r}"
            )
        normalised.append(int(a) % ndim)
    if len(set(normalised)) != len(normalised):
        raise ValueError(f"`axis` must not repeat an axis, got {axis!r}")
    if not normalised:
        raise ValueError("`axis` must name at least one axis, got ()")
    return tuple(sorted(normalised))


def _keepdims_shape(shape: tuple[int, ...], reduced: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _select(work: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k-th and (k+1)-th smallest values (0-based) of every row; reorders ``work`` in place.

    After ``np.partition(k)`` everything right of position ``k`` is larger or equal, so the next
    value up is the minimum of the right part (the value itself at the last position).
    """
    work.partition(k, axis=-1)
    kth = work[..., k].copy()
    right = work[..., k + 1 :]
    following = right.min(axis=-1) if right.shape[-1] else kth
    return kth, following


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Linear interpolation from ``a`` (t=0) to ``b`` (t=1), exact at both ends (as numpy)."""
    if t < 0.5:
        return a + (b - a) * t
    return b - (b - a) * (1 - t)


def percentile_range(
    x: Any,
    pmin: float = 1.0,
    pmax: float = 99.8,
    *,
    axis: int | Iterable[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``pmin``-th and ``pmax``-th percentiles of ``x``, equal to ``numpy.percentile``'s.

    ``axis`` are the axes pooled (``None``: every pixel); the results keep them as length 1, so
    they broadcast against ``x``. The p-th percentile of n sorted values ``s`` sits at
    ``h = (n - 1) p / 100``, between ``s[floor(h)]`` and ``s[floor(h) + 1]`` (numpy's "linear"
    method). Only those positions are needed, so ``np.partition`` selects them instead of a sort
    (faster than numpy's multi-position call, see ``benchmarks/normalize.py``).

    >>> low, high = percentile_range(np.arange(101.0), 1, 99.5)
    >>> float(low[0]), float(high[0])
    (1.0, 99.5)
    >>> percentile_range(np.array([[0, 10], [5, 7]]), 0, 100, axis=1)[1]
    array([[10.],
           [ 7.]])
    """
    x = check_image(x)
    pmin, pmax = check_percentiles(pmin, pmax)
    reduced = _reduced_axes(axis, x.ndim)
    kept = [n for i, n in enumerate(x.shape) if i not in reduced]
    # Move the reduced axes to the end and flatten them: one row per independent slice. The
    # copy is the workspace that np.partition reorders; `x` itself is never touched.
    moved = np.moveaxis(x, reduced, range(x.ndim - len(reduced), x.ndim))
    work = moved.reshape(*kept, -1).copy()
    n = work.shape[-1]

    positions = []
    for p in (pmin, pmax):
        h = (n - 1) * (p / 100)  # fractional position in the sorted values
        positions.append((min(math.floor(h), n - 1), h - math.floor(h)))
    (k_lo, t_lo), (k_hi, t_hi) = positions

    hi, hi_next = _select(work, k_hi)
    if k_lo == k_hi:
        lo, lo_next = hi, hi_next
    else:
        # The k_hi + 1 smallest values are now left of (and at) position k_hi.
        lo, lo_next = _select(work[..., : k_hi + 1], k_lo)

    # Interpolate in float64: exact for integer images (whose differences could overflow
    # their own type) and at least as precise as the image for floats.
    lo, lo_next, hi, hi_next = (v.astype(np.float64) for v in (lo, lo_next, hi, hi_next))
    low, high = _lerp(lo, lo_next, t_lo), _lerp(hi, hi_next, t_hi)
    shape = _keepdims_shape(x.shape, reduced)
    return np.asarray(low).reshape(shape), np.asarray(high).reshape(shape)


def _shift_and_scale(
    x: np.ndarray,
    offset: np.ndarray,
    width: np.ndarray,
    *,
    clip: bool,
    dtype: np.dtype,
) -> np.ndarray:
    """``(x - offset) / width`` in ``dtype``, in a new array; zero widths leave ``x - offset``."""
    out = np.asarray(np.subtract(x, offset, dtype=dtype))  # asarray: a 0-d input gives a scalar
    np.divide(out, width, out=out, where=width != 0)
    if clip:
        np.clip(out, 0, 1, out=out)
    return out


def normalize_range(
    x: Any,
    low: Any,
    high: Any,
    *,
    clip: bool = False,
    eps: float = 1e-20,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Map ``low`` to 0 and ``high`` to 1: ``(x - low) / (high - low + eps)``.

    The building block of the others, and the one to use when ``low`` and ``high`` come from
    elsewhere (a training set, a calibration). ``clip`` is off by default: a nucleus brighter
    than ``high`` stays brighter than 1. Where the width is zero the result is ``x - low``.

    >>> normalize_range(np.array([10, 20, 30]), 10, 30)
    array([0. , 0.5, 1. ], dtype=float32)
    >>> normalize_range(np.array([0, 50]), 10, 30, clip=True)
    array([0., 1.], dtype=float32)
    """
    x = check_image(x)
    dt = check_float_dtype(dtype)
    eps = check_in_range(eps, "eps", 0)
    low = check_image(low, "low").astype(dt)
    high = check_image(high, "high").astype(dt)
    if np.any(high < low):
        raise ValueError("`high` must be >= `low` everywhere")
    width = high - low + dt.type(eps)
    return _shift_and_scale(x, low, width, clip=clip, dtype=dt)


def normalize_percentile(
    x: Any,
    pmin: float = 1.0,
    pmax: float = 99.8,
    *,
    axis: int | Iterable[int] | None = None,
    clip: bool = False,
    eps: float = 1e-20,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Percentile normalisation: the ``pmin``-th percentile -> 0, the ``pmax``-th -> 1.

    The definition of CSBDeep and StarDist; hot pixels and debris fall outside [0, 1] instead of
    setting the scale. The defaults 1 and 99.8 are those of the StarDist notebooks. ``axis``: for
    a ``(C, Y, X)`` stack, ``axis=(1, 2)`` normalises each channel on its own. Invariant to gain
    and offset (``a * x + b``, ``a > 0``). An almost empty image (``p_low == p_high``) divides
    by ``eps``: lower ``pmin`` or raise ``pmax`` for it.

    >>> x = np.linspace(0, 1000, 1001)
    >>> y = normalize_percentile(x, 1, 99)
    >>> float(y[10]), float(y[990])
    (0.0, 1.0)
    >>> stack = np.stack([x, 10 * x])  # two channels with different brightness
    >>> normalize_percentile(stack, axis=1)[:, 500].round(3)
    array([0.496, 0.496], dtype=float32)
    """
    x = check_image(x)
    dt = check_float_dtype(dtype)
    eps = check_in_range(eps, "eps", 0)
    low, high = percentile_range(x, pmin, pmax, axis=axis)
    low, high = low.astype(dt), high.astype(dt)
    return _shift_and_scale(x, low, high - low + dt.type(eps), clip=clip, dtype=dt)


def normalize_minmax(
    x: Any,
    *,
    axis: int | Iterable[int] | None = None,
    eps: float = 1e-20,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Min-max normalisation: the smallest value -> 0, the largest -> 1.

    Equal to ``normalize_percentile(x, 0, 100)``: one hot pixel squeezes the signal towards 0.

    >>> normalize_minmax(np.array([2, 4, 6]))
    array([0. , 0.5, 1. ], dtype=float32)
    """
    x = check_image(x)
    dt = check_float_dtype(dtype)
    eps = check_in_range(eps, "eps", 0)
    reduced = _reduced_axes(axis, x.ndim)
    low = x.min(axis=reduced, keepdims=True).astype(dt)
    high = x.max(axis=reduced, keepdims=True).astype(dt)
    return _shift_and_scale(x, low, high - low + dt.type(eps), clip=False, dtype=dt)


def standardize(
    x: Any,
    *,
    axis: int | Iterable[int] | None = None,
    eps: float = 1e-20,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Z-score: subtract the mean, divide by the standard deviation (accumulated in float64).

    The range is not bounded: a nucleus may land at 3 or at 30 depending on the background.

    >>> standardize(np.array([1.0, 2.0, 3.0])).round(4)
    array([-1.2247,  0.    ,  1.2247], dtype=float32)
    """
    x = check_image(x)
    dt = check_float_dtype(dtype)
    eps = check_in_range(eps, "eps", 0)
    reduced = _reduced_axes(axis, x.ndim)
    mean = x.mean(axis=reduced, dtype=np.float64, keepdims=True)
    std = x.std(axis=reduced, dtype=np.float64, keepdims=True)
    return _shift_and_scale(x, mean.astype(dt), std.astype(dt) + dt.type(eps), clip=False, dtype=dt)
