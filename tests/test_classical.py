"""The blur + threshold + connected-components baseline equals its scikit-image composition."""

import numpy as np
import pytest
from skimage import filters, measure

from bioimage_course.classical import threshold_segment


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(10, 2, (96, 96))
    yy, xx = np.mgrid[:96, :96]
    for cy, cx, r in [(20, 20, 7), (60, 30, 9), (40, 75, 6), (80, 80, 5)]:
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] += 40
    return image


def test_equals_scikit_image_composition():
    image = _blobs()
    ours = threshold_segment(image, sigma_px=1.5, fill_holes=False)
    smooth = filters.gaussian(image, sigma=1.5, preserve_range=True)
    reference = measure.label(smooth > filters.threshold_otsu(smooth), connectivity=1)
    np.testing.assert_array_equal(ours, reference)
    assert ours.max() == 4


def test_fixed_threshold_min_area_and_holes():
    image = np.zeros((30, 30))
    image[2:12, 2:12] = 10
    image[6:8, 6:8] = 0  # a dark nucleolus
    image[20, 20] = 10  # a one-pixel speck
    labels = threshold_segment(image, sigma_px=0, threshold=5, min_area_px=2)
    assert labels.max() == 1
    assert (labels == 1).sum() == 100  # the hole is filled
    unfilled = threshold_segment(image, sigma_px=0, threshold=5, fill_holes=False)
    assert unfilled.max() == 2 and (unfilled == 1).sum() == 96


def test_touching_objects_merge():
    image = np.zeros((20, 30))
    image[5:15, 3:15] = 1
    image[5:15, 15:27] = 1
    assert threshold_segment(image, sigma_px=0, threshold=0.5).max() == 1


def test_errors():
    with pytest.raises(ValueError, match="`threshold` must be one of 'otsu'"):
        threshold_segment(np.zeros((4, 4)), threshold="median")
    with pytest.raises(ValueError, match="2D"):
        threshold_segment(np.zeros((2, 4, 4)))
