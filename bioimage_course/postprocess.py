"""From labels to training targets and back: targets that keep touching nuclei apart.

Introduced in notebook 08 (instance segmentation). A network trained on ``labels > 0`` learns
one blob where two nuclei touch, and the connected components of its output count them once.
Two targets carry the missing information, each with an *encoder* (labels -> target, for
training) and a *decoder* (network output -> labels, for prediction):

- **three classes** (background / interior / boundary): :func:`three_class_target` marks a thin
  ring at the edge of every nucleus as its own class. Where two nuclei touch, their rings meet,
  so the interiors are separate islands. :func:`instances_from_three_class` takes the islands as
  seeds and grows them back over the ring with a watershed;
- **a distance map** (the lecture's "learn deterministic features rather than discrete
  labels"): :func:`distance_target` gives every nucleus pixel its distance to the nucleus's
  edge, divided by the largest such distance in that nucleus (1 at the centre, small at the
  edge). Every nucleus is one hill, and a valley separates touching ones.
  :func:`instances_from_distance` takes one seed per hill (its maxima) and floods the hills
  with a watershed, restricted to the foreground.

:func:`seeded_watershed` is the shared last step, a thin layer over
:func:`skimage.segmentation.watershed` (tested equal to it).

Cellpose (Stringer et al., Nature Methods 2021) takes the idea further and learns the *flow*
towards each cell's centre; StarDist (Schmidt, Weigert et al., MICCAI 2018) learns the distances
to the boundary along 32 rays, which describe every nucleus as a star-convex polygon.

Examples
--------
>>> labels = np.zeros((8, 12), int); labels[1:7, 1:6] = 1; labels[1:7, 6:11] = 2
>>> target = three_class_target(labels)
>>> int((target == INTERIOR).sum()), int((target == BOUNDARY).sum())
(24, 36)
>>> probabilities = np.stack([target == c for c in (BACKGROUND, INTERIOR, BOUNDARY)])
>>> decoded = instances_from_three_class(probabilities.astype(float))
>>> bool((decoded == labels).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage import measure, morphology, segmentation

from ._validate import check_array, check_in_range, check_label_ids, check_labels

__all__ = [
    "BACKGROUND",
    "INTERIOR",
    "BOUNDARY",
    "three_class_target",
    "distance_target",
    "seeded_watershed",
    "median_diameter",
    "remove_small",
    "instances_from_three_class",
    "instances_from_distance",
]

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def _disk(radius: int) -> np.ndarray:
    return morphology.disk(radius).astype(bool)


def three_class_target(labels: Any, *, boundary_px: int = 1) -> np.ndarray:
    """Background (0), interior (1) and boundary (2) classes of an instance label image.

    Parameters
    ----------
    labels : array_like
        2D instance labels, 0 = background.
    boundary_px : int
        Width of the boundary ring in pixels: a nucleus pixel is *boundary* when a pixel of
        another label (background or another nucleus) lies within this distance (a disk).
        The image border does not count as an edge.

    Returns
    -------
    numpy.ndarray
        uint8 classes, the shape of ``labels``.

    Examples
    --------
    >>> labels = np.array([[1, 1, 1, 2, 2, 2, 0]] * 3)
    >>> three_class_target(labels)[1]
    array([1, 1, 2, 2, 1, 2, 0], dtype=uint8)
    """
    labels = check_labels(labels, "labels", ndim=2)
    if not float(boundary_px).is_integer() or boundary_px < 1:
        raise ValueError(f"`boundary_px` must be an int >= 1, got {boundary_px!r}")
    footprint = _disk(int(boundary_px))
    # A pixel is interior when its whole neighbourhood carries its own label.
    highest = ndi.maximum_filter(labels, footprint=footprint, mode="nearest")
    lowest = ndi.minimum_filter(labels, footprint=footprint, mode="nearest")
    foreground = labels > 0
    interior = foreground & (highest == labels) & (lowest == labels)
    target = np.zeros(labels.shape, np.uint8)
    target[foreground] = BOUNDARY
    target[interior] = INTERIOR
    return target


def distance_target(labels: Any) -> np.ndarray:
    """Each nucleus pixel's distance to the nucleus edge, scaled to 1 at the nucleus centre.

    Parameters
    ----------
    labels : array_like
        2D instance labels, 0 = background.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1]: 0 on the background, ``d / max(d)`` inside each nucleus, where ``d``
        is the Euclidean distance to the nearest pixel outside the nucleus (so 1 pixel-wide
        edges get ``1 / max(d)``). Touching nuclei get separate hills, since the distance is
        measured to the other nucleus too. The image border does not count as an edge.

    Examples
    --------
    >>> labels = np.zeros((1, 7), int); labels[0, :3] = 1; labels[0, 3:6] = 2
    >>> distance_target(labels).round(3)
    array([[1.   , 0.667, 0.333, 0.5  , 1.   , 0.5  , 0.   ]], dtype=float32)
    """
    labels = check_label_ids(labels, "labels", ndim=2)
    out = np.zeros(labels.shape, np.float32)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        # Pad the box by one pixel so the distance reaches the edge; pad with the nucleus
        # itself where the box meets the image border.
        grown = tuple(
            slice(max(s.start - 1, 0), min(s.stop + 1, n))
            for s, n in zip(box, labels.shape, strict=True)
        )
        inside = labels[grown] == index
        padding = [
            (int(s.start == 0), int(s.stop == n)) for s, n in zip(grown, labels.shape, strict=True)
        ]
        padded = np.pad(inside, padding, mode="edge")
        distance = ndi.distance_transform_edt(padded)
        rows = slice(padding[0][0], padded.shape[0] - padding[0][1])
        cols = slice(padding[1][0], padded.shape[1] - padding[1][1])
        distance = distance[rows, cols]
        out[grown][inside] = (distance[inside] / distance[inside].max()).astype(np.float32)
    return out


def median_diameter(labels: Any) -> float:
    """Median equivalent diameter (pixels) of the objects in ``labels``: ``2 sqrt(area / pi)``.

    >>> labels = np.zeros((20, 20), int); labels[2:12, 2:12] = 1
    >>> round(median_diameter(labels), 2)
    11.28
    """
    areas = np.bincount(check_label_ids(labels, "labels", ndim=(2, 3)).ravel())[1:]
    areas = areas[areas > 0]
    if areas.size == 0:
        return float("nan")
    return float(np.median(2.0 * np.sqrt(areas / np.pi)))


def remove_small(labels: Any, min_size: int) -> np.ndarray:
    """Remove objects with fewer than ``min_size`` pixels and number the rest 1..N.

    >>> remove_small(np.array([[1, 1, 0, 2, 3, 3, 3]]), 2)
    array([[1, 1, 0, 0, 2, 2, 2]], dtype=int32)
    """
    labels = check_label_ids(labels, "labels")
    check_in_range(min_size, "min_size", 0)
    sizes = np.bincount(labels.ravel())
    small = sizes < min_size
    small[0] = False
    labels = np.where(small[labels], 0, labels)
    return segmentation.relabel_sequential(labels)[0].astype(np.int32)


def seeded_watershed(elevation: Any, seeds: Any, mask: Any = None) -> np.ndarray:
    """Grow numbered seeds over an elevation map until they meet: a watershed.

    Parameters
    ----------
    elevation : array_like
        2D map; water rises from the seeds and fills low values first.
    seeds : array_like
        2D int labels of the seeds (0: not a seed).
    mask : array_like of bool, optional
        Only these pixels are flooded; the rest stay background.

    Returns
    -------
    numpy.ndarray
        int32 labels, one object per seed: exactly
        ``skimage.segmentation.watershed(elevation, seeds, mask=mask)``.

    Examples
    --------
    >>> elevation = np.array([[0, 1, 2, 1, 0]], float)
    >>> seeded_watershed(elevation, np.array([[1, 0, 0, 0, 2]]))
    array([[1, 1, 1, 2, 2]], dtype=int32)
    """
    elevation = check_array(elevation, "elevation", ndim=2, finite=True)
    seeds = check_labels(seeds, "seeds", ndim=2)
    if seeds.shape != elevation.shape:
        raise ValueError(
            f"`seeds` must have the shape of `elevation` {elevation.shape}, got {seeds.shape}"
        )
    if mask is not None:
        mask = check_array(mask, "mask", ndim=2).astype(bool)
        if mask.shape != elevation.shape:
            raise ValueError(
                f"`mask` must have the shape of `elevation` {elevation.shape}, got {mask.shape}"
            )
    return segmentation.watershed(elevation, seeds, mask=mask).astype(np.int32)


def _check_probabilities(probabilities: Any, name: str, channels: int) -> np.ndarray:
    p = check_array(probabilities, name, ndim=3, finite=True)
    if p.shape[0] != channels:
        raise ValueError(
            f"`{name}` must have {channels} channels first (C, rows, cols), got shape {p.shape}"
        )
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"`{name}` must be probabilities in [0, 1], got range [{p.min():.3g}, {p.max():.3g}]"
        )
    return p


def instances_from_three_class(
    probabilities: Any,
    *,
    interior_threshold: float = 0.5,
    foreground_threshold: float = 0.5,
    min_seed_size: int = 1,
    min_size: int = 1,
) -> np.ndarray:
    """Instance labels from background / interior / boundary probabilities.

    1. **seeds**: the connected regions where the interior probability exceeds
       ``interior_threshold`` (regions smaller than ``min_seed_size`` are dropped);
    2. **foreground**: pixels whose background probability is below
       ``1 - foreground_threshold`` (interior + boundary above it);
    3. **watershed**: the seeds grow over ``1 - interior probability`` within the foreground,
       so each boundary pixel joins the interior it is most connected to. Foreground without
       a seed stays background.

    Parameters
    ----------
    probabilities : array_like
        (3, rows, cols) class probabilities, channels in the order of :data:`BACKGROUND`,
        :data:`INTERIOR`, :data:`BOUNDARY` (the softmax of a 3-class network).
    interior_threshold, foreground_threshold : float
        Thresholds in [0, 1].
    min_seed_size, min_size : int
        Smallest seed and smallest final object, in pixels.

    Returns
    -------
    numpy.ndarray
        int32 labels 1..N.
    """
    p = _check_probabilities(probabilities, "probabilities", 3)
    check_in_range(interior_threshold, "interior_threshold", 0, 1)
    check_in_range(foreground_threshold, "foreground_threshold", 0, 1)
    seeds = measure.label(p[INTERIOR] > interior_threshold, connectivity=1)
    seeds = remove_small(seeds, min_seed_size)
    foreground = p[BACKGROUND] < 1 - foreground_threshold
    labels = seeded_watershed(1 - p[INTERIOR], seeds, foreground | (seeds > 0))
    return remove_small(labels, min_size)


def instances_from_distance(
    distance: Any,
    foreground: Any,
    *,
    h: float = 0.1,
    smooth_px: float = 1.0,
    foreground_threshold: float = 0.5,
    min_size: int = 1,
) -> np.ndarray:
    """Instance labels from a predicted distance map and foreground probability.

    0. **smoothing**: a Gaussian blur of ``smooth_px`` pixels, so that pixel noise in a
       predicted map does not make every bump a maximum (0: none, for exact maps);
    1. **seeds**: the maxima of the distance map that stand at least ``h`` above their
       surroundings (:func:`skimage.morphology.h_maxima`; a flat top is one seed), numbered;
    2. **watershed**: the seeds flood ``-distance`` (each hill from its top down) within the
       pixels whose foreground probability exceeds ``foreground_threshold``.

    Parameters
    ----------
    distance : array_like
        2D predicted :func:`distance_target` (values in [0, 1]).
    foreground : array_like
        2D foreground probability (or a 0/1 mask).
    h : float
        Minimal height of a maximum: a larger ``h`` merges hills split by shallow dips.
    smooth_px : float
        Standard deviation of the Gaussian blur of ``distance``, in pixels.
    foreground_threshold : float
        Threshold on ``foreground``.
    min_size : int
        Smallest final object, in pixels.

    Returns
    -------
    numpy.ndarray
        int32 labels 1..N.
    """
    distance = check_array(distance, "distance", ndim=2, finite=True)
    foreground = check_array(foreground, "foreground", ndim=2, finite=True)
    if foreground.shape != distance.shape:
        raise ValueError(
            f"`foreground` must have the shape of `distance` {distance.shape}, "
            f"got {foreground.shape}"
        )
    check_in_range(h, "h", 0, low_inclusive=False)
    check_in_range(smooth_px, "smooth_px", 0)
    check_in_range(foreground_threshold, "foreground_threshold", 0, 1)
    if smooth_px > 0:
        distance = ndi.gaussian_filter(distance.astype(np.float64), smooth_px)
    mask = foreground > foreground_threshold
    peaks = morphology.h_maxima(distance.astype(np.float64), h) > 0
    seeds = measure.label(peaks & mask, connectivity=2)
    labels = seeded_watershed(-distance, seeds, mask)
    return remove_small(labels, min_size)
