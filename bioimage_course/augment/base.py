"""The shape of every transform: draw the parameters, then apply them to image and labels.

Notebook 04. :class:`Transform` draws its random parameters once (:meth:`Transform.draw`) and
applies the same ones to the image and the labels (:meth:`Transform.apply`); :class:`Compose`
chains transforms. The helpers turn "how much" (a number or a range) into a range to draw
from, and split an image into its (row, col) planes.

>>> import numpy as np
>>> from bioimage_course.augment import RandomFlip
>>> image = np.arange(6.0).reshape(2, 3)
>>> Compose([RandomFlip(p=1.0)])(image, rng=0)[0].shape
(2, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import as_rng, check_array, check_in_range, check_labels, check_range

# Parameter ranges: how a user writes "how much", and how it is drawn.


def symmetric_range(value: Any, name: str) -> tuple[float, float]:
    """A number ``x`` stands for ``(-x, x)``; a pair is the range itself."""
    if np.isscalar(value):
        x = check_in_range(value, name, 0)
        return -x, x
    return check_range(value, name)


def factor_range(value: Any, name: str) -> tuple[float, float]:
    """A number ``x`` stands for factors ``(1 / (1 + x), 1 + x)``; a pair is the range itself."""
    if np.isscalar(value):
        x = check_in_range(value, name, 0)
        return 1 / (1 + x), 1 + x
    lo, hi = check_range(value, name)
    check_in_range(lo, name, 0, low_inclusive=False)
    return lo, hi


def positive_range(value: Any, name: str) -> tuple[float, float]:
    """A number ``x`` stands for ``(0, x)``; a pair is the range itself (non-negative)."""
    if np.isscalar(value):
        return 0.0, check_in_range(value, name, 0)
    lo, hi = check_range(value, name)
    check_in_range(lo, name, 0)
    return lo, hi


def draw_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return lo if lo == hi else float(rng.uniform(lo, hi))


def draw_log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Factors are drawn uniformly on a log scale, so x2 and x0.5 are equally likely."""
    lo, hi = bounds
    return lo if lo == hi else float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# Input checks and per-plane handling


def check_inputs(
    image: Any, labels: Any, channel_axis: int | None
) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """Validate an (image, labels) pair; return arrays and the non-negative channel axis."""
    if channel_axis is None:
        image = check_array(image, "image", ndim=(2, 3), finite=True)
        spatial = image.shape
    else:
        image = check_array(image, "image", ndim=(3, 4), finite=True)
        if not -image.ndim <= channel_axis < image.ndim:
            raise ValueError(
                f"`channel_axis` must be an axis of `image` (shape {image.shape}), "
                f"got {channel_axis}"
            )
        channel_axis %= image.ndim
        spatial = image.shape[:channel_axis] + image.shape[channel_axis + 1 :]
    if labels is not None:
        labels = check_labels(labels, "labels")
        if labels.shape != spatial:
            what = "shape" if channel_axis is None else "spatial shape"
            raise ValueError(
                f"`labels` must have the {what} of `image` {spatial}, got shape {labels.shape}"
            )
    return image, labels, channel_axis


def spatial_axes(ndim: int, channel_axis: int | None) -> list[int]:
    """Axes of an ``ndim``-dimensional image that are not the channel axis."""
    if channel_axis is None:
        return list(range(ndim))
    return [a for a in range(ndim) if a != channel_axis % ndim]


def spatial_shape(image: np.ndarray, channel_axis: int | None) -> tuple[int, ...]:
    return tuple(image.shape[a] for a in spatial_axes(image.ndim, channel_axis))


def plane_index(ndim: int, channel_axis: int | None, rows: slice, cols: slice) -> tuple:
    """Index selecting ``rows, cols`` in the (row, col) plane and everything along other axes."""
    spatial = spatial_axes(ndim, channel_axis)
    index = [slice(None)] * ndim
    index[spatial[-2]], index[spatial[-1]] = rows, cols
    return tuple(index)


def to_planes(image: np.ndarray, channel_axis: int | None) -> tuple[np.ndarray, tuple]:
    """Reshape to ``(n_planes, rows, cols)``; return it and the leading shape to restore."""
    stack = image[None] if channel_axis is None else np.moveaxis(image, channel_axis, 0)
    lead = stack.shape[:-2]
    return stack.reshape((-1,) + stack.shape[-2:]), lead


def from_planes(planes: np.ndarray, lead: tuple, channel_axis: int | None) -> np.ndarray:
    stack = planes.reshape(lead + planes.shape[-2:])
    return stack[0] if channel_axis is None else np.moveaxis(stack, 0, channel_axis)


def restore_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Bring float results back to the input dtype (integers rounded and clipped)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    if dtype.kind == "b":
        return values > 0.5
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def work_dtype(dtype: np.dtype) -> type:
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


# Transforms


def _unchanged(image: np.ndarray, labels: np.ndarray | None) -> tuple:
    return image.copy(), None if labels is None else labels.copy()


def run_transform(
    transform: Any, image, labels, rng: np.random.Generator, channel_axis: int | None
):
    """Apply a :class:`Transform` (without re-validating) or any other callable transform."""
    if isinstance(transform, Transform):
        return transform._augment(image, labels, rng, channel_axis)
    return transform(image, labels, rng=rng)


class Transform:
    """Base class: draw random parameters once, then apply them to image and labels.

    Subclasses implement :meth:`draw` (all randomness) and :meth:`apply` (deterministic); ``p``
    is the probability that the transform is applied at all.
    """

    def __init__(self, *, p: float = 1.0):
        self.p = check_in_range(p, "p", 0, 1)

    def __call__(
        self,
        image: Any,
        labels: Any = None,
        *,
        rng: Any = None,
        channel_axis: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Augment ``image`` (and ``labels``); return new arrays ``(image, labels)``."""
        image, labels, channel_axis = check_inputs(image, labels, channel_axis)
        return self._augment(image, labels, as_rng(rng), channel_axis)

    def _augment(self, image, labels, rng, channel_axis):
        """:meth:`__call__` on validated arrays and a Generator (no checks repeated)."""
        if rng.random() >= self.p:
            return _unchanged(image, labels)
        params = self.draw(rng, spatial_shape(image, channel_axis))
        return self.apply(image, labels, params, channel_axis=channel_axis)

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        """Draw the random parameters for an image of spatial shape ``shape``."""
        return {}

    def apply(
        self,
        image: np.ndarray,
        labels: np.ndarray | None,
        params: dict,
        *,
        channel_axis: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply drawn ``params`` to validated arrays (no randomness here)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms one after the other, with one random generator for all of them.

    ``transforms``: :class:`Transform` objects or callables ``t(image, labels, *, rng)``. Every
    interpolation blurs a little: put all geometry into a single :class:`RandomWarp`.

    >>> import numpy as np
    >>> from bioimage_course.augment import RandomFlip, RandomRot90
    >>> t = Compose([RandomFlip(), RandomRot90()])
    >>> image = np.arange(16.0).reshape(4, 4)
    >>> np.array_equal(t(image, rng=3)[0], t(image, rng=3)[0])  # seeded: reproducible
    True
    """

    def __init__(self, transforms: Sequence[Any], *, p: float = 1.0):
        super().__init__(p=p)
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"`transforms[{i}]` must be callable, got {type(t).__name__}")

    def _augment(self, image, labels, rng, channel_axis):
        if rng.random() >= self.p:
            return _unchanged(image, labels)
        for t in self.transforms:
            image, labels = run_transform(t, image, labels, rng, channel_axis)
        return image, labels
