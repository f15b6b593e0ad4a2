"""Data augmentation of (image, labels) pairs: geometry applied to both, intensity to the image.

Notebook 04. Two rules from microscopy guide the design:

1. **The ground truth is transformed exactly like the image.** Parameters are drawn once and
   applied to both; labels only ever use nearest neighbour, so no new label value appears
   (bilinear labels would invent ids on the border between two objects).
2. **The meaning of the data is preserved.** Every transform makes an image a microscope could
   have recorded; intensity transforms never touch the labels.

A transform is a callable ``t(image, labels=None, *, rng=None, channel_axis=None)`` returning
new ``(image, labels)``, applied with probability ``p``; randomness comes only from ``rng``.
Geometric: :class:`RandomFlip`, :class:`RandomRot90` (exact), :class:`RandomWarp` (rotation,
shift, zoom, shear and elastic deformation in *one* interpolation; :class:`RandomElastic`),
on the GPU :meth:`RandomWarp.batch_torch`. Intensity: :class:`GaussianNoise`,
:class:`PoissonNoise`, :class:`BrightnessContrast`, :class:`RandomGamma`,
:class:`GaussianBlur`, :class:`CutOut`. :class:`Compose` chains them; :func:`augmented_patch`
augments a region with a margin and crops the patch, so warp borders never reach it.

Axes are (row, col), or (plane, row, col), plus an optional ``channel_axis``; warps act in the
(row, col) plane. Outside the image, images are *reflected* and labels are background (a
reflected object would carry its id twice). dtypes are kept (integers rounded and clipped).

>>> import numpy as np
>>> image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
>>> labels = np.zeros((64, 64), dtype=np.int32)
>>> labels[10:30, 20:40] = 7
>>> pipeline = Compose([RandomFlip(), RandomWarp(rotation_deg=180, elastic_magnitude_px=3),
...                     GaussianNoise(std=0.05)])
>>> aug_image, aug_labels = pipeline(image, labels, rng=0)
>>> aug_image.shape, aug_image.dtype, set(np.unique(aug_labels)) <= {0, 7}
((64, 64), dtype('float32'), True)
"""

from .base import Compose, Transform  # noqa: F401 (re-exported)
from .explorer import TRANSFORM_KINDS, explore, make_transform, show_augmentations  # noqa: F401 (re-exported)
from .geometry import RandomElastic, RandomFlip, RandomRot90, RandomWarp  # noqa: F401 (re-exported)
from .intensity import (  # noqa: F401 (re-exported)
    BrightnessContrast,
    CutOut,
    GaussianBlur,
    GaussianNoise,
    PoissonNoise,
    RandomGamma,
)
from .patch import augmented_patch  # noqa: F401 (re-exported)
from .warp import (  # noqa: F401 (re-exported)
    BORDER_MODES,
    TORCH_PADDING,
    elastic_field,
    resample,
    resample_labels,
    valid_box,
    warp_coordinates,
)
