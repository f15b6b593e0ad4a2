"""Seeing augmentations: transforms by name, a gallery of augmented samples, a live explorer.

Notebook 04.

>>> make_transform("flip", 1.0)
RandomFlip(p=1.0, axes=None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import as_rng, check_choice, check_in_range
from .base import Transform, check_inputs
from .geometry import RandomFlip, RandomRot90, RandomWarp
from .intensity import (
    BrightnessContrast,
    CutOut,
    GaussianBlur,
    GaussianNoise,
    PoissonNoise,
    RandomGamma,
)

# Looking at augmentations (notebook 04)

TRANSFORM_KINDS = (
    "flip",
    "rot90",
    "rotation",
    "translation",
    "zoom",
    "shear",
    "elastic",
    "gaussian_noise",
    "poisson_noise",
    "brightness_contrast",
    "gamma",
    "blur",
    "cutout",
)


def make_transform(kind: str, strength: float = 0.5, *, scale: float = 1.0) -> Transform:
    """A transform of a ``kind`` (:data:`TRANSFORM_KINDS`) at a ``strength`` from 0 (none) to 1.

    The geometric strength is fixed (rotation by exactly ``180 * strength`` degrees) so that a
    slider shows its effect; noise and elastic fields stay random. ``scale``: the image's
    intensity range, for intensity transforms.

    >>> make_transform("rotation", 0.25)
    RandomWarp(p=1.0, rotation_deg=(45.0, 45.0), ...)
    """
    check_choice(kind, "kind", TRANSFORM_KINDS)
    s = check_in_range(strength, "strength", 0, 1)
    fixed = {
        "rotation": dict(rotation_deg=(180 * s, 180 * s)),
        "translation": dict(translation_px=(32 * s, 32 * s)),
        "zoom": dict(zoom=(1 + s, 1 + s)),
        "shear": dict(shear_deg=(45 * s, 45 * s)),
        "elastic": dict(elastic_magnitude_px=8 * s, elastic_smoothness_px=12),
    }
    if kind in fixed:
        return RandomWarp(**fixed[kind])
    if kind == "flip":
        return RandomFlip(p=s)
    if kind == "rot90":
        return RandomRot90(p=s)
    if kind == "gaussian_noise":
        return GaussianNoise(std=(0.3 * s * scale, 0.3 * s * scale))
    if kind == "poisson_noise":
        return PoissonNoise(photons=1000.0 ** (1 - s) / scale, p=float(s > 0))
    if kind == "brightness_contrast":
        return BrightnessContrast(brightness=(0.5 * s * scale,) * 2, contrast=(1 + 2 * s,) * 2)
    if kind == "gamma":
        return RandomGamma(gamma=(1 + 2 * s, 1 + 2 * s))
    if kind == "blur":
        return GaussianBlur(sigma_px=(4 * s, 4 * s))
    return CutOut(n_holes=(3, 3), size_px=(40 * s, 40 * s))


def _overlay_row(panels: Sequence[tuple], size: float, **show_kwargs: Any):
    """One row of panels ``(image, labels, title)``, labels outlined on the image."""
    import matplotlib.pyplot as plt

    from ..plot import overlay_labels

    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (image, labels, title) in zip(axes[0], panels, strict=True):
        overlay_labels(image, labels, ax=ax, title=title, **show_kwargs)
    fig.tight_layout()
    return fig


def show_augmentations(
    image: Any,
    labels: Any,
    transform: Any,
    *,
    n: int = 3,
    rng: Any = 0,
    size: float = 3.0,
    **show_kwargs: Any,
):
    """Figure: the original pair and ``n`` augmented draws, labels outlined on the image.

    ``show_kwargs`` go to :func:`bioimage_course.plot.overlay_labels` (``vmin``, ``vmax``).

    >>> import numpy as np
    >>> labels = np.zeros((32, 32), dtype=np.int32)
    >>> labels[8:20, 10:24] = 1
    >>> fig = show_augmentations(labels.astype(float), labels, RandomRot90(), n=2)
    >>> len(fig.axes)
    3
    """
    rng = as_rng(rng)
    panels = [(image, labels, "original")]
    for i in range(1, n + 1):
        panels.append((*transform(image, labels, rng=rng), f"draw {i}"))
    return _overlay_row(panels, size, **show_kwargs)


def explore(
    image: Any,
    labels: Any,
    kind: str = "rotation",
    strength: float = 0.5,
    seed: int = 0,
    *,
    size: float = 3.5,
):
    """Figure: ``image`` before and after :func:`make_transform` ``(kind, strength)``.

    The plotting function behind notebook 04's widget explorer; it runs without widgets too.

    >>> import numpy as np
    >>> labels = np.zeros((32, 32), dtype=np.int32)
    >>> labels[8:20, 10:24] = 1
    >>> fig = explore(labels.astype(np.float32), labels, "elastic", 1.0)
    >>> [ax.get_title() for ax in fig.axes]
    ['original', 'elastic, strength 1.00']
    """
    image, labels, _ = check_inputs(image, labels, None)
    lo, hi = np.percentile(image, (0.2, 99.8))
    transform = make_transform(kind, strength, scale=float(hi - lo) or 1.0)
    panels = [
        (image, labels, "original"),
        (*transform(image, labels, rng=seed), f"{kind}, strength {strength:.2f}"),
    ]
    return _overlay_row(panels, size, vmin=lo, vmax=hi)
