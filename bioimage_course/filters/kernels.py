"""The classic filter kernels: identity, mean, Gaussian, Sobel, Prewitt, Laplacian, LoG.

Introduced in notebook 02 (convolutions): smoothing kernels average, derivative kernels take
differences, and combining two kernels is convolving them (:func:`combine_kernels`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validate import check_array, check_choice, check_in_range, is_int
from .convolution import correlate, shifted_block

KERNEL_NAMES = ("identity", "mean", "gaussian", "sobel", "prewitt", "laplacian", "log")


def check_kernel_size(size, ndim: int, name: str = "size") -> tuple[int, ...]:
    sizes = (size,) * ndim if np.isscalar(size) else tuple(size)
    if len(sizes) != ndim or not all(is_int(s) and s >= 1 for s in sizes):
        raise ValueError(f"`{name}` must be a positive int or {ndim} positive ints, got {size!r}")
    return tuple(int(s) for s in sizes)


def _check_ndim(ndim) -> int:
    if not is_int(ndim) or ndim not in (1, 2, 3):
        raise ValueError(f"`ndim` must be 1, 2 or 3, got {ndim!r}")
    return int(ndim)


def _outer(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """The separable kernel ``v0[i] * v1[j] * ...`` built from one 1D vector per axis."""
    kernel = np.asarray(vectors[0], dtype=np.float64)
    for v in vectors[1:]:
        kernel = np.multiply.outer(kernel, np.asarray(v, dtype=np.float64))
    return kernel


def _check_axis(axis, ndim: int) -> int:
    if not is_int(axis) or not -ndim <= axis < ndim:
        raise ValueError(f"`axis` must be an int in [{-ndim}, {ndim - 1}], got {axis!r}")
    return int(axis) % ndim


def identity_kernel(size=3, *, ndim: int = 2) -> np.ndarray:
    """A kernel that changes nothing: 1 at the centre (index ``size // 2``), 0 elsewhere.

    >>> identity_kernel(3)
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 0.]])
    """
    shape = check_kernel_size(size, _check_ndim(ndim))
    kernel = np.zeros(shape)
    kernel[tuple(s // 2 for s in shape)] = 1.0
    return kernel


def mean_kernel(size=3, *, ndim: int = 2) -> np.ndarray:
    """The mean (box) filter: equal weights that sum to 1, so flat regions keep their value.

    >>> mean_kernel(2)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    shape = check_kernel_size(size, _check_ndim(ndim))
    return np.full(shape, 1.0 / np.prod(shape))


MAX_KERNEL_ELEMENTS = 2**24  # 128 MB of float64: far beyond any useful kernel


def _check_gaussian(sigma, truncate, ndim) -> tuple[float, float, int]:
    sigma = check_in_range(sigma, "sigma", 0, low_inclusive=False)
    truncate = check_in_range(truncate, "truncate", 0, low_inclusive=False)
    ndim = _check_ndim(ndim)
    side = 2 * int(truncate * sigma + 0.5) + 1
    if side**ndim > MAX_KERNEL_ELEMENTS:
        raise ValueError(
            f"`sigma` must give a kernel of at most {MAX_KERNEL_ELEMENTS} values, got {sigma:g} "
            f"(a {' x '.join([str(side)] * ndim)} kernel, {side**ndim * 8 / 2**30:.3g} GiB); "
            "for very wide smoothing use scipy.ndimage.gaussian_filter, which never builds it"
        )
    return sigma, truncate, ndim


