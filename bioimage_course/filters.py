"""Convolution and correlation written out, the classic filter kernels, and learning a kernel.

Introduced in notebook 02 (convolutions). A *linear filter* replaces every pixel by a weighted
sum of its neighbours; the table of weights is the *kernel*. Two conventions exist:

* **correlation** lays the kernel on the image as it is::

      out[r, c] = sum over (i, j) of kernel[i, j] * image[r + i - ci, c + j - cj]

* **convolution** flips the kernel first (the minus signs)::

      out[r, c] = sum over (i, j) of kernel[i, j] * image[r - (i - ci), c - (j - cj)]

``(ci, cj)`` is the kernel's *centre*, the index ``size // 2`` along each axis. For an odd size
that is the middle; for an even size (no middle exists) it is the element just after the
geometric centre, e.g. index 2 of a size-4 kernel. This is the convention of
``scipy.ndimage.correlate`` and ``scipy.ndimage.convolve`` with ``origin=0``, which these
functions reproduce exactly, in both directions. For a symmetric kernel (mean, Gaussian,
Laplacian) both conventions give the same image; for an asymmetric one (Sobel) the results are
mirror images. A convolutional layer of a neural network (``torch.nn.functional.conv2d``)
computes a *correlation*, despite its name.

Near the border the kernel reaches outside the image, so the image is first *padded*; ``mode``
says with what (the names and meanings are scipy.ndimage's, see :func:`pad`).

Learning a filter (:func:`learn_kernel`) turns the question around: given images and the
filtered images we want, find the kernel by gradient descent. That is what training a
convolutional neural network does, for many kernels at once.

Examples
--------
The worked example of the lecture: a 5 x 5 pattern filtered with a 3 x 3 mean. The lecture
shows 0.66 and 0.77; the exact values are 6/9 = 0.667 and 7/9 = 0.778.

>>> import numpy as np
>>> pattern = np.array([[1.0, 0.5, 0.5, 0.5, 1.0],
...                     [0.5, 1.0, 0.5, 1.0, 0.5],
...                     [0.5, 0.5, 1.0, 0.5, 0.5],
...                     [0.5, 1.0, 0.5, 1.0, 0.5],
...                     [1.0, 0.5, 0.5, 0.5, 1.0]])
>>> filtered = correlate(pattern, mean_kernel(3))
>>> print(np.round(filtered[1:-1, 1:-1], 3))  # where the kernel lies fully inside the image
[[0.667 0.667 0.667]
 [0.667 0.778 0.667]
 [0.667 0.667 0.667]]
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_array, check_choice, check_in_range, check_same_shape
from .device import get_device

MODES = ("constant", "reflect", "mirror", "nearest", "wrap")

# scipy.ndimage's mode names -> numpy.pad's names for the same padding.
_NUMPY_PAD_MODE = {
    "constant": "constant",
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
}

KERNEL_NAMES = ("identity", "mean", "gaussian", "sobel", "prewitt", "laplacian", "log")

LOSSES = ("mse", "mae")


# ----------------------------------------------------------------------------------------------
# Padding, correlation and convolution
# ----------------------------------------------------------------------------------------------


def pad(image, pad_width, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Extend ``image`` beyond its border, the way scipy.ndimage's filters do.

    Parameters
    ----------
    image : array_like
        1D, 2D or 3D array.
    pad_width : int or sequence of (before, after)
        Pixels to add: one int for every side, or one ``(before, after)`` pair per axis.
    mode : {'reflect', 'constant', 'mirror', 'nearest', 'wrap'}
        How the missing pixels are filled, shown for a row ``a b c d`` padded by 3
        (scipy.ndimage's names; numpy.pad and torch call some of them differently):

        ==========  =====================  =============  =============
        mode        padded row             numpy.pad      torch F.pad
        ==========  =====================  =============  =============
        reflect     c b a|a b c d|d c b    'symmetric'    (none)
        mirror      d c b|a b c d|c b a    'reflect'      'reflect'
        nearest     a a a|a b c d|d d d    'edge'         'replicate'
        wrap        b c d|a b c d|a b c    'wrap'         'circular'
        constant    k k k|a b c d|k k k    'constant'     'constant'
        ==========  =====================  =============  =============

        ``reflect`` repeats the edge pixel (the mirror sits half a pixel outside the image);
        ``mirror`` does not (the mirror sits on the edge pixel). ``reflect`` is scipy's default.
    cval : float
        The value ``k`` used by ``mode='constant'``.

    Returns
    -------
    ndarray
        The padded image, same dtype as ``image`` (so ``cval`` is cast to that dtype).

    Examples
    --------
    >>> pad(np.array([1, 2, 3, 4]), 3, mode="reflect")
    array([3, 2, 1, 1, 2, 3, 4, 4, 3, 2])
    >>> pad(np.array([1, 2, 3, 4]), 3, mode="mirror")
    array([4, 3, 2, 1, 2, 3, 4, 3, 2, 1])
    """
    image = check_array(image, "image", ndim=(1, 2, 3))
    check_choice(mode, "mode", MODES)
    if mode == "constant":
        cval = check_in_range(cval, "cval")
        return np.pad(image, pad_width, mode="constant", constant_values=cval)
    return np.pad(image, pad_width, mode=_NUMPY_PAD_MODE[mode])


