"""Data augmentation of (image, labels) pairs: geometry applied to both, intensity to the image.

Introduced in notebook 04 (augmentation).

Two rules from microscopy guide the design:

1. **The ground truth is transformed exactly like the image.** Every geometric transform draws
   its parameters once and applies them to both arrays. Images are interpolated (linear or
   cubic); labels only ever use nearest neighbour, so no new label value can appear and
   instance ids stay the ones given (bilinear interpolation of labels would invent ids on the
   border between two objects).
2. **The meaning of the data is preserved.** Flips, rotations, small zooms, shear, elastic
   deformation, noise, blur and contrast changes all produce images a microscope could have
   recorded; intensity transforms never touch the labels.

Every transform is a callable ``t(image, labels=None, *, rng=None, channel_axis=None)`` that
returns ``(image, labels)`` (``labels`` is None when none were given) and never modifies its
inputs. Randomness comes only from ``rng`` (None, an int or a ``numpy.random.Generator``): a
seeded pipeline is reproducible, and DataLoader workers with different generators differ.
Each transform is applied with probability ``p`` (default 1); internally it first *draws*
its parameters (:meth:`Transform.draw`) and then *applies* them (:meth:`Transform.apply`).

Geometric transforms
    :class:`RandomFlip`, :class:`RandomRot90` (exact, no interpolation) and :class:`RandomWarp`
    (rotation, translation, zoom, shear and elastic deformation combined into *one* coordinate
    map, so the image is interpolated only once). :class:`RandomElastic` is a
    :class:`RandomWarp` with only the elastic deformation.
Intensity transforms (image only)
    :class:`GaussianNoise`, :class:`PoissonNoise`, :class:`BrightnessContrast`,
    :class:`RandomGamma`, :class:`GaussianBlur`, :class:`CutOut`.
Composition and patches
    :class:`Compose` chains transforms; :func:`augmented_patch` augments a region with a margin
    and crops the patch afterwards, so that borders created by rotations never reach the patch.
On the GPU
    :meth:`RandomWarp.batch_torch` applies the same warps to a batch of tensors on any device
    with ``torch.nn.functional.grid_sample``.

Conventions
-----------
- Axes are (row, col) for 2D images, (plane, row, col) for 3D stacks, plus an optional
  ``channel_axis``. Geometric warps, rotations and blur act in the (row, col) plane and
  identically on every plane of a stack (microscopy stacks are usually sampled more coarsely
  in z); flips may also flip z.
- Borders: where a warp looks outside the image, images are *reflected* (no black corners that
  a network could learn to expect) and labels are *background* (0): a reflected copy of an
  object would carry the same instance id twice. Reflected image content without labels is
  itself an artifact; ``crop_to_valid=True`` crops the output to the region computed from real
  pixels only, and :func:`augmented_patch` avoids the problem for training patches.
- dtypes are preserved. Integer images are rounded and clipped to their dtype's range after
  interpolation or intensity changes; use float images (e.g. after
  :func:`bioimage_course.normalize.normalize_percentile`) to avoid clipping.

Examples
--------
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