def _gaussian_1d(sigma: float, truncate: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``x`` and the normalised Gaussian sampled there, as scipy.ndimage does."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * x**2 / sigma**2)
    return x, g / g.sum()


def gaussian_kernel(sigma: float, *, truncate: float = 4.0, ndim: int = 2) -> np.ndarray:
    """A sampled Gaussian, normalised to sum 1: smoothing that weighs near neighbours most.

    Radius ``int(truncate * sigma + 0.5)``; the outer product of one 1D Gaussian per axis (the
    Gaussian is *separable*), exactly the kernel of ``scipy.ndimage.gaussian_filter``.

    >>> k = gaussian_kernel(1.0, truncate=2.0)
    >>> k.shape, float(round(k.sum(), 6)), bool(k[2, 2] == k.max())
    ((5, 5), 1.0, True)
    """
    sigma, truncate, ndim = _check_gaussian(sigma, truncate, ndim)
    _, g = _gaussian_1d(sigma, truncate)
    return _outer([g] * ndim)


def _derivative_kernel(smoothing, axis, ndim) -> np.ndarray:
    """Central difference ``-1 0 1`` along ``axis``, ``smoothing`` along every other axis."""
    ndim = _check_ndim(ndim)
    vectors = [np.asarray(smoothing, dtype=np.float64)] * ndim
    vectors[_check_axis(axis, ndim)] = np.array([-1.0, 0.0, 1.0])
    return _outer(vectors)


def sobel_kernel(axis: int = 0, *, ndim: int = 2) -> np.ndarray:
    """The Sobel kernel: a derivative along ``axis``, smoothed with weights 1 2 1 across it.

    ``axis=0`` differentiates down the rows, so it responds to horizontal edges. With
    :func:`correlate` it equals ``scipy.ndimage.sobel(image, axis)`` (unnormalised;
    ``skimage.filters.sobel_h`` divides by 4 and flips the sign).

    >>> sobel_kernel(axis=0)
    array([[-1., -2., -1.],
           [ 0.,  0.,  0.],
           [ 1.,  2.,  1.]])
    """
    return _derivative_kernel([1.0, 2.0, 1.0], axis, ndim)


def prewitt_kernel(axis: int = 0, *, ndim: int = 2) -> np.ndarray:
    """The Prewitt kernel: like :func:`sobel_kernel` with equal smoothing weights 1 1 1.

    >>> prewitt_kernel(axis=1)
    array([[-1.,  0.,  1.],
           [-1.,  0.,  1.],
           [-1.,  0.,  1.]])
    """
    return _derivative_kernel([1.0, 1.0, 1.0], axis, ndim)


def laplacian_kernel(*, ndim: int = 2) -> np.ndarray:
    """The discrete Laplacian: the sum of second differences ``1 -2 1`` along every axis.

    Zero on flat regions and ramps, large where the intensity curves (spots, lines, edges).

    >>> laplacian_kernel()
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    ndim = _check_ndim(ndim)
    kernel = np.zeros((3,) * ndim)
    for axis in range(ndim):
        index = [1] * ndim
        for i, weight in enumerate((1.0, -2.0, 1.0)):
            index[axis] = i
            kernel[tuple(index)] += weight
    return kernel


def log_kernel(sigma: float, *, truncate: float = 4.0, ndim: int = 2) -> np.ndarray:
    """Laplacian of Gaussian (LoG): a Gaussian smoothing and the Laplacian, in one kernel.

    A bright blob of radius about ``sigma * sqrt(2)`` gives a strongly negative centre, so
    ``-sigma**2 * LoG`` detects blobs. Sampled as ``scipy.ndimage.gaussian_laplace`` does: the
    second derivative of the 1D Gaussian along each axis in turn, times ``g`` across, summed.

    >>> k = log_kernel(1.0)
    >>> k.shape, bool(k[4, 4] == k.min()), float(round(abs(k.sum()), 3))
    ((9, 9), True, 0.0)
    """
    sigma, truncate, ndim = _check_gaussian(sigma, truncate, ndim)
    x, g = _gaussian_1d(sigma, truncate)
    d2 = (x**2 / sigma**4 - 1.0 / sigma**2) * g
    kernel = np.zeros((x.size,) * ndim)
    for axis in range(ndim):
        vectors = [g] * ndim
        vectors[axis] = d2
        kernel += _outer(vectors)
    return kernel


def make_kernel(name: str, *, sigma: float = 1.0, size: int = 3, axis: int = 0) -> np.ndarray:
    """A 2D kernel by name (one of :data:`KERNEL_NAMES`), for filter banks and the explorer.

    >>> make_kernel("mean", size=3).sum()
    np.float64(1.0)
    """
    check_choice(name, "name", KERNEL_NAMES)
    if name == "identity":
        return identity_kernel(size)
    if name == "mean":
        return mean_kernel(size)
    if name == "gaussian":
        return gaussian_kernel(sigma)
    if name == "sobel":
        return sobel_kernel(axis)
    if name == "prewitt":
        return prewitt_kernel(axis)
    if name == "laplacian":
        return laplacian_kernel()
    return log_kernel(sigma)


def combine_kernels(first, second) -> np.ndarray:
    """One kernel that filters like ``first`` followed by ``second`` (both by convolution).

    Their full convolution (one more pixel, zero, where both sizes are even, so the centres add
    up). Exact with ``mode='wrap'``, elsewhere away from the border. A Gaussian then a derivative
    is one "derivative of Gaussian": stacked linear filters give nothing new without a
    nonlinearity in between.

    >>> combine_kernels(np.array([[1.0, 1.0]]), np.array([[1.0, 1.0]]))
    array([[1., 2., 1., 0.]])
    """
    first = check_array(first, "first", finite=True)
    second = check_array(second, "second", finite=True)
    if first.ndim != second.ndim:
        raise ValueError(
            f"`first` and `second` must have the same number of dimensions, "
            f"got shapes {first.shape} and {second.shape}"
        )
    shape = [
        a + b - 1 + (a % 2 == 0 and b % 2 == 0)
        for a, b in zip(first.shape, second.shape, strict=True)
    ]
    combined = np.zeros(shape)
    for offset in np.ndindex(second.shape):  # a shifted copy of `first` per element of `second`
        combined[shifted_block(offset, first.shape)] += second[offset] * first
    return combined


def gradient_magnitude(
    image, *, kind: str = "sobel", mode: str = "reflect", cval: float = 0.0
) -> np.ndarray:
    """Edge strength: ``sqrt(d0**2 + d1**2 + ...)`` of the Sobel (or Prewitt) derivatives.

    Two linear filters combined nonlinearly; equals
    ``scipy.ndimage.generic_gradient_magnitude(image, scipy.ndimage.sobel, mode=mode)``.

    >>> step = np.repeat([[0.0, 0.0, 1.0, 1.0]], 4, axis=0)
    >>> gradient_magnitude(step, mode="nearest")[0]
    array([0., 4., 4., 0.])
    """
    image = check_array(image, "image", ndim=(2, 3))
    check_choice(kind, "kind", ("sobel", "prewitt"))
    make = sobel_kernel if kind == "sobel" else prewitt_kernel
    squares = [
        correlate(image, make(axis, ndim=image.ndim), mode=mode, cval=cval) ** 2
        for axis in range(image.ndim)
    ]
    return np.sqrt(np.sum(squares, axis=0))
