"""Training patches from augmented regions: rotations and warps never show their borders.

Introduced in notebook 04 (augmentation); every training patch of notebook 05 is made this way
(:class:`bioimage_course.data.PairDataset`). :func:`augmented_patch` augments a region larger
than the patch by the margin the transforms need, then crops the patch from its centre. Where
the image is too small for that margin, the region is completed by mirroring image *and* labels
alike, so that a mirrored nucleus is still labelled a nucleus.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import as_rng, check_in_range, check_sizes
from ..patches import center_crop, random_patch
from .base import (
    Compose,
    check_inputs,
    plane_index,
    run_transform,
    spatial_axes,
    spatial_shape,
)
from .geometry import RandomWarp

# Training patches without border artifacts


def needed_margin(transform: Any, patch_shape: Sequence[int]) -> int:
    """Margin (pixels per side) the geometric transforms in ``transform`` need for a patch.

    The sum of :meth:`RandomWarp.margin_px` over the warps in ``transform`` (a
    :class:`Compose` is searched); 0 for transforms that read no pixel from outside.

    >>> needed_margin(Compose([RandomWarp(rotation_deg=45)]), (100, 100))
    21
    """
    if isinstance(transform, RandomWarp):
        return transform.margin_px(patch_shape)
    if isinstance(transform, Compose):
        return sum(needed_margin(t, patch_shape) for t in transform.transforms)
    return 0


def mirror_pad(
    image: np.ndarray, labels: np.ndarray, shape: Sequence[int], channel_axis: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pad image and labels to spatial ``shape`` (at least) by mirroring both at the borders.

    The mirrored image content keeps its labels (rule 1 of notebook 04: labels change like the
    image). Arrays already large enough are returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> image, labels = np.array([[1.0, 2.0]]), np.array([[0, 5]])
    >>> padded_image, padded_labels = mirror_pad(image, labels, (1, 4))
    >>> padded_image.tolist(), padded_labels.tolist()
    ([[1.0, 1.0, 2.0, 2.0]], [[0, 0, 5, 5]])
    """
    need = [max(int(w) - n, 0) for w, n in zip(shape, labels.shape, strict=True)]
    if not any(need):
        return image, labels
    widths = [(k // 2, k - k // 2) for k in need]
    image_widths = [(0, 0)] * image.ndim
    for axis, width in zip(spatial_axes(image.ndim, channel_axis), widths, strict=True):
        image_widths[axis] = width
    return np.pad(image, image_widths, mode="symmetric"), np.pad(labels, widths, mode="symmetric")


def augmented_patch(
    image: Any,
    labels: Any,
    patch_size: int | Sequence[int],
    *,
    transform: Any,
    rng: Any = None,
    foreground_prob: float = 0.0,
    margin_px: int | None = None,
    channel_axis: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a random training patch, augmenting a larger region first and cropping afterwards.

    A patch that is rotated or deformed on its own must be filled in at its corners from
    nowhere (reflections of its content, or zeros), and the network learns from those
    artificial borders. Cutting a region with a margin, augmenting it and then taking the
    central patch fills the corners with real image content instead.

    Parameters
    ----------
    image : numpy.ndarray
        2D image (optional channel axis).
    labels : numpy.ndarray of int
        Labels of the same spatial shape.
    patch_size : int or (int, int)
        Size of the patch returned.
    transform : callable
        Augmentation ``transform(image, labels, rng=...)``, e.g. a :class:`Compose`.
    rng : None, int or numpy.random.Generator
        Source of randomness (patch position and augmentation).
    foreground_prob : float
        Passed to :func:`bioimage_course.patches.random_patch`.
    margin_px : int, optional
        Margin on every side. Default: what the geometric transforms in ``transform`` need
        (:meth:`RandomWarp.margin_px`; 0 for flips, 90-degree turns, intensity changes and
        callables that are not :class:`Transform` objects: give it for a warp of your own).
        Where the image is smaller than patch plus margins, the region is padded by mirroring
        (``numpy.pad(..., mode="symmetric")``, what ``mode="reflect"`` of a warp reads) the
        image and the labels in the same way: mirrored nuclei keep their label ids.
    channel_axis : int, optional
        Channel axis of ``image``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Augmented image patch and label patch.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    >>> labels = (image > 0.9).astype(np.int32)
    >>> t = RandomWarp(rotation_deg=180)
    >>> img, lab = augmented_patch(image, labels, 32, transform=t, rng=0)
    >>> img.shape, lab.shape
    ((32, 32), (32, 32))
    """
    image, labels, channel_axis = check_inputs(image, labels, channel_axis)
    spatial = spatial_shape(image, channel_axis)
    if len(spatial) != 2:
        raise ValueError(f"`image` must be 2D (plus channels), got spatial shape {spatial}")
    size = check_sizes(patch_size, "patch_size", 2)
    rng = as_rng(rng)
    margin = needed_margin(transform, size) if margin_px is None else int(margin_px)
    check_in_range(margin, "margin_px", 0)
    wanted = tuple(s + 2 * margin for s in size)
    region_size = tuple(min(w, n) for w, n in zip(wanted, spatial, strict=True))
    region = random_patch(
        spatial, region_size, rng=rng, labels=labels, foreground_prob=foreground_prob
    )
    image_region, label_region = mirror_pad(
        image[plane_index(image.ndim, channel_axis, *region)], labels[region], wanted, channel_axis
    )
    aug_image, aug_labels = run_transform(transform, image_region, label_region, rng, channel_axis)
    if channel_axis is not None:
        aug_image = np.moveaxis(aug_image, channel_axis, 0)
    aug_image = center_crop(aug_image, size).copy()
    if channel_axis is not None:
        aug_image = np.moveaxis(aug_image, 0, channel_axis)
    return aug_image, center_crop(aug_labels, size).copy()
