"""One call from a fluorescence image to nuclei: :func:`segment_nuclei` and its steps.

Introduced in notebook 08 (instance segmentation) and used on real images in notebook 09
(generalization). The course's best route, packaged for use outside the course:

1. **percentile normalisation** (notebook 03): the 1st and 99.8th percentile -> 0 and 1;
2. **object size** (notebook 06): a network recognises nuclei of the sizes it was trained on.
   Real nuclei span 7 to 94 pixels across from one microscope to another, so the image is
   rescaled until its nuclei are :data:`TRAINING_DIAMETER_PX` across. Their size is given
   (``diameter_px``, or ``pixel_size_um`` and a typical nucleus size) or estimated
   (:func:`estimate_diameter`), the idea behind Cellpose's ``diameter``;
3. **tiled prediction** (notebook 05) of the 3-class U-Net (background / interior / boundary);
4. **seeded watershed** (:func:`bioimage_course.postprocess.instances_from_three_class`),
   then back to the image's own pixel grid (:func:`bioimage_course.routes.segment_with`).

The pretrained model ships with the package (``bioimage_course/weights``, with its model card);
``python -m bioimage_course.pretrain`` reproduces it.

Examples
--------
>>> from bioimage_course.data import make_nuclei
>>> image, truth = make_nuclei((128, 128), rng=3)
>>> labels = segment_nuclei(image)
>>> labels.shape, labels.dtype, int(labels.max()) > 5
((128, 128), dtype('int32'), True)
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage as ndi
from skimage import filters, measure

from ._validate import check_in_range, check_intensity_image
from .models import UNet
from .normalize import normalize_percentile
from .postprocess import median_diameter
from .routes import TRAINING_DIAMETER_PX, segment_with

__all__ = [
    "TRAINING_DIAMETER_PX",
    "TYPICAL_NUCLEUS_UM",
    "WEIGHTS",
    "estimate_diameter",
    "load_pretrained",
    "model_card",
    "segment_nuclei",
]

TYPICAL_NUCLEUS_UM = 9.0  # a typical mammalian nucleus, used with pixel_size_um
WEIGHTS = "nuclei_unet.pt"  # in bioimage_course/weights, beside its card nuclei_unet.json
_DIAMETER_RANGE = (4.0, 250.0)  # estimates are clipped to this range


def estimate_diameter(image: Any) -> float:
    """Estimate the typical diameter (pixels) of the bright nuclei in a fluorescence image.

    A rough, classical measure that needs no network: blur lightly, threshold (Otsu), fill
    holes, and take twice the 75th percentile over objects of the largest distance to the
    background (the radius of the largest disk that fits in each object). Unlike the object's
    area, that radius does not grow when touching nuclei merge into one blob; the 75th
    percentile rather than the median, because dim nuclei and fragments of textured ones are
    too small in the thresholded mask.

    Parameters
    ----------
    image : array_like
        2D image, bright nuclei on a dark background.

    Returns
    -------
    float
        Diameter in pixels, clipped to [4, 250].

    Examples
    --------
    >>> from skimage.draw import disk
    >>> image = np.zeros((100, 100))
    >>> for centre in [(30, 30), (70, 60), (30, 75)]:
    ...     image[disk(centre, 10)] = 1  # disks 21 pixels across
    >>> estimate_diameter(image)
    21.0
    """
    image = check_intensity_image(image, "image")
    x = normalize_percentile(image, 1, 99.8)
    x = filters.gaussian(x, sigma=1.0)
    if x.max() == x.min():
        return TRAINING_DIAMETER_PX
    mask = ndi.binary_fill_holes(x > filters.threshold_otsu(x))
    objects = measure.label(mask, connectivity=1)
    if objects.max() == 0:
        return TRAINING_DIAMETER_PX
    distance = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    radius = ndi.maximum(distance, objects, index=np.arange(1, objects.max() + 1))
    radius = np.asarray(radius)[np.asarray(radius) >= 1.5]  # specks of noise
    if radius.size == 0:
        return TRAINING_DIAMETER_PX
    # The largest inscribed disk of a pixelated disk of diameter d has radius ~ d / 2 - 0.5.
    return float(np.clip(2 * np.percentile(radius, 75) + 1, *_DIAMETER_RANGE))


def _weights_folder():
    return resources.files("bioimage_course").joinpath("weights")


def model_card() -> dict[str, Any]:
    """The recorded card of the shipped model: training data, recipe, scores, checksum."""
    text = _weights_folder().joinpath(WEIGHTS.replace(".pt", ".json")).read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _shipped_model() -> UNet:
    with resources.as_file(_weights_folder().joinpath(WEIGHTS)) as path:
        return load_pretrained(path)


def load_pretrained(path: Any = None) -> UNet:
    """Load a nuclei model written by :mod:`bioimage_course.pretrain` (default: the shipped one).

    The file holds the weights and the architecture only, and is read with
    ``torch.load(..., weights_only=True)``, which cannot run code from the file. A BioImage
    Model Zoo package of this course (its folder, ``rdf.yaml`` or zip, written by
    :func:`bioimage_course.zoo.export_model`) is loaded with
    :func:`bioimage_course.zoo.load_zoo_model`.

    Returns
    -------
    UNet
        In eval mode on the CPU, with ``model.config`` (architecture) and
        ``model.training_diameter_px``.
    """
    if path is None:
        return _shipped_model()
    if Path(path).is_dir() or Path(path).suffix.lower() in (".zip", ".yaml", ".yml"):
        from .zoo import load_zoo_model

        return load_zoo_model(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"`path` must be a nuclei model checkpoint, got {str(path)!r}")
    model = UNet(**checkpoint["config"])
    state = {
        k: v.float() if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()
    }
    model.load_state_dict(state)
    model.training_diameter_px = float(checkpoint["training_diameter_px"])
    model.route = "three_class"
    return model.eval()


def segment_nuclei(
    image: Any,
    *,
    pixel_size_um: float | None = None,
    diameter_px: float | None = None,
    model: torch.nn.Module | None = None,
    refine: bool = True,
    device: Any = None,
) -> np.ndarray:
    """Segment the nuclei of a 2D fluorescence image into instance labels.

    Parameters
    ----------
    image : array_like
        2D image (rows, cols), bright nuclei on a dark background, any dtype or range.
    pixel_size_um : float, optional
        Pixel size; the nuclei are then taken to be :data:`TYPICAL_NUCLEUS_UM` across.
    diameter_px : float, optional
        The typical nucleus diameter in pixels (takes precedence over ``pixel_size_um``).
        Without either it is estimated from the image (:func:`estimate_diameter`).
    model : torch.nn.Module or path, optional
        A 3-class nuclei model from :func:`load_pretrained` (or a path it reads: a checkpoint
        or a BioImage Model Zoo package); default: the shipped one.
    refine : bool
        When the diameter was estimated, measure the nuclei found at that scale and, if their
        median diameter differs from the estimate by more than 25 %, predict once more at the
        corrected scale.
    device : str or torch.device, optional
        Where to compute (:func:`bioimage_course.device.get_device`).

    Returns
    -------
    numpy.ndarray
        int32 labels of the image's shape: 0 background, 1..N one nucleus each.
    """
    image = check_intensity_image(image, "image")
    if diameter_px is not None:
        diameter_px = check_in_range(diameter_px, "diameter_px", 0, low_inclusive=False)
    elif pixel_size_um is not None:
        pixel_size_um = check_in_range(pixel_size_um, "pixel_size_um", 0, low_inclusive=False)
        diameter_px = TYPICAL_NUCLEUS_UM / pixel_size_um
    model = load_pretrained(model) if model is None or isinstance(model, (str, Path)) else model
    scale = dict(training_diameter_px=getattr(model, "training_diameter_px", TRAINING_DIAMETER_PX))
    estimated = diameter_px is None
    diameter = estimate_diameter(image) if estimated else float(diameter_px)
    labels = segment_with(model, "three_class", image, diameter_px=diameter, device=device, **scale)
    if estimated and refine and labels.max() > 0:
        found = float(np.clip(median_diameter(labels), *_DIAMETER_RANGE))
        if abs(np.log(found / diameter)) > np.log(1.25):
            labels = segment_with(
                model, "three_class", image, diameter_px=found, device=device, **scale
            )
    return labels
