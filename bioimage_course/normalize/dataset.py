"""Normalising a data set: percentiles fitted once on the training images, reused unchanged.

Notebook 03. Unlike per-image normalisation, this keeps real brightness differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_in_range, is_int
from .per_image import (
    check_float_dtype,
    check_image,
    check_percentiles,
    normalize_range,
    percentile_range,
)


class DatasetNormalizer:
    """Percentile normalisation with one ``low``/``high`` fitted on a training set.

    :meth:`fit` pools the pixels of the training images (only those: test images would leak
    into the preprocessing); :meth:`transform`, or calling the object, applies the same
    :func:`normalize_range` to any image. With ``channel_axis`` each channel gets its own
    percentiles; ``clip``, ``eps``, ``dtype`` as in :func:`normalize_range`.

    >>> train = [np.array([[0, 100], [50, 200]]), np.array([[10, 300], [20, 30]])]
    >>> norm = DatasetNormalizer(0, 100).fit(train)
    >>> float(norm.low[0]), float(norm.high[0])
    (0.0, 300.0)
    >>> norm(np.array([[150, 600]]))  # a test image, with the training scale
    array([[0.5, 2. ]], dtype=float32)
    """

    def __init__(
        self,
        pmin: float = 1.0,
        pmax: float = 99.8,
        *,
        channel_axis: int | None = None,
        clip: bool = False,
        eps: float = 1e-20,
        dtype: Any = np.float32,
    ) -> None:
        self.pmin, self.pmax = check_percentiles(pmin, pmax)
        if channel_axis is not None and not is_int(channel_axis):
            raise TypeError(f"`channel_axis` must be None or an int, got {channel_axis!r}")
        self.channel_axis = channel_axis
        self.clip = bool(clip)
        self.eps = check_in_range(eps, "eps", 0)
        self.dtype = check_float_dtype(dtype)
        self.low: np.ndarray | None = None
        self.high: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = "not fitted" if self.low is None else f"low={self.low}, high={self.high}"
        return f"DatasetNormalizer(pmin={self.pmin:g}, pmax={self.pmax:g}, {fitted})"

    def _channels_first(self, image: np.ndarray, name: str) -> np.ndarray:
        """``image`` as a 2D array (channels, pixels)."""
        if self.channel_axis is None:
            return image.reshape(1, -1)
        if not -image.ndim <= self.channel_axis < image.ndim:
            raise ValueError(
                f"`{name}` has no axis {self.channel_axis} (`channel_axis`), got shape "
                f"{image.shape}"
            )
        return np.moveaxis(image, self.channel_axis, 0).reshape(image.shape[self.channel_axis], -1)

    def fit(self, images: Sequence[Any]) -> DatasetNormalizer:
        """Compute ``low`` and ``high`` from the pooled pixels of ``images``; returns ``self``.

        ``images``: arrays of any shapes with the same channel count, or one stacked array.
        """
        if isinstance(images, np.ndarray):
            images = list(images)
        if len(images) == 0:
            raise ValueError("`images` must contain at least one image, got 0")
        pooled = []
        for i, image in enumerate(images):
            name = f"images[{i}]"
            pooled.append(self._channels_first(check_image(image, name), name))
        n_channels = {p.shape[0] for p in pooled}
        if len(n_channels) > 1:
            raise ValueError(
                f"`images` must all have the same number of channels, got {sorted(n_channels)}"
            )
        low, high = percentile_range(np.concatenate(pooled, axis=1), self.pmin, self.pmax, axis=1)
        self.low, self.high = low[:, 0], high[:, 0]
        return self

    def transform(self, image: Any) -> np.ndarray:
        """Normalise ``image`` with the fitted ``low`` and ``high``; returns a new array."""
        if self.low is None or self.high is None:
            raise RuntimeError("this DatasetNormalizer is not fitted yet: call `fit` first")
        image = check_image(image, "image")
        low, high = self.low, self.high
        if self.channel_axis is not None:
            n = self._channels_first(image, "image").shape[0]
            if n != low.size:
                raise ValueError(
                    f"`image` must have {low.size} channels along axis {self.channel_axis}, got {n}"
                )
            shape = [1] * image.ndim
            shape[self.channel_axis] = n
            low, high = low.reshape(shape), high.reshape(shape)
        else:
            low, high = low[0], high[0]
        return normalize_range(image, low, high, clip=self.clip, eps=self.eps, dtype=self.dtype)

    __call__ = transform
