"""The classical baseline: smooth, threshold, split into connected components.

Notebook 01 ("how many cells can we count?"), and the baseline a U-Net must beat (05, 07):

1. a Gaussian blur suppresses pixel noise, so one nucleus is not split into speckles;
2. a threshold (Otsu's by default: the value that best separates the histogram into two
   classes) turns intensities into a foreground mask;
3. connected-component labelling gives every separate blob its own number.

Its blind spot is built in: two touching nuclei form one blob and are counted once.

>>> import numpy as np
>>> image = np.zeros((40, 40)); image[5:15, 5:15] = 100; image[25:35, 20:30] = 80
>>> labels = threshold_segment(image, sigma_px=1)
>>> int(labels.max())
2
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import filters, measure, segmentation

from ._validate import check_array, check_in_range


def threshold_segment(
    image,
    *,
    sigma_px: float = 1.0,
    threshold: str | float = "otsu",
    min_area_px: int = 0,
    fill_holes: bool = True,
) -> np.ndarray:
    """Label bright objects with blur + threshold + connected components (4-connected, int32).

    ``threshold`` is a method ("otsu", "li", "triangle") or a value in the image's units after
    the blur; objects under ``min_area_px`` are removed; ``fill_holes`` keeps dark nucleoli from
    punching holes.
    """
    image = check_array(image, "image", ndim=2, finite=True)
    sigma_px = check_in_range(sigma_px, "sigma_px", 0)
    smooth = filters.gaussian(image.astype(np.float64), sigma=sigma_px, preserve_range=True)
    methods = {
        "otsu": filters.threshold_otsu,
        "li": filters.threshold_li,
        "triangle": filters.threshold_triangle,
    }
    if isinstance(threshold, str):
        if threshold not in methods:
            listed = ", ".join(repr(m) for m in methods)
            raise ValueError(f"`threshold` must be one of {listed} or a number, got {threshold!r}")
        value = methods[threshold](smooth)
    else:
        value = check_in_range(threshold, "threshold")
    mask = smooth > value
    if fill_holes:
        mask = ndi.binary_fill_holes(mask)
    labels = measure.label(mask, connectivity=1)
    if min_area_px:
        areas = np.bincount(labels.ravel())
        small = areas < min_area_px
        small[0] = False
        labels[small[labels]] = 0
        labels, _, _ = segmentation.relabel_sequential(labels)
    return labels.astype(np.int32)
