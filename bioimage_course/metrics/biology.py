"""What an experiment reports: counts, density and per-object measurements, compared.

Notebook 07: a segmentation can score well on pixels and still get the biology wrong (sizes,
counts), or the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._validate import check_array, check_labels, check_same_shape
from ..labels import relabel_sequential
from .distance import pixel_spacing


class ObjectMeasurements(NamedTuple):
    """Per-object measurements (one entry per object, sorted by label)."""

    label: np.ndarray
    area_um2: np.ndarray
    equivalent_diameter_um: np.ndarray
    mean_intensity: np.ndarray | None


class MeasurementComparison(NamedTuple):
    """What a prediction would report, next to the truth (see :func:`compare_measurements`)."""

    n_true: int
    n_pred: int
    count_error: int
    relative_count_error: float
    mean_area_true_um2: float
    mean_area_pred_um2: float
    relative_area_error: float
    mean_diameter_true_um: float
    mean_diameter_pred_um: float
    relative_diameter_error: float
    mean_intensity_true: float
    mean_intensity_pred: float
    relative_intensity_error: float
    area_ks_statistic: float


def _pixel_area_um2(pixel_size_um: Any) -> float:
    spacing = pixel_spacing(pixel_size_um, 2)
    if spacing is None:
        raise TypeError("`pixel_size_um` must be a number (or one per axis), got None")
    return float(np.prod(spacing))


def count_objects(labels) -> int:
    """Number of objects (distinct nonzero labels) in a label image.

    >>> count_objects([[0, 3, 3], [7, 0, 0]])
    2
    """
    labels = check_labels(labels, "labels")
    return int(relabel_sequential(labels)[1].size)


def object_density(labels, *, pixel_size_um: float | Sequence[float]) -> float:
    """Objects per square millimetre of field of view (a 2D label image; 1 mm² = 10⁶ µm²).

    >>> import numpy as np
    >>> labels = np.zeros((1000, 1000), int); labels[:10, :10] = 1; labels[50:60, :10] = 2
    >>> object_density(labels, pixel_size_um=0.5)     # 2 objects in 0.5 mm x 0.5 mm
    8.0
    """
    labels = check_labels(labels, "labels", ndim=2)
    field_mm2 = labels.size * _pixel_area_um2(pixel_size_um) / 1e6
    return count_objects(labels) / field_mm2


def object_measurements(
    labels, image=None, *, pixel_size_um: float | Sequence[float]
) -> ObjectMeasurements:
    """Area, equivalent diameter and mean intensity of every object of a 2D label image.

    The equivalent diameter is that of the disc of the same area, 2 sqrt(area / pi); the mean
    intensity needs ``image`` (None without). One entry per object, in label order.

    >>> import numpy as np
    >>> labels = np.zeros((10, 10), int); labels[:4, :4] = 3; labels[5:, 5:] = 9
    >>> m = object_measurements(labels, labels * 10, pixel_size_um=0.5)
    >>> m.label, m.area_um2, m.mean_intensity
    (array([3, 9]), array([4.  , 6.25]), array([30., 90.]))
    """
    labels = check_labels(labels, "labels", ndim=2)
    pixel_area = _pixel_area_um2(pixel_size_um)
    relabelled, ids = relabel_sequential(labels)
    flat = relabelled.ravel()
    counts = np.bincount(flat, minlength=ids.size + 1)[1:]
    area = counts * pixel_area
    mean_intensity = None
    if image is not None:
        image = check_array(image, "image", ndim=2, finite=True)
        check_same_shape(labels, image, "labels", "image")
        sums = np.bincount(flat, weights=image.ravel().astype(np.float64), minlength=ids.size + 1)
        mean_intensity = sums[1:] / counts
    return ObjectMeasurements(ids, area, 2 * np.sqrt(area / np.pi), mean_intensity)


def _ks_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """Largest gap between the empirical cumulative distributions of ``x`` and ``y``."""
    if x.size == 0 or y.size == 0:
        return float("nan")
    values = np.concatenate([x, y])
    cdf_x = np.searchsorted(np.sort(x), values, side="right") / x.size
    cdf_y = np.searchsorted(np.sort(y), values, side="right") / y.size
    return float(np.max(np.abs(cdf_x - cdf_y)))


def _relative(pred: float, true: float) -> float:
    return float((pred - true) / true) if true != 0 and np.isfinite(true) else float("nan")


def _mean(values: np.ndarray | None) -> float:
    return float(np.mean(values)) if values is not None and values.size else float("nan")


def compare_measurements(
    labels_true, labels_pred, image=None, *, pixel_size_um: float | Sequence[float]
) -> MeasurementComparison:
    """Would the prediction change the biological result? Compare what both would report.

    Counts, mean area, diameter and intensity of each side with the relative error
    ``(pred - true) / true``, and the Kolmogorov-Smirnov statistic of the two area distributions
    (0: identical, 1: no overlap). The *validity* question: masks one pixel too wide inflate
    every area at a high Dice; a merged pair lowers the count while barely changing pixel scores.

    >>> import numpy as np
    >>> truth = np.zeros((20, 20), int); truth[2:6, 2:6] = 1; truth[10:14, 10:14] = 2
    >>> pred = np.zeros((20, 20), int); pred[1:7, 1:7] = 1        # one found, too large
    >>> c = compare_measurements(truth, pred, pixel_size_um=1.0)
    >>> c.count_error, c.mean_area_true_um2, c.mean_area_pred_um2, c.relative_area_error
    (-1, 16.0, 36.0, 1.25)
    """
    labels_true = check_labels(labels_true, "labels_true", ndim=2)
    labels_pred = check_labels(labels_pred, "labels_pred", ndim=2)
    check_same_shape(labels_true, labels_pred, "labels_true", "labels_pred")
    true = object_measurements(labels_true, image, pixel_size_um=pixel_size_um)
    pred = object_measurements(labels_pred, image, pixel_size_um=pixel_size_um)
    n_true, n_pred = true.label.size, pred.label.size
    area_t, area_p = _mean(true.area_um2), _mean(pred.area_um2)
    diam_t, diam_p = _mean(true.equivalent_diameter_um), _mean(pred.equivalent_diameter_um)
    int_t, int_p = _mean(true.mean_intensity), _mean(pred.mean_intensity)
    return MeasurementComparison(
        n_true=n_true,
        n_pred=n_pred,
        count_error=n_pred - n_true,
        relative_count_error=_relative(n_pred, n_true),
        mean_area_true_um2=area_t,
        mean_area_pred_um2=area_p,
        relative_area_error=_relative(area_p, area_t),
        mean_diameter_true_um=diam_t,
        mean_diameter_pred_um=diam_p,
        relative_diameter_error=_relative(diam_p, diam_t),
        mean_intensity_true=int_t,
        mean_intensity_pred=int_p,
        relative_intensity_error=_relative(int_p, int_t),
        area_ks_statistic=_ks_statistic(true.area_um2, pred.area_um2),
    )
