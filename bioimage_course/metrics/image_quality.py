"""Image-to-image scores (restoration, denoising): MSE, MAE, PSNR and SSIM (notebook 07).

Each equals scikit-image's at the same settings; computed in float64 whatever the dtype.

>>> round(psnr([[0.0, 1.0]], [[0.0, 0.9]], data_range=1.0), 2)
23.01
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .._validate import check_array, check_choice, check_in_range, check_same_shape, is_int


def _image_pair(image_true, image_test) -> tuple[np.ndarray, np.ndarray]:
    a = check_array(image_true, "image_true", finite=True)
    b = check_array(image_test, "image_test", finite=True)
    check_same_shape(a, b, "image_true", "image_test")
    return a.astype(np.float64), b.astype(np.float64)


def mse(image_true, image_test) -> float:
    """Mean squared error: the mean of (true - test)², the squared L2 loss.

    >>> mse([[0, 2], [4, 4]], [[1, 2], [4, 1]])
    2.5
    """
    a, b = _image_pair(image_true, image_test)
    return float(np.mean((a - b) ** 2))


def mae(image_true, image_test) -> float:
    """Mean absolute error: the mean of |true - test|, the L1 loss (less swayed by outliers).

    >>> mae([[0, 2], [4, 4]], [[1, 2], [4, 1]])
    1.0
    """
    a, b = _image_pair(image_true, image_test)
    return float(np.mean(np.abs(a - b)))


def _check_data_range(data_range: Any) -> float:
    return check_in_range(data_range, "data_range", 0, low_inclusive=False)


def psnr(image_true, image_test, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range² / MSE); ``inf`` for identical images.

    ``data_range`` (4095 for a 12-bit camera, 1 for [0, 1]) has no default on purpose: the same
    images give another PSNR with another range.

    >>> round(psnr([[0.0, 0.5]], [[0.1, 0.5]], data_range=1.0), 3)
    23.01
    """
    data_range = _check_data_range(data_range)
    error = mse(image_true, image_test)
    if error == 0:
        return float("inf")
    return float(10 * np.log10(data_range**2 / error))


def _ssim_window(window: str, win_size: int, sigma: float):
    """The local averaging of SSIM and its width in pixels."""
    check_choice(window, "window", ("uniform", "gaussian"))
    if window == "gaussian":
        sigma = check_in_range(sigma, "sigma", 0, low_inclusive=False)

        def smooth(x):
            return ndi.gaussian_filter(x, sigma=sigma, truncate=3.5, mode="reflect")

        return smooth, 2 * int(3.5 * sigma + 0.5) + 1
    if not is_int(win_size) or win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"`win_size` must be an odd integer >= 3, got {win_size!r}")

    def smooth(x):
        return ndi.uniform_filter(x, size=int(win_size), mode="reflect")

    return smooth, int(win_size)


def ssim_map(
    image_true,
    image_test,
    *,
    data_range: float,
    window: str = "uniform",
    win_size: int = 7,
    sigma: float = 1.5,
    sample_covariance: bool = True,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """Local structural similarity at every pixel (Wang et al., IEEE TIP 2004).

    In a window around each pixel, SSIM compares local means (luminance), standard deviations
    (contrast) and the correlation (structure)::

        SSIM = (2 mu_x mu_y + C1) (2 s_xy + C2) / ((mu_x² + mu_y² + C1) (s_x² + s_y² + C2))

    with ``C1 = (k1 data_range)²``, ``C2 = (k2 data_range)²`` keeping flat regions stable. The
    window is a ``win_size`` box or a Gaussian of ``sigma`` truncated at 3.5 sigma (11 pixels for
    1.5, as in the paper); ``sample_covariance`` divides by N - 1 (scikit-image) or N (paper).

    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((16, 16))
    >>> bool(np.allclose(ssim_map(image, image, data_range=1.0), 1.0))
    True
    """
    a, b = _image_pair(image_true, image_test)
    if a.ndim not in (2, 3):
        raise ValueError(f"`image_true` must be a 2D or 3D array, got shape {a.shape}")
    data_range = _check_data_range(data_range)
    smooth, win_size = _ssim_window(window, win_size, sigma)
    if min(a.shape) < win_size:
        raise ValueError(
            f"`image_true` must be at least {win_size} pixels along every axis for a "
            f"{win_size}-pixel window, got shape {a.shape}"
        )
    n = win_size**a.ndim
    norm = n / (n - 1) if sample_covariance else 1.0
    mu_a, mu_b = smooth(a), smooth(b)
    var_a = norm * (smooth(a * a) - mu_a * mu_a)
    var_b = norm * (smooth(b * b) - mu_b * mu_b)
    cov = norm * (smooth(a * b) - mu_a * mu_b)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )


def ssim(image_true, image_test, *, data_range: float, **options) -> float:
    """Mean structural similarity (SSIM) of two images: 1 for identical images.

    The mean of :func:`ssim_map` (``options`` as there) without a border of half a window; equal
    to ``skimage.metrics.structural_similarity`` with the same settings. Blur keeps MSE low but
    lowers SSIM; a constant offset raises MSE a lot but hardly changes SSIM.

    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((32, 32))
    >>> ssim(image, image, data_range=1.0)
    1.0
    >>> ssim(image, image + 0.2, data_range=1.0) > 0.9, mse(image, image + 0.2) > 0.03
    (True, True)
    """
    local = ssim_map(image_true, image_test, data_range=data_range, **options)
    _, win_size = _ssim_window(
        options.get("window", "uniform"), options.get("win_size", 7), options.get("sigma", 1.5)
    )
    pad = (win_size - 1) // 2
    inner = local[tuple(slice(pad, s - pad) for s in local.shape)]
    return float(inner.mean(dtype=np.float64))
