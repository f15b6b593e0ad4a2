"""Intensity normalisation: putting images from different acquisitions on one scale.

Introduced in notebook 03 (normalization).

The same nuclei imaged with a longer exposure, a higher camera gain, another offset or another
bit depth give other pixel values. A network (or a fixed threshold) learns numbers, not nuclei,
so every image is mapped to a common scale before it is used. Four strategies:

- :func:`normalize_minmax`: min -> 0, max -> 1. One hot pixel sets the maximum.
- :func:`standardize` (z-score): mean -> 0, standard deviation -> 1. No fixed range.
- :func:`normalize_percentile`: a low percentile -> 0, a high one -> 1. The extremes (hot
  pixels, noise) are ignored: the usual choice in fluorescence microscopy.
- :class:`DatasetNormalizer`: one pair of percentiles fitted on the training set and reused
  unchanged for every other image. Keeps real brightness differences between images.

Every function returns a new floating-point array (``float32`` by default) and never modifies
its input. Percentile normalisation follows the definition of CSBDeep and StarDist,
``(x - p_low) / (p_high - p_low + eps)``, with the percentiles of ``numpy.percentile``
(linear interpolation).

Examples
--------
>>> import numpy as np
>>> image = np.array([[100, 120, 140], [160, 180, 4095]], dtype=np.uint16)  # a hot pixel
>>> normalize_minmax(image).round(3)  # the hot pixel squeezes the nuclei towards 0
array([[0.   , 0.005, 0.01 ],
       [0.015, 0.02 , 1.   ]], dtype=float32)
>>> normalize_percentile(image, 0, 80).round(3)  # the hot pixel just stays above 1
array([[ 0.   ,  0.25 ,  0.5  ],
       [ 0.75 ,  1.   , 49.938]], dtype=float32)
"""

from .dataset import DatasetNormalizer  # noqa: F401 (re-exported)
from .per_image import (  # noqa: F401 (re-exported)
    normalize_minmax,
    normalize_percentile,
    normalize_range,
    percentile_range,
    standardize,
)
from .plots import plot_normalization  # noqa: F401 (re-exported)
