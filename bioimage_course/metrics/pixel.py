"""Pixel-level scores of binary masks: count true/false positives and negatives, then score.

Notebook 07 (and validation in notebook 05). :func:`precision`, :func:`recall`, :func:`f1`
(= Dice) and :func:`jaccard` (= IoU) are tiny named functions of the counts (pixels or
objects); ``empty_score`` is their value when all counts are 0 (see
:mod:`bioimage_course.metrics`).

>>> import numpy as np
>>> truth = np.array([1, 1, 1, 0, 0], bool); pred = np.array([1, 1, 0, 1, 0], bool)
>>> s = pixel_scores(truth, pred)
>>> s.tp, s.fp, s.fn, round(s.f1, 3)
(2, 1, 1, 0.667)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._validate import check_array, check_in_range, check_labels, check_same_shape


def check_counts(tp: Any, fp: Any, fn: Any) -> None:
    """Counts are numbers >= 0 (a negative or NaN count is a bug upstream, never a score)."""
    for name, value in (("tp", tp), ("fp", fp), ("fn", fn)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"`{name}` must be a count (a number >= 0), got {value!r}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a count (a number >= 0), got {value!r}")


def ratio(numerator: float, denominator: float, nothing_at_all: bool, empty_score: float) -> float:
    """``numerator / denominator``; 0/0 is ``empty_score`` if both sides are empty, else 0."""
    if denominator > 0:
        return float(numerator / denominator)
    return float(empty_score) if nothing_at_all else 0.0


def check_empty_score(empty_score: Any) -> float:
    if isinstance(empty_score, (float, np.floating)) and np.isnan(empty_score):
        return float("nan")
    return check_in_range(empty_score, "empty_score", 0, 1)


def precision(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """Fraction of the predictions that are correct: TP / (TP + FP).

    With no predictions but something to find (``tp + fp == 0 < fn``) the precision is 0.

    >>> precision(8, 2, 5)
    0.8
    >>> precision(0, 0, 0), precision(0, 0, 0, empty_score=0.0), precision(0, 0, 3)
    (1.0, 0.0, 0.0)
    """
    check_counts(tp, fp, fn)
    return ratio(tp, tp + fp, tp + fp + fn == 0, empty_score)


def recall(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """Fraction of the true positives that were found: TP / (TP + FN), also called sensitivity.

    >>> recall(8, 2, 2)
    0.8
    """
    check_counts(tp, fp, fn)
    return ratio(tp, tp + fn, tp + fp + fn == 0, empty_score)


def f1(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN); on pixels, **Dice**.

    >>> p, r = precision(6, 2, 4), recall(6, 2, 4)
    >>> round(2 * p * r / (p + r), 12) == round(f1(6, 2, 4), 12)
    True
    """
    check_counts(tp, fp, fn)
    return ratio(2 * tp, 2 * tp + fp + fn, tp + fp + fn == 0, empty_score)