def _check_filter_args(image, kernel, mode) -> tuple[np.ndarray, np.ndarray]:
    image = check_array(image, "image", ndim=(1, 2, 3))
    kernel = check_array(kernel, "kernel", finite=True)
    if kernel.ndim != image.ndim:
        raise ValueError(
            f"`kernel` must have as many dimensions as `image` ({image.ndim}), "
            f"got shape {kernel.shape}"
        )
    check_choice(mode, "mode", MODES)
    return image, kernel


def _pad_widths(kernel_shape, centre=None) -> list[tuple[int, int]]:
    """(before, after) padding per axis so the kernel fits with ``centre`` over every pixel.

    ``centre`` is the index of the kernel element placed over the pixel, ``size // 2`` by default.
    """
    if centre is None:
        centre = [size // 2 for size in kernel_shape]
    return [(c, size - 1 - c) for c, size in zip(centre, kernel_shape, strict=True)]


def _shifted(offset, shape) -> tuple:
    """Index of the block of ``shape`` that starts at ``offset`` (in the last axes)."""
    return (..., *(slice(o, o + n) for o, n in zip(offset, shape, strict=True)))


def _shift_and_add(padded, kernel, out_shape) -> np.ndarray:
    """Correlation of an already padded image: the sum, over the kernel's elements, of the
    weight times the padded image shifted by that element's offset.

    ``out_shape`` is the shape of the last axes of the result; leading axes of ``padded``
    (a stack of images) are kept.
    """
    out = np.zeros(padded.shape[: padded.ndim - kernel.ndim] + tuple(out_shape))
    for offset in np.ndindex(kernel.shape):  # (0, 0), (0, 1), ... over the kernel's elements
        out += kernel[offset] * padded[_shifted(offset, out_shape)]
    return out


def correlate(image, kernel, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Correlate ``image`` with ``kernel``: each pixel becomes the weighted sum of its neighbours.

    Parameters
    ----------
    image : array_like
        1D, 2D or 3D image (any numeric dtype).
    kernel : array_like
        Weights, with as many dimensions as ``image``; any size, odd or even.
    mode : {'reflect', 'constant', 'mirror', 'nearest', 'wrap'}
        How the image is extended beyond its border (see :func:`pad`).
    cval : float
        Fill value for ``mode='constant'``.

    Returns
    -------
    ndarray of float64
        Same shape as ``image``. Always floating point: a filtered image may leave the value
        range of the input (negative edges, fractions of integers), so it is never rounded or
        clipped back to the input's dtype.

    Notes
    -----
    ``out[r, c] = sum_ij kernel[i, j] * image[r + i - ci, c + j - cj]`` with the centre
    ``ci = kernel.shape[0] // 2``, ``cj = kernel.shape[1] // 2``. Equal to
    ``scipy.ndimage.correlate(image, kernel, mode=mode, cval=cval)`` (``origin=0``) and, for
    ``mode='constant'`` with ``cval=0``, to ``torch.nn.functional.conv2d`` with zero padding.
    The loop runs over the kernel's elements (a few), not the image's pixels (many), which
    gives the same sums as :func:`correlate_naive` much faster.

    Examples
    --------
    >>> image = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    >>> kernel = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    >>> correlate(image, kernel, mode="constant")  # a lone bright pixel: the kernel, flipped
    array([[9., 8., 7.],
           [6., 5., 4.],
           [3., 2., 1.]])
    """
    image, kernel = _check_filter_args(image, kernel, mode)
    padded = pad(image.astype(np.float64), _pad_widths(kernel.shape), mode=mode, cval=cval)
    return _shift_and_add(padded, kernel, image.shape)


def convolve(image, kernel, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Convolve ``image`` with ``kernel``: a correlation with the kernel flipped along every axis.

    Parameters
    ----------
    image, kernel, mode, cval
        As in :func:`correlate`.

    Returns
    -------
    ndarray of float64
        Same shape as ``image``.

    Notes
    -----
    ``out[r, c] = sum_ij kernel[i, j] * image[r - (i - ci), c - (j - cj)]`` with the centre
    ``ci = kernel.shape[0] // 2`` as in :func:`correlate`. Flipping a kernel of size ``n``
    moves element ``i`` to ``n - 1 - i``, so the centre lands on ``n - 1 - n // 2``: the same
    element for odd ``n``, one before it for even ``n``. Equal to
    ``scipy.ndimage.convolve(image, kernel, mode=mode, cval=cval)`` (``origin=0``), odd and
    even sizes alike.

    Convolution, unlike correlation, is associative: filtering with ``a`` and then ``b`` is
    filtering once with ``a`` convolved with ``b`` (see :func:`combine_kernels`).

    Examples
    --------
    >>> image = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    >>> kernel = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    >>> convolve(image, kernel, mode="constant")  # a lone bright pixel: the kernel itself
    array([[1., 2., 3.],
           [4., 5., 6.],
           [7., 8., 9.]])
    """
    image, kernel = _check_filter_args(image, kernel, mode)
    flipped = kernel[(slice(None, None, -1),) * kernel.ndim]
    centre = [size - 1 - size // 2 for size in kernel.shape]  # the centre, after the flip
    padded = pad(image.astype(np.float64), _pad_widths(kernel.shape, centre), mode=mode, cval=cval)
    return _shift_and_add(padded, flipped, image.shape)


def correlate_naive(image, kernel, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Correlation of a 2D image written as the definition: a loop over every output pixel.

    Slow (one Python step per pixel) but says exactly what happens: put the kernel on the
    padded image, multiply element by element, sum, move one pixel, repeat. Same result as
    :func:`correlate`; use it on small images to see the idea.

    Parameters
    ----------
    image : array_like
        2D image.
    kernel : array_like
        2D weights, odd or even sizes.
    mode, cval
        Border handling, as in :func:`correlate`.

    Returns
    -------
    ndarray of float64
        Same shape as ``image``.

    Examples
    --------
    >>> correlate_naive(np.arange(9.0).reshape(3, 3), np.ones((3, 3)), mode="nearest")
    array([[12., 18., 24.],
           [30., 36., 42.],
           [48., 54., 60.]])
    """
    image = check_array(image, "image", ndim=2)
    kernel = check_array(kernel, "kernel", ndim=2, finite=True)
    check_choice(mode, "mode", MODES)
    k_rows, k_cols = kernel.shape
    padded = pad(image.astype(np.float64), _pad_widths(kernel.shape), mode=mode, cval=cval)
    out = np.zeros(image.shape, dtype=np.float64)
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            window = padded[r : r + k_rows, c : c + k_cols]  # the neighbourhood of (r, c)
            out[r, c] = np.sum(window * kernel)
    return out


# ----------------------------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _as_shape(size, ndim: int, name: str = "size") -> tuple[int, ...]:
    sizes = (size,) * ndim if np.isscalar(size) else tuple(size)
    if len(sizes) != ndim or not all(_is_int(s) and s >= 1 for s in sizes):
        raise ValueError(f"`{name}` must be a positive int or {ndim} positive ints, got {size!r}")
    return tuple(int(s) for s in sizes)


def _check_ndim(ndim) -> int:
    if not _is_int(ndim) or ndim not in (1, 2, 3):
        raise ValueError(f"`ndim` must be 1, 2 or 3, got {ndim!r}")
    return int(ndim)


def _outer(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """The separable kernel ``v0[i] * v1[j] * ...`` built from one 1D vector per axis."""
    kernel = np.asarray(vectors[0], dtype=np.float64)
    for v in vectors[1:]:
        kernel = np.multiply.outer(kernel, np.asarray(v, dtype=np.float64))
    return kernel


def _check_axis(axis, ndim: int) -> int:
    if not _is_int(axis) or not -ndim <= axis < ndim:
        raise ValueError(f"`axis` must be an int in [{-ndim}, {ndim - 1}], got {axis!r}")
    return int(axis) % ndim


def identity_kernel(size=3, *, ndim: int = 2) -> np.ndarray:
    """A kernel that changes nothing: 1 at the centre (index ``size // 2``), 0 elsewhere.

    Examples
    --------
    >>> identity_kernel(3)
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 0.]])
    """
    shape = _as_shape(size, _check_ndim(ndim))
    kernel = np.zeros(shape)
    kernel[tuple(s // 2 for s in shape)] = 1.0
    return kernel


def mean_kernel(size=3, *, ndim: int = 2) -> np.ndarray:
    """The mean (box) filter: equal weights that sum to 1, so flat regions keep their value.

    Parameters
    ----------
    size : int or tuple of int
        Side length, or one length per axis.
    ndim : int
        Number of dimensions when ``size`` is an int.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> mean_kernel(2)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    shape = _as_shape(size, _check_ndim(ndim))
    return np.full(shape, 1.0 / np.prod(shape))


def _check_gaussian(sigma, truncate, ndim) -> tuple[float, float, int]:
    sigma = check_in_range(sigma, "sigma", 0, low_inclusive=False)
    truncate = check_in_range(truncate, "truncate", 0, low_inclusive=False)
    return sigma, truncate, _check_ndim(ndim)


def _gaussian_1d(sigma: float, truncate: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``x`` and the normalised Gaussian sampled there, as scipy.ndimage does."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * x**2 / sigma**2)
    return x, g / g.sum()


def gaussian_kernel(sigma: float, *, truncate: float = 4.0, ndim: int = 2) -> np.ndarray:
    """A sampled Gaussian, normalised to sum 1: smoothing that weighs near neighbours most.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0).
    truncate : float
        The kernel extends ``int(truncate * sigma + 0.5)`` pixels each side of the centre.
    ndim : int
        Number of dimensions.

    Returns
    -------
    ndarray of float64
        Shape ``2 * radius + 1`` along each axis.

    Notes
    -----
    Built as the outer product of one normalised 1D Gaussian per axis, exactly the kernel
    ``scipy.ndimage.gaussian_filter(image, sigma, truncate=truncate)`` applies (one axis at a
    time, which is faster for the same result: the Gaussian is *separable*).

    Examples
    --------
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

    ``axis=0`` differentiates along the rows (top to bottom), so it responds to horizontal
    edges; ``axis=1`` along the columns, responding to vertical edges. Used with
    :func:`correlate`, the response is positive where intensity increases with the index.

    Examples
    --------
    >>> sobel_kernel(axis=0)
    array([[-1., -2., -1.],
           [ 0.,  0.,  0.],
           [ 1.,  2.,  1.]])

    Notes
    -----
    Unnormalised, as ``scipy.ndimage.sobel(image, axis)``, which equals
    ``correlate(image, sobel_kernel(axis))``. (``skimage.filters.sobel_h`` divides by 4 and
    has the opposite sign.)
    """
    return _derivative_kernel([1.0, 2.0, 1.0], axis, ndim)


def prewitt_kernel(axis: int = 0, *, ndim: int = 2) -> np.ndarray:
    """The Prewitt kernel: like :func:`sobel_kernel` with equal smoothing weights 1 1 1.

    Equals ``scipy.ndimage.prewitt(image, axis)`` when used with :func:`correlate`.

    Examples
    --------
    >>> prewitt_kernel(axis=1)
    array([[-1.,  0.,  1.],
           [-1.,  0.,  1.],
           [-1.,  0.,  1.]])
    """
    return _derivative_kernel([1.0, 1.0, 1.0], axis, ndim)


def laplacian_kernel(*, ndim: int = 2) -> np.ndarray:
    """The discrete Laplacian: the sum of second differences ``1 -2 1`` along every axis.

    Zero on flat regions and linear ramps, large where the intensity curves (spots, lines,
    edges). Equals ``scipy.ndimage.laplace`` when used with :func:`correlate`.

    Examples
    --------
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
    """Laplacian of Gaussian (LoG): smooth with a Gaussian, then take the Laplacian, in one kernel.

    A bright blob of radius about ``sigma * sqrt(2)`` (2D) gives a strongly *negative* response
    at its centre, so ``-sigma**2 * LoG`` is a blob detector (the factor ``sigma**2`` makes
    responses comparable across scales).

    Parameters
    ----------
    sigma : float
        Standard deviation of the Gaussian in pixels (> 0).
    truncate : float
        The kernel extends ``int(truncate * sigma + 0.5)`` pixels each side of the centre.
    ndim : int
        Number of dimensions.

    Returns
    -------
    ndarray of float64

    Notes
    -----
    Sampled as ``scipy.ndimage.gaussian_laplace`` does: along each axis in turn the second
    derivative of the Gaussian, ``(x**2 / sigma**4 - 1 / sigma**2) * g(x)`` with ``g`` the
    normalised 1D Gaussian, times ``g`` along the other axes; the terms are summed.
    ``correlate(image, log_kernel(s))`` equals ``scipy.ndimage.gaussian_laplace(image, s)``.

    Examples
    --------
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
    """A 2D kernel by name, for filter banks and the interactive explorer.

    Parameters
    ----------
    name : {'identity', 'mean', 'gaussian', 'sobel', 'prewitt', 'laplacian', 'log'}
        Which kernel.
    sigma : float
        Used by 'gaussian' and 'log'.
    size : int
        Used by 'identity' and 'mean'.
    axis : int
        Used by 'sobel' and 'prewitt' (0: derivative along rows, 1: along columns).

    Examples
    --------
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

    Parameters
    ----------
    first, second : array_like
        Kernels with the same number of dimensions.

    Returns
    -------
    ndarray of float64
        The full convolution of the two kernels (size ``n1 + n2 - 1`` per axis; one more,
        with a trailing zero, where both sizes are even, so that its centre ``size // 2`` is
        where the two centres add up).

    Notes
    -----
    ``convolve(convolve(image, first), second) == convolve(image, combine_kernels(first,
    second))`` exactly with ``mode='wrap'``, and away from the border for other modes (the
    two-step version pads twice). A Gaussian followed by a derivative is a single
    "derivative of Gaussian" kernel; this is why stacking linear filters gives nothing new
    without a nonlinearity in between.

    Examples
    --------
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
        combined[_shifted(offset, first.shape)] += second[offset] * first
    return combined


def gradient_magnitude(
    image, *, kind: str = "sobel", mode: str = "reflect", cval: float = 0.0
) -> np.ndarray:
    """Edge strength: the length of the gradient vector estimated with Sobel or Prewitt kernels.

    Two linear filters (one derivative per axis) combined nonlinearly:
    ``sqrt(d0**2 + d1**2 + ...)``. Equals
    ``scipy.ndimage.generic_gradient_magnitude(image, scipy.ndimage.sobel, mode=mode)``.

    Parameters
    ----------
    image : array_like
        2D or 3D image.
    kind : {'sobel', 'prewitt'}
        Derivative kernel.
    mode, cval
        Border handling, as in :func:`correlate`.

    Returns
    -------
    ndarray of float64

    Examples
    --------
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


# ----------------------------------------------------------------------------------------------
# Learning a kernel by gradient descent
# ----------------------------------------------------------------------------------------------


def _as_stack(x, name: str) -> np.ndarray:
    """A 2D image or a stack of 2D images -> float64 array (n, rows, cols)."""
    arr = check_array(x, name, ndim=(2, 3), finite=True)
    return (arr[None] if arr.ndim == 2 else arr).astype(np.float64)


def _padded_stack(inputs, size, mode, cval) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad every image of a stack for a kernel of ``size``; return it and the kernel shape."""
    shape = _as_shape(size, 2)
    check_choice(mode, "mode", MODES)
    return pad(inputs, [(0, 0), *_pad_widths(shape)], mode=mode, cval=cval), shape


def _prepare_pairs(inputs, targets, size, mode, cval):
    inputs = _as_stack(inputs, "inputs")
    targets = _as_stack(targets, "targets")
    check_same_shape(inputs, targets, "inputs", "targets")
    padded, shape = _padded_stack(inputs, size, mode, cval)
    return padded, targets, shape


def critical_learning_rate(inputs, *, size=3, mode: str = "reflect", cval: float = 0.0) -> float:
    """The largest learning rate for which gradient descent on the MSE loss does not diverge.

    Learning a kernel with the mean squared error is linear least squares. Gradient descent
    with step ``lr`` converges from every start if and only if ``lr < 2 / lambda_max``, where
    ``lambda_max`` is the largest eigenvalue of the loss's (constant) Hessian
    ``2/N * A.T @ A``; ``A`` has one column per kernel weight holding the input pixels that
    weight multiplies.

    Parameters
    ----------
    inputs : array_like
        A 2D image or a stack (n, rows, cols) of them.
    size : int or (int, int)
        Kernel size.
    mode, cval
        Border handling, as in :func:`correlate`.

    Returns
    -------
    float
        ``2 / lambda_max``.

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(size=(64, 64))
    >>> round(critical_learning_rate(noise, size=3), 1)  # white noise: Hessian close to 2 I
    1.0
    """
    inputs = _as_stack(inputs, "inputs")
    padded, shape = _padded_stack(inputs, size, mode, cval)
    image_shape = inputs.shape[1:]
    gram = np.zeros((np.prod(shape), np.prod(shape)))
    for image in padded:  # one image at a time keeps memory small
        columns = np.stack(
            [image[_shifted(offset, image_shape)].ravel() for offset in np.ndindex(shape)], axis=1
        )
        gram += columns.T @ columns
    n_pixels = inputs.size
    hessian = 2.0 * gram / n_pixels
    return float(2.0 / np.linalg.eigvalsh(hessian)[-1])


def loss_gradient(
    inputs, targets, kernel, *, loss: str = "mse", mode: str = "reflect", cval: float = 0.0
) -> np.ndarray:
    """The gradient of the loss with respect to each kernel weight, written out (no autograd).

    This is what backpropagation computes for a single correlation "layer". With the
    prediction ``p = correlate(x, w)`` and the residual ``e = p - y`` over ``N`` pixels:

    * MSE, ``L = mean(e**2)``:  ``dL/dw[i, j] = 2/N * sum_rc e[r, c] * x_pad[r + i, c + j]``
    * MAE, ``L = mean(|e|)``:   ``dL/dw[i, j] = 1/N * sum_rc sign(e[r, c]) * x_pad[r + i, c + j]``

    So the gradient is itself a correlation: the padded input correlated with the residual
    (or its sign), read out at the kernel's offsets. (Chain rule: ``dL/dp`` times ``dp/dw``,
    and ``dp[r, c]/dw[i, j]`` is the input pixel that weight ``w[i, j]`` multiplied.)

    Parameters
    ----------
    inputs, targets : array_like
        2D images or stacks (n, rows, cols) of the same shape.
    kernel : array_like
        2D kernel at which to evaluate the gradient.
    loss : {'mse', 'mae'}
        Mean squared error (the squared L2 loss) or mean absolute error (the L1 loss).
    mode, cval
        Border handling, as in :func:`correlate`.

    Returns
    -------
    ndarray of float64
        Same shape as ``kernel``.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(16, 16))
    >>> y = correlate(x, sobel_kernel(0))
    >>> np.abs(loss_gradient(x, y, sobel_kernel(0))).max()  # at the answer: zero gradient
    np.float64(0.0)
    """
    kernel = check_array(kernel, "kernel", ndim=2, finite=True).astype(np.float64)
    check_choice(loss, "loss", LOSSES)
    padded, targets, _ = _prepare_pairs(inputs, targets, kernel.shape, mode, cval)
    image_shape = targets.shape[1:]
    residual = _shift_and_add(padded, kernel, image_shape) - targets
    if loss == "mse":
        d_loss_d_prediction = 2.0 * residual / residual.size
    else:
        d_loss_d_prediction = np.sign(residual) / residual.size
    gradient = np.zeros(kernel.shape)
    for offset in np.ndindex(kernel.shape):
        gradient[offset] = np.sum(d_loss_d_prediction * padded[_shifted(offset, image_shape)])
    return gradient


def learn_kernel(
    inputs,
    targets,
    *,
    size=3,
    lr: float,
    steps: int = 200,
    loss: str = "mse",
    mode: str = "reflect",
    cval: float = 0.0,
    device=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the kernel that turns ``inputs`` into ``targets``, by gradient descent in torch.

    The model is one correlation, ``prediction = correlate(input, kernel, mode=mode)``, i.e.
    a convolutional layer with one filter and no bias. Starting from a kernel of zeros, every
    step computes the loss on all pairs, lets autograd backpropagate it to the kernel weights
    and moves them against the gradient: ``kernel <- kernel - lr * dL/dkernel``.

    Parameters
    ----------
    inputs, targets : array_like
        Pairs of images: a 2D image each, or stacks (n, rows, cols) of the same shape.
    size : int or (int, int)
        Size of the kernel to learn.
    lr : float
        Learning rate (> 0): the step size. For the MSE loss, steps beyond
        :func:`critical_learning_rate` diverge; much smaller ones converge slowly.
    steps : int
        Number of gradient-descent steps (full batch: all pairs every step).
    loss : {'mse', 'mae'}
        Mean squared error (the squared L2 loss; penalises large errors most) or mean
        absolute error (the L1 loss; robust to a few very wrong target pixels). The MAE
        gradient depends only on the *sign* of each error, so it does not shrink near the
        answer: with a fixed learning rate the kernel keeps jittering around the solution by
        about ``lr`` times the input's mean absolute value. Use a smaller ``lr`` than for MSE.
    mode, cval
        Border handling of the model, as in :func:`correlate`; use the one the targets were
        made with.
    device : str or torch.device, optional
        Where to compute (see :func:`bioimage_course.device.get_device`). The computation is
        in float64 (float32 on Apple GPUs, which have no float64).

    Returns
    -------
    kernel : ndarray of float64
        The learned kernel, shape ``size``.
    history : ndarray of float64
        The loss before each step. Shorter than ``steps`` if the loss became infinite or NaN
        (the descent diverged); the returned kernel is then the last finite one.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(2, 32, 32))
    >>> hidden = sobel_kernel(axis=1)
    >>> y = np.stack([correlate(image, hidden) for image in x])
    >>> kernel, history = learn_kernel(x, y, size=3, lr=0.5, steps=50, device="cpu")
    >>> bool(np.abs(kernel - hidden).max() < 1e-3), bool(history[-1] < 1e-6 * history[0])
    (True, True)
    """
    padded, targets, shape = _prepare_pairs(inputs, targets, size, mode, cval)
    lr = check_in_range(lr, "lr", 0, low_inclusive=False)
    if not _is_int(steps) or steps < 1:
        raise ValueError(f"`steps` must be a positive int, got {steps!r}")
    check_choice(loss, "loss", LOSSES)
    dev = get_device(device)

    # float64 keeps the answer exact to many digits; float32 convolutions on recent NVIDIA GPUs
    # run in TF32 by default (about 3 significant digits). Apple GPUs have no float64.
    dtype = torch.float32 if dev.type == "mps" else torch.float64
    x = torch.as_tensor(padded[:, None], dtype=dtype, device=dev)  # (n, 1, rows, cols)
    y = torch.as_tensor(targets[:, None], dtype=dtype, device=dev)
    weight = torch.zeros((1, 1, *shape), dtype=dtype, device=dev, requires_grad=True)
    history = []
    last_finite = weight.detach().clone()
    for _ in range(int(steps)):
        prediction = F.conv2d(x, weight)  # a correlation, no padding: x is already padded
        error = prediction - y
        value = (error**2).mean() if loss == "mse" else error.abs().mean()
        if not torch.isfinite(value):
            break
        history.append(value.item())
        last_finite = weight.detach().clone()
        weight.grad = None
        value.backward()  # backpropagation: fills weight.grad with dL/dweight
        with torch.no_grad():
            weight -= lr * weight.grad
    else:
        last_finite = weight.detach()
    kernel = last_finite[0, 0].cpu().numpy().astype(np.float64)
    return kernel, np.asarray(history, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _centred_imshow(ax, values):
    """imshow with white at zero, red for positive and blue for negative values."""
    limit = float(np.abs(values).max()) or 1.0
    return ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")


def _signed_imshow(ax, values):
    """:func:`_centred_imshow` when ``values`` has negatives, else gray."""
    if values.min() < 0:
        return _centred_imshow(ax, values)
    return ax.imshow(values, cmap="gray", interpolation="nearest")


def _short_number(value: float) -> str:
    """A weight as at most ~6 characters: '0' below 5e-4, '2e+16' when huge, else 3 digits."""
    if abs(value) < 5e-4:
        return "0"
    if abs(value) >= 1e4:
        return f"{value:.0e}"
    return f"{value:.3g}"


def plot_kernel(
    kernel,
    *,
    ax=None,
    title: str | None = None,
    annotate: bool | None = None,
    cmap: str | None = None,
):
    """Draw a 2D kernel (or any small array) as a grid of coloured cells, with the values.

    Parameters
    ----------
    kernel : array_like
        2D weights.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    title : str, optional
        Axes title.
    annotate : bool, optional
        Write each weight in its cell (rounded); default when the kernel has at most 5 x 5
        weights.
    cmap : str, optional
        Colormap over the data's range. Default: red for positive, blue for negative weights,
        white for zero.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> len(plot_kernel(sobel_kernel(0)).texts)
    9
    """
    kernel = check_array(kernel, "kernel", ndim=2, finite=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    if cmap is None:
        shown = _centred_imshow(ax, kernel)
    else:
        low, high = float(kernel.min()), float(kernel.max())
        shown = ax.imshow(
            kernel,
            cmap=cmap,
            vmin=low,
            vmax=high if high > low else low + 1,
            interpolation="nearest",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if annotate is None:
        annotate = max(kernel.shape) <= 5
    if annotate:
        for (r, c), value in np.ndenumerate(kernel):
            red, green, blue, _ = shown.cmap(shown.norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(
                c,
                r,
                _short_number(value),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_loss_curves(histories: dict, *, ax=None, title: str | None = None, log: bool = True):
    """Plot loss against gradient-descent step for several runs (label -> history).

    A diverged run (a history shorter than the others) is drawn up to where it stopped.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_loss_curves({"lr = 0.1": np.array([1.0, 0.5, 0.25])})
    >>> ax.get_xlabel()
    'gradient-descent step'
    """
    if not histories:
        raise ValueError("`histories` must contain at least one loss curve, got none")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for label, history in histories.items():
        ax.plot(np.asarray(history, dtype=np.float64), label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


def show_filter(
    image,
    name: str = "gaussian",
    *,
    sigma: float = 2.0,
    size: int = 3,
    axis: int = 0,
    mode: str = "reflect",
):
    """Figure: an image, a kernel and the filtered image side by side.

    The pure plotting function behind the notebook's interactive explorer (sliders for the
    kernel, ``sigma`` and ``mode``); it needs no front end, so it also runs headless.

    Parameters
    ----------
    image : array_like
        2D image.
    name : str
        Kernel name, one of :data:`KERNEL_NAMES` (see :func:`make_kernel`).
    sigma, size, axis
        Kernel parameters (see :func:`make_kernel`).
    mode : str
        Border handling (see :func:`pad`).

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = show_filter(np.eye(16), "sobel", axis=1)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['image', 'kernel: sobel (axis 1)', 'filtered']
    """
    image = check_array(image, "image", ndim=2, finite=True)
    kernel = make_kernel(name, sigma=sigma, size=size, axis=axis)
    filtered = correlate(image, kernel, mode=mode)
    detail = {
        "gaussian": f"sigma {sigma:g}",
        "log": f"sigma {sigma:g}",
        "mean": f"{size}x{size}",
        "identity": f"{size}x{size}",
        "sobel": f"axis {axis}",
        "prewitt": f"axis {axis}",
    }
    label = f"kernel: {name}" + (f" ({detail[name]})" if name in detail else "")

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 0.6, 1]})
    axes[0].imshow(image, cmap="gray", interpolation="nearest")
    axes[0].set_title("image", fontsize=10)
    plot_kernel(kernel, ax=axes[1], title=label)
    shown = _signed_imshow(axes[2], filtered)  # signed responses: white is zero
    axes[2].set_title("filtered", fontsize=10)
    fig.colorbar(shown, ax=axes[2], fraction=0.046, pad=0.04)
    for ax in (axes[0], axes[2]):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_filter_bank(
    image, kernels: dict, *, mode: str = "reflect", ncols: int = 4, size: float = 3.0
):
    """Figure: ``image`` filtered with each kernel of a bank (name -> kernel), one panel each.

    Responses with negative values (derivatives, Laplacians) are drawn red-white-blue with
    white at zero; the others in gray.

    Parameters
    ----------
    image : array_like
        2D image.
    kernels : dict
        Panel title -> 2D kernel.
    mode : str
        Border handling (see :func:`pad`).
    ncols : int
        Panels per row.
    size : float
        Size of each panel in inches.

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> bank = {"mean": mean_kernel(3), "sobel rows": sobel_kernel(0)}
    >>> fig = show_filter_bank(np.eye(8), bank)
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['mean', 'sobel rows']
    """
    image = check_array(image, "image", ndim=2, finite=True)
    if not kernels:
        raise ValueError("`kernels` must contain at least one kernel, got none")
    ncols = min(ncols, len(kernels))
    nrows = int(np.ceil(len(kernels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, kernel) in zip(axes.flat, kernels.items(), strict=False):  # spare axes stay off
        _signed_imshow(ax, correlate(image, kernel, mode=mode))
        ax.set_title(str(title), fontsize=10)
    fig.tight_layout()
    return fig
