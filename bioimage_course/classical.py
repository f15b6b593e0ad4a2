"""The classical baseline: smooth, threshold, split into connected components.

Introduced in notebook 01 (digital images: "how many cells can we count?") and used again as the
baseline that a U-Net must beat (notebooks 05 and 07). Three steps, each a few lines:

1. a Gaussian blur suppresses pixel noise, so one nucleus is not split into speckles;
2. a threshold (Otsu's by default: the value that best separates the histogram into two
   classes) turns intensities into a foreground mask;
3. connected-component labelling gives every separate blob its own number.

Its blind spot is built in: two touching nuclei form one blob and are counted once.

Examples
--------
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
    """Label bright objects with blur + threshold + connected components.

    Parameters
    ----------
    image : array_like
        2D image, bright objects on a dark background.
    sigma_px : float
        Standard deviation of the Gaussian blur in pixels (0: no blur).
    threshold : "otsu", "li", "triangle" or float
        The threshold method, or a fixed value in the image's units (after the blur).
    min_area_px : int
        Objects smaller than this many pixels are removed (noise specks).
    fill_holes : bool
        Fill holes inside objects (dark nucleoli would otherwise punch holes).

    Returns
    -------
    ndarray of int32
        Labels 1..N for the objects, 0 for background (4-connectivity).
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
