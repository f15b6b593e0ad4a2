"""Domain shift: how a model trained on one kind of image fares on another, measured per image.

Introduced in notebook 09 (generalization). A network learns the images it was shown: their
intensities, texture, density and, above all, the size of the objects in pixels (notebook 06:
what a pixel of the output sees is limited by the receptive field). Real microscopes differ in
all of these, so the same model scores differently from one image to the next. Two habits
undo part of the shift before the network sees the image:

- **per-image normalisation** (notebook 03): the 1st and 99.8th percentile -> 0 and 1, where
  a fixed range (the dtype's maximum) leaves dim images dim (:func:`segment_fixed_range`
  shows what the model does without it);
- **rescaling to the training object size** with a measured or estimated diameter
  (:func:`bioimage_course.routes.segment_with`, :func:`bioimage_course.nuclei.estimate_diameter`).

:func:`plot_f1_vs_diameter` draws the per-image F1 against the nucleus size, with the sizes the
model was trained on shaded.

Examples
--------
>>> from bioimage_course.nuclei import load_pretrained
>>> image = (np.random.default_rng(0).random((64, 64)) * 50).astype(np.uint8)
>>> segment_fixed_range(load_pretrained(), image).shape
(64, 64)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import check_intensity_image
from .routes import ROUTES, TRAINING_DIAMETER_PX, predict_route

__all__ = ["segment_fixed_range", "plot_f1_vs_diameter"]


def segment_fixed_range(model: Any, image: Any, *, device: Any = None) -> np.ndarray:
    """Labels of ``image`` as acquired, scaled by its dtype's range instead of its percentiles.

    Integer images are divided by the largest value of their dtype (255 for uint8), float
    images are taken as they are: what a model sees when nobody normalised per image. No
    rescaling either, so only the normalisation differs from
    ``segment_with(model, "three_class", image, diameter_px=model.training_diameter_px)``.
    """
    image = check_intensity_image(image, "image")
    top = np.iinfo(image.dtype).max if np.issubdtype(image.dtype, np.integer) else 1.0
    outputs = predict_route(model, "three_class", image.astype(np.float32) / top, device=device)
    return ROUTES["three_class"].decode(outputs, 1.0)


def plot_f1_vs_diameter(
    diameters: Any,
    f1_by_method: dict[str, Any],
    *,
    training_diameter_px: float = TRAINING_DIAMETER_PX,
    zoom: tuple[float, float] = (0.7, 1.4),
    ax=None,
):
    """Per-image F1 against the images' median nucleus diameter, one series per method.

    The band shows the sizes the model saw in training: ``training_diameter_px`` times the
    augmentation's ``zoom`` range.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    diameters = np.asarray(diameters, dtype=float)
    low, high = (training_diameter_px * z for z in zoom)
    ax.axvspan(low, high, color="0.9", label="sizes seen in training")
    for (name, f1), marker in zip(f1_by_method.items(), "osd^v<>", strict=False):
        f1 = np.asarray(f1, dtype=float)
        if f1.shape != diameters.shape:
            raise ValueError(
                f"`f1_by_method[{name!r}]` must have one value per diameter "
                f"({diameters.size}), got {f1.size}"
            )
        ax.scatter(diameters, f1, marker=marker, label=name, alpha=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="median nucleus diameter (px, log scale)", ylabel="F1 at IoU 0.5",
           ylim=(-0.02, 1.02))  # fmt: skip
    ax.legend(fontsize=8, loc="lower right")
    return ax
