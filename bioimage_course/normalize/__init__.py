"""Intensity normalisation: putting images from different acquisitions on one scale (notebook 03).

Exposure, gain, offset and bit depth change the pixel values of the same nuclei; a network
learns numbers, so every image is mapped to a common scale first:

- :func:`normalize_minmax`: min -> 0, max -> 1. One hot pixel sets the maximum.
- :func:`standardize` (z-score): mean -> 0, standard deviation -> 1. No fixed range.
- :func:`normalize_percentile`: a low percentile -> 0, a high one -> 1; extremes are ignored.
- :class:`DatasetNormalizer`: percentiles fitted on the training set, reused for every image.

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
