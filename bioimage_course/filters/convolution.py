"""Correlation and convolution: by hand with loops, and fast by shifting and adding (notebook 02).

:func:`correlate_naive` is the definition written as loops; :func:`correlate` computes the
same sums one kernel element at a time over the whole image; both equal
``scipy.ndimage.correlate``. :func:`pad` extends the image beyond its border.

>>> import numpy as np
>>> image = np.arange(25.0).reshape(5, 5)
>>> kernel = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
>>> bool(np.allclose(correlate(image, kernel), correlate_naive(image, kernel)))
True
"""

from __future__ import annotations

import numpy as np

from .._validate import check_array, check_choice, check_in_range

MODES = ("constant", "reflect", "mirror", "nearest", "wrap")


# scipy.ndimage's mode names -> numpy.pad's names for the same padding.
_NUMPY_PAD_MODE = {
    "constant": "constant",
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
}


def pad(image, pad_width, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Extend ``image`` beyond its border, the way scipy.ndimage's filters do (same dtype).

    ``pad_width``: one int for every side, or one ``(before, after)`` pair per axis. ``mode``,
    shown for a row ``a b c d`` padded by 3 (scipy's names; numpy and torch differ):

    ==========  =====================  =============  =============
    mode        padded row             numpy.pad      torch F.pad
    ==========  =====================  =============  =============
    reflect     c b a|a b c d|d c b    'symmetric'    (none)
    mirror      d c b|a b c d|c b a    'reflect'      'reflect'
    nearest     a a a|a b c d|d d d    'edge'         'replicate'
    wrap        b c d|a b c d|a b c    'wrap'         'circular'
    constant    k k k|a b c d|k k k    'constant'     'constant'
    ==========  =====================  =============  =============

    ``k`` is ``cval``. ``reflect`` (scipy's default) repeats the edge pixel, ``mirror`` does not.

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


def pad_widths(kernel_shape, centre=None) -> list[tuple[int, int]]:
    """(before, after) padding per axis so the kernel fits with ``centre`` over every pixel.

    ``centre`` is the index of the kernel element placed over the pixel, ``size // 2`` by default.
    """
    if centre is None:
        centre = [size // 2 for size in kernel_shape]
    return [(c, size - 1 - c) for c, size in zip(centre, kernel_shape, strict=True)]


def shifted_block(offset, shape) -> tuple:
    """Index of the block of ``shape`` that starts at ``offset`` (in the last axes)."""
    return (..., *(slice(o, o + n) for o, n in zip(offset, shape, strict=True)))


def shift_and_add(padded, kernel, out_shape) -> np.ndarray:
    """Correlation of an already padded image: the sum over the kernel's elements of the weight
    times the padded image shifted by that element's offset (leading axes, a stack, are kept).
    """
    out = np.zeros(padded.shape[: padded.ndim - kernel.ndim] + tuple(out_shape))
    for offset in np.ndindex(kernel.shape):  # (0, 0), (0, 1), ... over the kernel's elements
        out += kernel[offset] * padded[shifted_block(offset, out_shape)]
    return out


def correlate(image, kernel, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Correlate ``image`` with ``kernel``: each pixel becomes the weighted sum of its neighbours.

    ``out[r, c] = sum_ij kernel[i, j] * image[r + i - ci, c + j - cj]``, centre ``ci, cj`` =
    ``size // 2``; ``mode`` as in :func:`pad`. The loop runs over the kernel's few elements, not
    the image's many pixels. Equals ``scipy.ndimage.correlate`` and, with zero padding,
    ``torch.nn.functional.conv2d``. The result is float64: filtering may leave the input's range.

    >>> image = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    >>> kernel = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    >>> correlate(image, kernel, mode="constant")  # a lone bright pixel: the kernel, flipped
    array([[9., 8., 7.],
           [6., 5., 4.],
           [3., 2., 1.]])
    """
    image, kernel = _check_filter_args(image, kernel, mode)
    padded = pad(image.astype(np.float64), pad_widths(kernel.shape), mode=mode, cval=cval)
    return shift_and_add(padded, kernel, image.shape)


def convolve(image, kernel, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Convolve ``image`` with ``kernel``: a correlation with the kernel flipped along every axis.

    After the flip the centre lands on ``n - 1 - n // 2`` (one before ``n // 2`` for even
    sizes), which is how ``scipy.ndimage.convolve`` matches. Unlike correlation, convolution is
    associative (:func:`combine_kernels`).

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
    padded = pad(image.astype(np.float64), pad_widths(kernel.shape, centre), mode=mode, cval=cval)
    return shift_and_add(padded, flipped, image.shape)


def correlate_naive(image, kernel, *, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """Correlation of a 2D image written as the definition: a loop over every output pixel.

    Put the kernel on the padded image, multiply, sum, move one pixel, repeat: slow, but it says
    exactly what :func:`correlate` computes.

    >>> correlate_naive(np.arange(9.0).reshape(3, 3), np.ones((3, 3)), mode="nearest")
    array([[12., 18., 24.],
           [30., 36., 42.],
           [48., 54., 60.]])
    """
    image = check_array(image, "image", ndim=2)
    kernel = check_array(kernel, "kernel", ndim=2, finite=True)
    check_choice(mode, "mode", MODES)
    k_rows, k_cols = kernel.shape
    padded = pad(image.astype(np.float64), pad_widths(kernel.shape), mode=mode, cval=cval)
    out = np.zeros(image.shape, dtype=np.float64)
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            window = padded[r : r + k_rows, c : c + k_cols]  # the neighbourhood of (r, c)
            out[r, c] = np.sum(window * kernel)
    return out