def jaccard(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """TP / (TP + FP + FN): the Jaccard index; on pixels, **IoU** |A ∩ B| / |A ∪ B|.

    On objects, what the Data Science Bowl 2018, StarDist and Cellpose call "accuracy" or
    "average precision (AP)" (not the area under a precision-recall curve). ``J = F1 / (2 - F1)``.

    >>> jaccard(6, 2, 4)
    0.5
    >>> d = f1(6, 2, 4); round(d / (2 - d), 12)
    0.5
    """
    check_counts(tp, fp, fn)
    return ratio(tp, tp + fp + fn, tp + fp + fn == 0, empty_score)


class PixelScores(NamedTuple):
    """Pixel counts and the scores computed from them (see :func:`pixel_scores`)."""

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    iou: float
    accuracy: float


def as_mask(x: Any, name: str) -> np.ndarray:
    """A boolean mask from bool, integer (nonzero = foreground) or 0/1 float input."""
    arr = check_array(x, name)
    if arr.dtype.kind == "f":
        if not np.isin(arr, (0.0, 1.0)).all():
            raise TypeError(
                f"`{name}` must be a binary mask (bool, integers, or floats equal to 0 or 1), "
                "got other float values; threshold the probabilities first, e.g. `prob > 0.5`"
            )
    return arr != 0


def _scores_from_counts(tp: int, fp: int, fn: int, tn: int, empty_score: float) -> PixelScores:
    total = tp + fp + fn + tn
    return PixelScores(
        tp=int(tp),
        fp=int(fp),
        fn=int(fn),
        tn=int(tn),
        precision=precision(tp, fp, fn, empty_score=empty_score),
        recall=recall(tp, fp, fn, empty_score=empty_score),
        f1=f1(tp, fp, fn, empty_score=empty_score),
        iou=jaccard(tp, fp, fn, empty_score=empty_score),
        accuracy=float((tp + tn) / total) if total else float(empty_score),
    )


def _pixel_counts(mask_true: np.ndarray, mask_pred: np.ndarray) -> tuple[int, int, int, int]:
    tp = int(np.count_nonzero(mask_true & mask_pred))
    n_true = int(np.count_nonzero(mask_true))
    n_pred = int(np.count_nonzero(mask_pred))
    fp, fn = n_pred - tp, n_true - tp
    return tp, fp, fn, mask_true.size - tp - fp - fn


def pixel_scores(y_true, y_pred, *, empty_score: float = 1.0) -> PixelScores:
    """Compare two binary masks pixel by pixel: counts, precision, recall, F1, IoU, accuracy.

    Masks of any shape (a batch too): bool, integers (nonzero is foreground, so label images
    pass as they are) or floats equal to 0 or 1; torch tensors too. Accuracy is dominated by the
    background: "all background" on 5 % foreground scores 95 %. F1 and IoU ignore TN and rank
    segmentations identically.

    >>> import numpy as np
    >>> truth = np.zeros((4, 4), bool); truth[:2, :2] = True
    >>> pred = np.zeros((4, 4), bool); pred[:2, :3] = True
    >>> s = pixel_scores(truth, pred)
    >>> s.tp, s.fp, s.fn, s.tn, s.iou
    (4, 2, 0, 10, 0.6666666666666666)
    >>> pixel_scores(np.zeros((2, 2)), np.zeros((2, 2))).f1
    1.0
    """
    empty_score = check_empty_score(empty_score)
    mask_true = as_mask(y_true, "y_true")
    mask_pred = as_mask(y_pred, "y_pred")
    check_same_shape(mask_true, mask_pred, "y_true", "y_pred")
    return _scores_from_counts(*_pixel_counts(mask_true, mask_pred), empty_score)


def check_pairs(ys_true: Sequence, ys_pred: Sequence) -> None:
    if len(ys_true) != len(ys_pred):
        raise ValueError(
            "`ys_true` and `ys_pred` must have the same length, "
            f"got {len(ys_true)} and {len(ys_pred)}"
        )
    if len(ys_true) == 0:
        raise ValueError("`ys_true` must contain at least one image, got 0")


def pixel_scores_dataset(
    ys_true: Sequence, ys_pred: Sequence, *, by_image: bool = False, empty_score: float = 1.0
) -> PixelScores:
    """Pixel scores over a dataset: pooled over all pixels, or averaged over images.

    ``by_image=False`` adds the counts first (a big image weighs more); ``True`` averages the
    per-image scores (every image weighs the same). Counts are always summed.

    >>> import numpy as np
    >>> big, small = np.ones((10, 10), bool), np.ones((2, 2), bool)
    >>> pixel_scores_dataset([big, small], [big, ~small]).f1         # pooled
    0.9803921568627451
    >>> pixel_scores_dataset([big, small], [big, ~small], by_image=True).f1
    0.5
    """
    check_pairs(ys_true, ys_pred)
    empty_score = check_empty_score(empty_score)
    per_image = [
        pixel_scores(t, p, empty_score=empty_score) for t, p in zip(ys_true, ys_pred, strict=True)
    ]
    counts = np.array([s[:4] for s in per_image], dtype=np.int64).sum(axis=0)
    if not by_image:
        return _scores_from_counts(*(int(c) for c in counts), empty_score)
    means = [float(np.mean([s[k] for s in per_image])) for k in range(4, len(PixelScores._fields))]
    return PixelScores(*(int(c) for c in counts), *means)


def class_scores(
    y_true, y_pred, *, classes: Sequence[int] | None = None, empty_score: float = 1.0
) -> dict[int, PixelScores]:
    """Pixel scores of every class of two semantic label maps (one class vs the rest).

    ``classes`` default: every value in either map; a class absent from both gets ``empty_score``.

    >>> import numpy as np
    >>> truth = np.array([[0, 1, 1, 2]]); pred = np.array([[0, 1, 2, 2]])
    >>> {c: s.f1 for c, s in class_scores(truth, pred).items()}
    {0: 1.0, 1: 0.6666666666666666, 2: 0.6666666666666666}
    """
    y_true = check_labels(y_true, "y_true")
    y_pred = check_labels(y_pred, "y_pred")
    check_same_shape(y_true, y_pred, "y_true", "y_pred")
    if classes is None:
        classes = np.union1d(np.unique(y_true), np.unique(y_pred)).tolist()
    return {
        int(c): pixel_scores(y_true == c, y_pred == c, empty_score=empty_score) for c in classes
    }
