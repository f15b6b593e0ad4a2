"""Intensity transforms: they change the image, never the labels (notebook 04).

Noise, brightness and contrast, gamma, blur and cut-out holes imitate what another exposure
or another microscope would have recorded. Parameters are ranges ``(low, high)`` to draw
from; one number ``x`` stands for ``(0, x)`` (``std``, ``sigma_px``), ``(-x, x)``
(``brightness``) or log-uniform ``(1 / (1 + x), 1 + x)`` (``contrast``, ``gamma``), and is
a fixed value for ``photons``, ``n_holes`` and ``size_px``.

>>> import numpy as np
>>> GaussianNoise(std=0.1)(np.zeros((2, 2)), np.ones((2, 2), int), rng=0)[1]
array([[1, 1],
       [1, 1]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from .._validate import check_choice, check_in_range, check_range
from .base import (
    Transform,
    draw_log_uniform,
    draw_uniform,
    factor_range,
    plane_index,
    positive_range,
    restore_dtype,
    spatial_axes,
    symmetric_range,
    work_dtype,
)

# -- intensity transforms (image only) ---------------------------------------------------------


class _IntensityTransform(Transform):
    """Intensity transforms change the image values only; labels are returned unchanged."""

    def apply(self, image, labels, params, *, channel_axis=None):
        work = image.astype(work_dtype(image.dtype))
        out = self._change(work, params, channel_axis)
        return restore_dtype(out, image.dtype), None if labels is None else labels.copy()

    def _change(self, image: np.ndarray, params: dict, channel_axis: int | None) -> np.ndarray:
        raise NotImplementedError


class GaussianNoise(_IntensityTransform):
    """Add Gaussian noise (camera read noise) of a random standard deviation ``std``.

    >>> import numpy as np
    >>> out, _ = GaussianNoise(std=(0.1, 0.1))(np.zeros((100, 100)), rng=0)
    >>> round(float(out.std()), 1)
    0.1
    """

    def __init__(self, std: float | Sequence[float] = 0.05, *, p: float = 1.0):
        super().__init__(p=p)
        self.std = positive_range(std, "std")

    def draw(self, rng, shape):
        return {"std": draw_uniform(rng, self.std), "seed": int(rng.integers(2**63))}

    def _change(self, image, params, channel_axis):
        noise = np.random.default_rng(params["seed"]).standard_normal(image.shape, image.dtype)
        return image + params["std"] * noise


class PoissonNoise(_IntensityTransform):
    """Add photon shot noise: as if the image had been recorded with fewer photons.

    ``photons`` per unit of intensity, drawn log-uniformly (for [0, 1] images 10 is very noisy,
    1000 mild). ``g * x`` expected photons have variance ``g * x``, in image units ``x / g``;
    the noise is added to the positive part only, so negative values stay.

    >>> import numpy as np
    >>> out, _ = PoissonNoise(photons=100)(np.full((200, 200), 0.5), rng=0)
    >>> round(float(out.var()), 3)  # x / g = 0.5 / 100
    0.005
    """

    def __init__(self, photons: float | Sequence[float] = (10.0, 1000.0), *, p: float = 1.0):
        super().__init__(p=p)
        if np.isscalar(photons):
            value = check_in_range(photons, "photons", 0, low_inclusive=False)
            self.photons = (value, value)
        else:
            self.photons = check_range(photons, "photons")
            check_in_range(self.photons[0], "photons", 0, low_inclusive=False)

    def draw(self, rng, shape):
        return {"photons": draw_log_uniform(rng, self.photons), "seed": int(rng.integers(2**63))}

    def _change(self, image, params, channel_axis):
        gain = params["photons"]
        positive = np.maximum(image, 0)
        counts = np.random.default_rng(params["seed"]).poisson(positive * gain)
        return image + (counts / gain - positive).astype(image.dtype)


class BrightnessContrast(_IntensityTransform):
    """Shift the brightness and scale the contrast about the mean: ``m + c (x - m) + b``.

    >>> import numpy as np
    >>> t = BrightnessContrast(brightness=(1, 1), contrast=(2, 2))
    >>> t(np.array([[0.0, 2.0]]))[0]
    array([[0., 4.]])
    """

    def __init__(
        self,
        brightness: float | Sequence[float] = 0.1,
        contrast: float | Sequence[float] = 0.2,
        *,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.brightness = symmetric_range(brightness, "brightness")
        self.contrast = factor_range(contrast, "contrast")

    def draw(self, rng, shape):
        return {
            "brightness": draw_uniform(rng, self.brightness),
            "contrast": draw_log_uniform(rng, self.contrast),
        }

    def _change(self, image, params, channel_axis):
        # mean + c (x - mean) + b, written so that c = 1, b = 0 returns x exactly
        c = params["contrast"]
        return c * image + ((1 - c) * image.mean() + params["brightness"])


class RandomGamma(_IntensityTransform):
    """Non-linear contrast ``x ** gamma`` that keeps the minimum and maximum (< 1 brightens).

    >>> import numpy as np
    >>> RandomGamma(gamma=(2, 2))(np.array([[0.0, 0.5, 1.0]]))[0]
    array([[0.  , 0.25, 1.  ]])
    """

    def __init__(self, gamma: float | Sequence[float] = 0.3, *, p: float = 1.0):
        super().__init__(p=p)
        self.gamma = factor_range(gamma, "gamma")

    def draw(self, rng, shape):
        return {"gamma": draw_log_uniform(rng, self.gamma)}

    def _change(self, image, params, channel_axis):
        lo, hi = image.min(), image.max()
        if hi == lo or params["gamma"] == 1:
            return image
        return lo + (hi - lo) * ((image - lo) / (hi - lo)) ** params["gamma"]


class GaussianBlur(_IntensityTransform):
    """Blur in the (row, col) plane with a Gaussian of random width (defocus, a wider PSF).

    >>> import numpy as np
    >>> from scipy import ndimage
    >>> image = np.random.default_rng(0).random((20, 20))
    >>> out, _ = GaussianBlur(sigma_px=(2, 2))(image)
    >>> np.allclose(out, ndimage.gaussian_filter(image, 2, mode="reflect"))
    True
    """

    def __init__(self, sigma_px: float | Sequence[float] = 1.0, *, p: float = 1.0):
        super().__init__(p=p)
        self.sigma_px = positive_range(sigma_px, "sigma_px")

    def draw(self, rng, shape):
        return {"sigma_px": draw_uniform(rng, self.sigma_px)}

    def _change(self, image, params, channel_axis):
        sigma = np.zeros(image.ndim)
        spatial = spatial_axes(image.ndim, channel_axis)
        sigma[spatial[-2:]] = params["sigma_px"]
        return ndi.gaussian_filter(image, sigma, mode="reflect")


class CutOut(_IntensityTransform):
    """Hide ``n_holes`` random rectangles of the image (debris, a bubble, a dead region).

    The labels stay: the objects are still there, only hidden, and the network learns to use
    context. ``fill`` is a value or ``"mean"`` (the image mean).

    >>> import numpy as np
    >>> out, _ = CutOut(n_holes=1, size_px=(4, 4), fill=-1.0)(np.zeros((10, 10)), rng=0)
    >>> int((out == -1).sum())
    16
    """

    def __init__(
        self,
        n_holes: int | Sequence[int] = (1, 3),
        size_px: float | Sequence[float] = (8.0, 32.0),
        *,
        fill: float | str = "mean",
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.n_holes = tuple(int(v) for v in check_range(n_holes, "n_holes"))
        check_in_range(self.n_holes[0], "n_holes", 0)
        self.size_px = check_range(size_px, "size_px")
        check_in_range(self.size_px[0], "size_px", 0)
        if isinstance(fill, str):
            check_choice(fill, "fill", ("mean",))
        else:
            check_in_range(fill, "fill")
        self.fill = fill

    def draw(self, rng, shape):
        rows, cols = shape[-2:]
        boxes = []
        for _ in range(int(rng.integers(self.n_holes[0], self.n_holes[1] + 1))):
            h, w = (int(round(draw_uniform(rng, self.size_px))) for _ in range(2))
            r, c = (
                int(rng.integers(-(h // 2), rows - h // 2)),
                int(rng.integers(-(w // 2), cols - w // 2)),
            )
            boxes.append((slice(max(r, 0), max(r + h, 0)), slice(max(c, 0), max(c + w, 0))))
        return {"boxes": boxes}

    def _change(self, image, params, channel_axis):
        value = image.mean() if self.fill == "mean" else self.fill
        out = image.copy()
        for rows, cols in params["boxes"]:
            out[plane_index(image.ndim, channel_axis, rows, cols)] = value
        return out
