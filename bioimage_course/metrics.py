"""How good is a segmentation or a restoration? Numbers that answer it, and how they can lie.

Introduced in notebook 07 (metrics); used to validate training from notebook 05 onwards.

Five families, each a few small functions:

1. **Pixel level** (binary masks): count true/false positives and negatives, then
   :func:`precision`, :func:`recall`, :func:`f1` (= Dice) and :func:`jaccard` (= IoU) of those
   counts. :func:`pixel_scores` for one image, :func:`pixel_scores_dataset` for many,
   :func:`class_scores` for every class of a semantic label map.
2. **Instance level** (label images): every predicted object is paired with at most one true
   object (:func:`match_objects`) when their overlap score (IoU, or intersection over the true
   or the predicted object) reaches a threshold; :func:`matching` and :func:`matching_dataset`
   turn the pairs into TP/FP/FN and the scores built on them. The definitions are those of
   StarDist's ``stardist.matching``: same fields, same counts, scores equal up to StarDist's
   float32 rounding, except for one documented choice about empty images (``empty_score``).
3. **Distance**: :func:`hausdorff_distance` between two masks, its 95th percentile (HD95), in
   pixels or micrometres.
4. **Image to image** (restoration, denoising): :func:`mse`, :func:`mae`, :func:`psnr`,
   :func:`ssim`, equal to scikit-image's at the same settings.
5. **Biology**: what an experiment reports: :func:`object_measurements` (area, equivalent
   diameter, mean intensity per object), :func:`object_density`, and
   :func:`compare_measurements` of a prediction against the ground truth.

For notebooks: :func:`score_table` prints results side by side, :func:`plot_matching_curve`
draws scores against the matching threshold and :func:`plot_matches` outlines matched, missed
and false objects.

Conventions for empty images
----------------------------
A score is a ratio; with nothing to count, the ratio is 0/0. Every function here that can meet
it takes ``empty_score``: the value reported when *both* images contain nothing (no foreground
pixels, no objects). The default 1.0 says "nothing to find and nothing found is a perfect
result". When only one side is empty, the other side's pixels or objects are all errors and
every score is 0, as in StarDist. ``empty_score=0.0`` reproduces StarDist (which reports 0 for
every score when both images are empty) and ``empty_score=np.nan`` reproduces Cellpose (whose
``average_precision`` computes 0/0 and gets NaN). The choice matters when scores are averaged
over images (``by_image=True``): an empty tile predicted empty counts as a success with the
default, as a failure with StarDist's convention, and poisons the mean with Cellpose's.

Examples
--------
>>> import numpy as np
>>> truth = np.zeros((8, 8), int); truth[1:4, 1:4] = 1; truth[5:8, 5:8] = 2
>>> pred = np.zeros((8, 8), int); pred[1:4, 1:4] = 7    # one found, one missed
>>> m = matching(truth, pred, thresh=0.5)
>>> m.tp, m.fp, m.fn, m.f1
(1, 0, 1, 0.6666666666666666)
>>> pixel_scores(truth > 0, pred > 0).f1
0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._validate import check_array, check_choice, check_in_range, check_labels, check_same_shape

__all__ = [
    "PixelScores",
    "Matching",
    "DatasetMatching",
    "MatchedPairs",
    "ObjectMeasurements",
    "MeasurementComparison",
    "precision",
    "recall",
    "f1",
    "jaccard",
    "pixel_scores",
    "pixel_scores_dataset",
    "class_scores",
    "overlap_matrix",
    "match_objects",
    "matching",
    "matching_dataset",
    "hausdorff_distance",
    "boundary",
    "mse",
    "mae",
    "psnr",
    "ssim",
    "ssim_map",
    "count_objects",
    "object_density",
    "object_measurements",
    "compare_measurements",
    "score_table",
    "plot_matching_curve",
    "plot_matches",
]

CRITERIA = ("iou", "iot", "iop")
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


# --------------------------------------------------------------------------------------------
# Scores from counts
# --------------------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float, nothing_at_all: bool, empty_score: float) -> float:
    """``numerator / denominator``; 0/0 is ``empty_score`` if both sides are empty, else 0."""
    if denominator > 0:
        return float(numerator / denominator)
    return float(empty_score) if nothing_at_all else 0.0


def _check_empty_score(empty_score: Any) -> float:
    if isinstance(empty_score, (float, np.floating)) and np.isnan(empty_score):
        return float("nan")
    return check_in_range(empty_score, "empty_score", 0, 1)


def precision(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """Fraction of the predictions that are correct: TP / (TP + FP).

    Parameters
    ----------
    tp, fp, fn : int
        Counts of true positives, false positives and false negatives (pixels or objects).
    empty_score : float
        Value when all three counts are 0 (see the module docstring). With no predictions but
        something to find (``tp + fp == 0 < fn``) the precision is 0.

    Returns
    -------
    float

    Examples
    --------
    >>> precision(8, 2, 5)
    0.8
    >>> precision(0, 0, 0), precision(0, 0, 0, empty_score=0.0), precision(0, 0, 3)
    (1.0, 0.0, 0.0)
    """
    return _ratio(tp, tp + fp, tp + fp + fn == 0, empty_score)


def recall(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """Fraction of the true positives that were found: TP / (TP + FN), also called sensitivity.

    Parameters
    ----------
    tp, fp, fn, empty_score
        As in :func:`precision`.

    Returns
    -------
    float

    Examples
    --------
    >>> recall(8, 2, 2)
    0.8
    """
    return _ratio(tp, tp + fn, tp + fp + fn == 0, empty_score)


def f1(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN).

    On pixels this is the **Dice coefficient** 2 |A ∩ B| / (|A| + |B|).

    Parameters
    ----------
    tp, fp, fn, empty_score
        As in :func:`precision`.

    Returns
    -------
    float

    Examples
    --------
    >>> p, r = precision(6, 2, 4), recall(6, 2, 4)
    >>> round(2 * p * r / (p + r), 12) == round(f1(6, 2, 4), 12)
    True
    """
    return _ratio(2 * tp, 2 * tp + fp + fn, tp + fp + fn == 0, empty_score)


def jaccard(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> float:
    """TP / (TP + FP + FN): the Jaccard index.

    On pixels this is the **IoU** |A ∩ B| / |A ∪ B|. On objects it is what the Data Science Bowl
    2018, StarDist and Cellpose call "accuracy" or "average precision (AP)" (it is not the area
    under a precision-recall curve). It is related to F1 by ``J = F1 / (2 - F1)``.

    Parameters
    ----------
    tp, fp, fn, empty_score
        As in :func:`precision`.

    Returns
    -------
    float

    Examples
    --------
    >>> jaccard(6, 2, 4)
    0.5
    >>> d = f1(6, 2, 4); round(d / (2 - d), 12)
    0.5
    """
    return _ratio(tp, tp + fp + fn, tp + fp + fn == 0, empty_score)


# --------------------------------------------------------------------------------------------
# Pixel level
# --------------------------------------------------------------------------------------------


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


def _as_mask(x: Any, name: str) -> np.ndarray:
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
    """Compare two binary masks pixel by pixel.

    Parameters
    ----------
    y_true, y_pred : array_like
        Masks of the same shape (any number of dimensions, so a batch works too): bool,
        integers (nonzero is foreground, so label images can be passed as they are) or floats
        equal to 0 or 1. Torch tensors are accepted.
    empty_score : float
        Precision, recall, F1 and IoU when neither mask has a foreground pixel (see the module
        docstring; 0.0 is StarDist's convention, ``np.nan`` Cellpose's).

    Returns
    -------
    PixelScores
        ``tp, fp, fn, tn`` (pixel counts) and ``precision``, ``recall``, ``f1`` (= Dice),
        ``iou`` (= Jaccard) and ``accuracy`` = (TP + TN) / all pixels.

    Notes
    -----
    Pixel accuracy is dominated by the background when objects are small: a prediction of
    "all background" on an image with 5 % foreground has 95 % accuracy. F1 and IoU ignore TN
    and do not have this problem; they are related by ``IoU = F1 / (2 - F1)``, so they rank
    segmentations identically.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((4, 4), bool); truth[:2, :2] = True
    >>> pred = np.zeros((4, 4), bool); pred[:2, :3] = True
    >>> s = pixel_scores(truth, pred)
    >>> s.tp, s.fp, s.fn, s.tn, s.iou
    (4, 2, 0, 10, 0.6666666666666666)
    >>> pixel_scores(np.zeros((2, 2)), np.zeros((2, 2))).f1
    1.0
    """
    empty_score = _check_empty_score(empty_score)
    mask_true = _as_mask(y_true, "y_true")
    mask_pred = _as_mask(y_pred, "y_pred")
    check_same_shape(mask_true, mask_pred, "y_true", "y_pred")
    return _scores_from_counts(*_pixel_counts(mask_true, mask_pred), empty_score)


def _check_pairs(ys_true: Sequence, ys_pred: Sequence) -> None:
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

    Parameters
    ----------
    ys_true, ys_pred : sequence of array_like
        Pairs of masks, as for :func:`pixel_scores`; images may differ in shape.
    by_image : bool
        False (default): add the counts of all images, then compute the scores once, so a big
        image weighs more than a small one. True: compute the scores per image and average them,
        so every image weighs the same (an image with ``empty_score=np.nan`` makes the mean NaN).
    empty_score : float
        As in :func:`pixel_scores`.

    Returns
    -------
    PixelScores
        Counts are always summed over the images.

    Examples
    --------
    >>> import numpy as np
    >>> big, small = np.ones((10, 10), bool), np.ones((2, 2), bool)
    >>> pixel_scores_dataset([big, small], [big, ~small]).f1         # pooled
    0.9803921568627451
    >>> pixel_scores_dataset([big, small], [big, ~small], by_image=True).f1
    0.5
    """
    _check_pairs(ys_true, ys_pred)
    empty_score = _check_empty_score(empty_score)
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

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Class maps of the same shape (e.g. 0 background, 1 interior, 2 boundary).
    classes : sequence of int, optional
        Classes to score; by default every value that occurs in either map.
    empty_score : float
        As in :func:`pixel_scores` (a class absent from both maps gets it).

    Returns
    -------
    dict of int to PixelScores

    Examples
    --------
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


# --------------------------------------------------------------------------------------------
# Instance level: overlaps, one-to-one matching, scores
# --------------------------------------------------------------------------------------------


class Matching(NamedTuple):
    """Instance matching of one image pair at one threshold (see :func:`matching`)."""

    criterion: str
    thresh: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    accuracy: float
    f1: float
    n_true: int
    n_pred: int
    mean_true_score: float
    mean_matched_score: float
    panoptic_quality: float


class DatasetMatching(NamedTuple):
    """Instance matching over a dataset at one threshold (see :func:`matching_dataset`)."""

    criterion: str
    thresh: float
    by_image: bool
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    accuracy: float
    f1: float
    n_true: int
    n_pred: int
    mean_true_score: float
    mean_matched_score: float
    panoptic_quality: float


class MatchedPairs(NamedTuple):
    """Matched objects: ``true_labels[k]`` is paired with ``pred_labels[k]`` at ``scores[k]``."""

    true_labels: np.ndarray
    pred_labels: np.ndarray
    scores: np.ndarray


_LOOKUP_LIMIT = 1 << 22  # relabel with a lookup table when the largest label is below this


def _relabel(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map the labels to 0, 1..n (0 stays background) in one vectorised pass.

    Returns the relabelled image flattened (intp) and the original ids (``ids[k - 1]`` is the
    original label of new label ``k``).
    """
    flat = labels.ravel()
    if flat.dtype == bool:
        flat = flat.view(np.uint8)
    top = int(flat.max())
    if top <= max(_LOOKUP_LIMIT, 2 * flat.size):
        flat = flat.astype(np.intp, copy=False)
        present = np.bincount(flat, minlength=top + 1).astype(bool)
        present[0] = False
        ids = np.flatnonzero(present)
        lookup = np.zeros(top + 1, dtype=np.intp)
        lookup[ids] = np.arange(1, ids.size + 1)
        return lookup[flat], ids
    values, inverse = np.unique(flat, return_inverse=True)
    if values[0] == 0:
        return inverse.astype(np.intp, copy=False), values[1:]
    return inverse.astype(np.intp) + 1, values


def _contingency(
    t: np.ndarray, p: np.ndarray, n_t: int, n_p: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sparse overlap table of two relabelled images in one bincount over the label pairs.

    Returns the object areas (index 0 is background), and for every overlapping pair of
    objects its true id, predicted id (1-based) and number of shared pixels.
    """
    n_cells = (n_t + 1) * (n_p + 1)
    if n_cells <= min(max(4 * t.size, 1 << 20), 1 << 25):  # a dense table of at most 256 MB
        pair_code = t * (n_p + 1) + p  # one integer per (true, pred) label pair
        table = np.bincount(pair_code, minlength=n_cells).reshape(n_t + 1, n_p + 1)
        area_t, area_p = table.sum(axis=1), table.sum(axis=0)
        inner = table[1:, 1:]
        ti, pj = np.nonzero(inner)
        return area_t, area_p, ti + 1, pj + 1, inner[ti, pj]
    # many objects: count only the pairs that occur (sorting instead of a huge table)
    area_t = np.bincount(t, minlength=n_t + 1)
    area_p = np.bincount(p, minlength=n_p + 1)
    both = (t > 0) & (p > 0)
    pair_code = t[both].astype(np.int64) * (n_p + 1) + p[both]
    codes, inter = np.unique(pair_code, return_counts=True)
    ti, pj = np.divmod(codes, n_p + 1)
    return area_t, area_p, ti.astype(np.intp), pj.astype(np.intp), inter


class _Overlaps:
    """Scores of every overlapping pair of objects, and what the assignment needs of them."""

    def __init__(self, y_true: np.ndarray, y_pred: np.ndarray, criterion: str):
        t, self.true_ids = _relabel(y_true)
        p, self.pred_ids = _relabel(y_pred)
        self.n_true, self.n_pred = self.true_ids.size, self.pred_ids.size
        area_t, area_p, ti, pj, inter = _contingency(t, p, self.n_true, self.n_pred)
        inter = inter.astype(np.float64)
        if criterion == "iou":
            score = inter / (area_t[ti] + area_p[pj] - inter)
        elif criterion == "iot":
            score = inter / area_t[ti]
        else:
            score = inter / area_p[pj]
        self.ti, self.pj, self.score = ti - 1, pj - 1, score  # 0-based object indices

    @cached_property
    def components(self):
        """Connected groups of objects linked by overlaps (computed once, on demand).

        Objects are the nodes (true objects first, then predicted ones) and overlapping pairs
        the edges. Returns the group of every node and edge, and the nodes and edges sorted by
        group with the start of each group in that order.
        """
        n_t, n_nodes = self.n_true, self.n_true + self.n_pred
        graph = coo_matrix(
            (np.ones(self.ti.size, np.int8), (self.ti, n_t + self.pj)), shape=(n_nodes, n_nodes)
        )
        n_comp, comp = connected_components(graph, directed=False)
        node_order = np.argsort(comp, kind="stable")
        node_start = np.concatenate([[0], np.cumsum(np.bincount(comp, minlength=n_comp))])
        edge_comp = comp[self.ti]
        edge_order = np.argsort(edge_comp, kind="stable")
        edge_start = np.concatenate([[0], np.cumsum(np.bincount(edge_comp, minlength=n_comp))])
        return comp, edge_comp, node_order, node_start, edge_order, edge_start

    def assign(self, thresh: float) -> np.ndarray:
        """Boolean mask of the overlapping pairs chosen as matches at ``thresh``.

        The one-to-one assignment maximises the number of pairs with score >= ``thresh`` and,
        among those, the total score of the assigned pairs (StarDist's objective). Where no
        object has two candidates at or above the threshold the candidates are the answer;
        the assignment problem is solved only inside groups of overlapping objects that compete.
        """
        n_t = self.n_true
        candidate = self.score >= thresh
        chosen = candidate.copy()
        if not candidate.any():
            return chosen
        busy_t = np.bincount(self.ti[candidate], minlength=n_t) > 1
        busy_p = np.bincount(self.pj[candidate], minlength=self.n_pred) > 1
        if not (busy_t.any() or busy_p.any()):
            return chosen  # the candidates already form a one-to-one matching
        comp, edge_comp, node_order, node_start, edge_order, edge_start = self.components
        contested = np.zeros(comp.max() + 1, dtype=bool)
        contested[comp[np.flatnonzero(busy_t)]] = True
        contested[comp[n_t + np.flatnonzero(busy_p)]] = True
        chosen &= ~contested[edge_comp]
        local = np.empty(comp.size, dtype=np.intp)
        for c in np.flatnonzero(contested):
            nodes = node_order[node_start[c] : node_start[c + 1]]
            rows, cols = nodes[nodes < n_t], nodes[nodes >= n_t]
            local[rows] = np.arange(rows.size)
            local[cols] = np.arange(cols.size)
            edges = edge_order[edge_start[c] : edge_start[c + 1]]
            r, k = local[self.ti[edges]], local[n_t + self.pj[edges]]
            score = np.zeros((rows.size, cols.size))
            score[r, k] = self.score[edges]
            edge_id = np.full((rows.size, cols.size), -1, dtype=np.intp)
            edge_id[r, k] = edges
            # first maximise the number of pairs >= thresh; the score term (< 1 in total)
            # only breaks ties between assignments with the same number of pairs
            cost = -(score >= thresh).astype(float) - score / (2 * min(score.shape))
            row_ind, col_ind = linear_sum_assignment(cost)
            ok = score[row_ind, col_ind] >= thresh
            chosen[edge_id[row_ind[ok], col_ind[ok]]] = True
        return chosen


def _check_label_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = check_labels(y_true, "y_true", ndim=(2, 3))
    y_pred = check_labels(y_pred, "y_pred", ndim=(2, 3))
    check_same_shape(y_true, y_pred, "y_true", "y_pred")
    return y_true, y_pred


def _thresholds(thresh: Any) -> tuple[tuple[float, ...], bool]:
    single = np.ndim(thresh) == 0
    values = tuple(np.ravel(thresh).tolist())  # plain Python numbers, also from 0-d arrays
    if not values:
        raise ValueError("`thresh` must be a number or a non-empty sequence of numbers, got []")
    return tuple(check_in_range(t, "thresh", 0, 1, low_inclusive=False) for t in values), single


def overlap_matrix(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contingency table of two label images: shared pixels of every pair of labels.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Label images of the same shape; 0 is background, labels need not be consecutive.

    Returns
    -------
    overlap : ndarray of int64, shape (n_true + 1, n_pred + 1)
        ``overlap[i, j]`` counts the pixels that belong to the i-th true object and the j-th
        predicted object; row and column 0 are the background.
    true_labels, pred_labels : ndarray
        The labels of the rows and columns: ``true_labels[i - 1]`` is row ``i``.

    Notes
    -----
    Built in one pass without a loop over objects: both images are renumbered to 0..n, each
    pixel's pair of labels becomes one integer ``i * (n_pred + 1) + j`` and ``np.bincount``
    counts them. The row sums are the areas of the true objects, the column sums those of the
    predicted ones, so ``IoU[i, j] = overlap[i, j] / (area_true[i] + area_pred[j] -
    overlap[i, j])``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[0, 5, 5], [0, 5, 5]])
    >>> pred = np.array([[0, 0, 2], [9, 9, 2]])
    >>> overlap, t, p = overlap_matrix(truth, pred)
    >>> overlap
    array([[1, 0, 1],
           [1, 2, 1]])
    >>> t, p
    (array([5]), array([2, 9]))
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    t, true_ids = _relabel(y_true)
    p, pred_ids = _relabel(y_pred)
    n_t, n_p = true_ids.size, pred_ids.size
    table = np.bincount(t * (n_p + 1) + p, minlength=(n_t + 1) * (n_p + 1))
    return table.reshape(n_t + 1, n_p + 1).astype(np.int64), true_ids, pred_ids


def match_objects(y_true, y_pred, thresh: float = 0.5, *, criterion: str = "iou") -> MatchedPairs:
    """Pair predicted objects one-to-one with true objects whose overlap score reaches ``thresh``.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        2D or 3D label images of the same shape; 0 is background, labels need not be
        consecutive.
    thresh : float
        Smallest score of a match, in (0, 1].
    criterion : {"iou", "iot", "iop"}
        Overlap score: intersection over union, over the true object, or over the predicted
        object. "iot" forgives predictions larger than the truth, "iop" smaller ones.

    Returns
    -------
    MatchedPairs
        Original labels of the matched objects and their scores, sorted by true label.

    Notes
    -----
    Among all one-to-one assignments this picks one with the largest number of pairs at or
    above ``thresh`` and, among those, the largest total score of the assigned pairs (the
    objective of StarDist's ``matching``). For IoU and ``thresh > 0.5`` the choice is never
    contested: an object can overlap at most one other object with IoU > 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((6, 6), int); truth[:3, :3] = 4; truth[3:, 3:] = 8
    >>> pred = np.zeros((6, 6), int); pred[:3, :2] = 1; pred[3:, 3:] = 2
    >>> pairs = match_objects(truth, pred, 0.5)
    >>> pairs.true_labels, pairs.pred_labels, pairs.scores.round(3)
    (array([4, 8]), array([1, 2]), array([0.667, 1.   ]))
    """
    (thresh,), _ = _thresholds(thresh)
    check_choice(criterion, "criterion", CRITERIA)
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    ov = _Overlaps(y_true, y_pred, criterion)
    chosen = np.flatnonzero(ov.assign(thresh))
    order = chosen[np.argsort(ov.ti[chosen], kind="stable")]
    return MatchedPairs(
        ov.true_ids[ov.ti[order]], ov.pred_ids[ov.pj[order]], ov.score[order].copy()
    )


def _summary(
    tp: int, n_true: int, n_pred: int, sum_score: float, empty_score: float
) -> dict[str, Any]:
    fp, fn = n_pred - tp, n_true - tp
    empty = n_true == 0 and n_pred == 0
    return dict(
        tp=int(tp),
        fp=int(fp),
        fn=int(fn),
        precision=precision(tp, fp, fn, empty_score=empty_score),
        recall=recall(tp, fp, fn, empty_score=empty_score),
        accuracy=jaccard(tp, fp, fn, empty_score=empty_score),
        f1=f1(tp, fp, fn, empty_score=empty_score),
        n_true=int(n_true),
        n_pred=int(n_pred),
        mean_true_score=_ratio(sum_score, n_true, empty, empty_score),
        mean_matched_score=_ratio(sum_score, tp, empty, empty_score),
        panoptic_quality=_ratio(sum_score, tp + fp / 2 + fn / 2, empty, empty_score),
    )


def _match_counts(ov: _Overlaps, thresholds: tuple[float, ...]) -> list[tuple[int, float]]:
    counts = []
    for thr in thresholds:
        chosen = ov.assign(thr)
        counts.append((int(chosen.sum()), float(ov.score[chosen].sum())))
    return counts


def matching(
    y_true,
    y_pred,
    thresh: float | Sequence[float] = 0.5,
    *,
    criterion: str = "iou",
    empty_score: float = 1.0,
) -> Matching | tuple[Matching, ...]:
    """Instance segmentation scores of a predicted label image against the ground truth.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        2D or 3D label images of the same shape; 0 is background, labels need not be
        consecutive (``[0, 3, 17]`` is fine).
    thresh : float or sequence of float
        Overlap needed for a match, in (0, 1]. A sequence (e.g. 0.1, 0.2, ..., 0.9) returns one
        result per threshold; the overlaps are computed once.
    criterion : {"iou", "iot", "iop"}
        Overlap score, see :func:`match_objects`.
    empty_score : float
        Every ratio below when *both* images have no object: 1.0 (default), 0.0 to reproduce
        StarDist, ``np.nan`` to reproduce Cellpose (see the module docstring).

    Returns
    -------
    Matching or tuple of Matching
        ``tp`` matched pairs, ``fp`` unmatched predictions, ``fn`` unmatched true objects;
        ``precision``, ``recall``, ``f1``; ``accuracy`` = TP / (TP + FP + FN), the score the
        Data Science Bowl 2018 and Cellpose call **average precision (AP)**;
        ``mean_matched_score`` the mean score of the matched pairs (the segmentation quality
        of what was detected); ``mean_true_score`` the same sum divided by the number of true
        objects; ``panoptic_quality`` = sum of matched scores / (TP + FP/2 + FN/2), which is
        F1 times ``mean_matched_score`` (Kirillov et al., CVPR 2019).

    Notes
    -----
    The definitions, field names and values are those of ``stardist.matching.matching`` except
    two choices: both images empty gives ``empty_score`` (StarDist: 0), and ``thresh`` must be
    > 0 (StarDist accepts 0 and then counts even non-overlapping pairs as matches). StarDist
    (0.9) computes the scores in float32, so its mean scores differ from these (float64) in
    the 7th or 8th digit.
    The one-to-one assignment is that of :func:`match_objects`.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((10, 10), int); truth[1:5, 1:5] = 1; truth[6:9, 6:9] = 2
    >>> pred = np.zeros((10, 10), int); pred[1:5, 2:5] = 3
    >>> m = matching(truth, pred)
    >>> m.tp, m.fp, m.fn, m.precision, m.recall, m.mean_matched_score
    (1, 0, 1, 1.0, 0.5, 0.75)
    >>> [r.tp for r in matching(truth, pred, thresh=(0.5, 0.8))]
    [1, 0]
    >>> matching(truth * 0, pred * 0).f1, matching(truth * 0, pred * 0, empty_score=0.0).f1
    (1.0, 0.0)
    """
    thresholds, single = _thresholds(thresh)
    check_choice(criterion, "criterion", CRITERIA)
    empty_score = _check_empty_score(empty_score)
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    ov = _Overlaps(y_true, y_pred, criterion)
    results = tuple(
        Matching(
            criterion=criterion,
            thresh=thr,
            **_summary(tp, ov.n_true, ov.n_pred, sum_score, empty_score),
        )
        for thr, (tp, sum_score) in zip(thresholds, _match_counts(ov, thresholds), strict=True)
    )
    return results[0] if single else results


def matching_dataset(
    ys_true: Sequence,
    ys_pred: Sequence,
    thresh: float | Sequence[float] = 0.5,
    *,
    criterion: str = "iou",
    by_image: bool = False,
    empty_score: float = 1.0,
) -> DatasetMatching | tuple[DatasetMatching, ...]:
    """Instance segmentation scores over a dataset of label image pairs.

    Parameters
    ----------
    ys_true, ys_pred : sequence of array_like of int
        Pairs of label images (each pair of the same shape).
    thresh : float or sequence of float
        As in :func:`matching`.
    criterion : {"iou", "iot", "iop"}
        As in :func:`matching`.
    by_image : bool
        False (default): add TP, FP, FN and the matched scores over all images, then compute
        the scores once (every object weighs the same). True: average each image's scores (every
        image weighs the same, so a tile with two nuclei counts as much as one with two hundred).
    empty_score : float
        As in :func:`matching`; for pooled scores it only applies if the whole dataset has no
        object.

    Returns
    -------
    DatasetMatching or tuple of DatasetMatching
        The fields of :class:`Matching` plus ``by_image``. ``tp, fp, fn, n_true, n_pred`` are
        always sums over images. Equal to StarDist's ``matching_dataset``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((6, 6), int); truth[:3, :3] = 1
    >>> empty = np.zeros((6, 6), int)
    >>> matching_dataset([truth, empty], [truth, empty]).f1
    1.0
    >>> matching_dataset([truth, empty], [truth, empty], by_image=True, empty_score=0.0).f1
    0.5
    """
    _check_pairs(ys_true, ys_pred)
    thresholds, single = _thresholds(thresh)
    check_choice(criterion, "criterion", CRITERIA)
    empty_score = _check_empty_score(empty_score)
    n_thr = len(thresholds)
    tp, sum_score = np.zeros(n_thr, np.int64), np.zeros(n_thr)
    n_true = n_pred = 0
    per_image: list[list[dict[str, Any]]] = [[] for _ in thresholds]
    for y_t, y_p in zip(ys_true, ys_pred, strict=True):
        y_t, y_p = _check_label_pair(y_t, y_p)
        ov = _Overlaps(y_t, y_p, criterion)
        n_true, n_pred = n_true + ov.n_true, n_pred + ov.n_pred
        for k, (count, total) in enumerate(_match_counts(ov, thresholds)):
            tp[k] += count
            sum_score[k] += total
            if by_image:
                per_image[k].append(_summary(count, ov.n_true, ov.n_pred, total, empty_score))
    results = []
    for k, thr in enumerate(thresholds):
        pooled = _summary(int(tp[k]), n_true, n_pred, float(sum_score[k]), empty_score)
        if by_image:  # average the scores (floats); the counts (ints) stay summed
            for name, value in pooled.items():
                if isinstance(value, float):
                    pooled[name] = float(np.mean([image[name] for image in per_image[k]]))
        results.append(DatasetMatching(criterion, thr, bool(by_image), **pooled))
    return results[0] if single else tuple(results)


# --------------------------------------------------------------------------------------------
# Distance between masks
# --------------------------------------------------------------------------------------------


def _spacing(pixel_size_um: Any, ndim: int) -> np.ndarray | None:
    if pixel_size_um is None:
        return None
    given = np.atleast_1d(np.asarray(pixel_size_um))
    if given.ndim != 1 or given.size not in (1, ndim):
        raise ValueError(
            f"`pixel_size_um` must be a number or one number per axis ({ndim}), got {pixel_size_um}"
        )
    sizes = [check_in_range(s.item(), "pixel_size_um", 0, low_inclusive=False) for s in given]
    return np.resize(np.array(sizes), ndim)


def boundary(mask) -> np.ndarray:
    """Pixels of a mask that touch the background (or the image edge) along an axis.

    Parameters
    ----------
    mask : array_like
        Binary mask (nonzero is foreground), 2D or 3D.

    Returns
    -------
    ndarray of bool
        The inner boundary: foreground pixels with at least one face neighbour outside.

    Examples
    --------
    >>> import numpy as np
    >>> square = np.zeros((5, 5), bool); square[1:4, 1:4] = True
    >>> boundary(square).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 0, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    mask = _as_mask(check_array(mask, "mask", ndim=(2, 3)), "mask")
    structure = ndi.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndi.binary_erosion(mask, structure=structure, border_value=0)


def hausdorff_distance(
    mask_a,
    mask_b,
    *,
    percentile: float = 100.0,
    pixel_size_um: float | Sequence[float] | None = None,
    use_boundary: bool = True,
) -> float:
    """Hausdorff distance between two masks: how far the worst point of one is from the other.

    Parameters
    ----------
    mask_a, mask_b : array_like
        Binary masks (nonzero is foreground) of the same 2D or 3D shape.
    percentile : float
        100 (default) gives the Hausdorff distance (the largest distance); 95 gives **HD95**,
        which ignores the 5 % worst points and so a single stray pixel.
    pixel_size_um : float or sequence of float, optional
        Pixel size (one value or one per axis); the distance is then in micrometres, else in
        pixels.
    use_boundary : bool
        True (default): distances between the boundaries (:func:`boundary`) of the masks, the
        usual definition for segmentation (MONAI, Metrics Reloaded). False: between all
        foreground pixels, which is what ``skimage.metrics.hausdorff_distance`` computes.

    Returns
    -------
    float
        ``max(P(d(a, B) for a in A), P(d(b, A) for b in B))`` with ``P`` the percentile (linear
        interpolation) of the distances from each point of one set to the nearest point of the
        other. 0.0 if both masks are empty, ``inf`` if only one is (as in scikit-image).

    Notes
    -----
    Distances come from a Euclidean distance transform of the complement of each set, so the
    cost is linear in the number of pixels, not quadratic in the number of points.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((20, 20), bool); a[5:10, 5:10] = True
    >>> b = np.zeros((20, 20), bool); b[5:10, 5:13] = True
    >>> hausdorff_distance(a, b), hausdorff_distance(a, b, pixel_size_um=0.5)
    (3.0, 1.5)
    """
    percentile = check_in_range(percentile, "percentile", 0, 100)
    a = _as_mask(check_array(mask_a, "mask_a", ndim=(2, 3)), "mask_a")
    b = _as_mask(check_array(mask_b, "mask_b", ndim=(2, 3)), "mask_b")
    check_same_shape(a, b, "mask_a", "mask_b")
    spacing = _spacing(pixel_size_um, a.ndim)
    if use_boundary:
        a, b = boundary(a), boundary(b)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return float("inf")
    to_b = ndi.distance_transform_edt(~b, sampling=spacing)[a]
    to_a = ndi.distance_transform_edt(~a, sampling=spacing)[b]
    return float(max(np.percentile(to_b, percentile), np.percentile(to_a, percentile)))


# --------------------------------------------------------------------------------------------
# Image to image (restoration)
# --------------------------------------------------------------------------------------------


def _image_pair(image_true, image_test) -> tuple[np.ndarray, np.ndarray]:
    a = check_array(image_true, "image_true", finite=True)
    b = check_array(image_test, "image_test", finite=True)
    check_same_shape(a, b, "image_true", "image_test")
    return a.astype(np.float64), b.astype(np.float64)


def mse(image_true, image_test) -> float:
    """Mean squared error: the mean of (true - test)², the squared L2 loss.

    Parameters
    ----------
    image_true, image_test : array_like
        Images of the same shape; computed in float64 whatever their dtype.

    Returns
    -------
    float

    Examples
    --------
    >>> mse([[0, 2], [4, 4]], [[1, 2], [4, 1]])
    2.5
    """
    a, b = _image_pair(image_true, image_test)
    return float(np.mean((a - b) ** 2))


def mae(image_true, image_test) -> float:
    """Mean absolute error: the mean of |true - test|, the L1 loss.

    Less sensitive than :func:`mse` to a few large errors.

    Parameters
    ----------
    image_true, image_test : array_like
        Images of the same shape.

    Returns
    -------
    float

    Examples
    --------
    >>> mae([[0, 2], [4, 4]], [[1, 2], [4, 1]])
    1.0
    """
    a, b = _image_pair(image_true, image_test)
    return float(np.mean(np.abs(a - b)))


def _check_data_range(data_range: Any) -> float:
    return check_in_range(data_range, "data_range", 0, low_inclusive=False)


def psnr(image_true, image_test, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range² / MSE).

    Parameters
    ----------
    image_true, image_test : array_like
        Images of the same shape.
    data_range : float
        The range of possible values (4095 for a 12-bit camera, 1 for images scaled to [0, 1]).
        It has no default on purpose: the same images give a different PSNR with another range.

    Returns
    -------
    float
        ``inf`` for identical images.

    Examples
    --------
    >>> round(psnr([[0.0, 0.5]], [[0.1, 0.5]], data_range=1.0), 3)
    23.01
    """
    data_range = _check_data_range(data_range)
    error = mse(image_true, image_test)
    if error == 0:
        return float("inf")
    return float(10 * np.log10(data_range**2 / error))


def _ssim_window(window: str, win_size: int, sigma: float):
    """The local averaging of SSIM and its width in pixels."""
    check_choice(window, "window", ("uniform", "gaussian"))
    if window == "gaussian":
        sigma = check_in_range(sigma, "sigma", 0, low_inclusive=False)

        def smooth(x):
            return ndi.gaussian_filter(x, sigma=sigma, truncate=3.5, mode="reflect")

        return smooth, 2 * int(3.5 * sigma + 0.5) + 1
    if int(win_size) != win_size or win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"`win_size` must be an odd integer >= 3, got {win_size!r}")

    def smooth(x):
        return ndi.uniform_filter(x, size=int(win_size), mode="reflect")

    return smooth, int(win_size)


def ssim_map(
    image_true,
    image_test,
    *,
    data_range: float,
    window: str = "uniform",
    win_size: int = 7,
    sigma: float = 1.5,
    sample_covariance: bool = True,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """Local structural similarity at every pixel (Wang et al., IEEE TIP 2004).

    In a window around each pixel, SSIM compares the local means (luminance), standard
    deviations (contrast) and the correlation (structure) of the two images::

        SSIM = (2 mu_x mu_y + C1) (2 s_xy + C2) / ((mu_x² + mu_y² + C1) (s_x² + s_y² + C2))

    with ``C1 = (k1 data_range)²`` and ``C2 = (k2 data_range)²`` keeping flat regions stable.

    Parameters
    ----------
    image_true, image_test : array_like
        2D or 3D grayscale images of the same shape.
    data_range : float
        Range of possible values (sets C1 and C2).
    window : {"uniform", "gaussian"}
        A ``win_size`` box, or a Gaussian of standard deviation ``sigma`` truncated at 3.5
        sigma (11 pixels wide for sigma 1.5, as in the paper).
    win_size : int
        Odd box width for the uniform window.
    sigma : float
        Gaussian window width.
    sample_covariance : bool
        Normalise variances by N - 1 (True, scikit-image's default) or N (the paper).
    k1, k2 : float
        Stabilising constants.

    Returns
    -------
    ndarray of float64
        The SSIM map, the shape of the images (edges reflect).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((16, 16))
    >>> bool(np.allclose(ssim_map(image, image, data_range=1.0), 1.0))
    True
    """
    a, b = _image_pair(image_true, image_test)
    if a.ndim not in (2, 3):
        raise ValueError(f"`image_true` must be a 2D or 3D array, got shape {a.shape}")
    data_range = _check_data_range(data_range)
    smooth, win_size = _ssim_window(window, win_size, sigma)
    if min(a.shape) < win_size:
        raise ValueError(
            f"`image_true` must be at least {win_size} pixels along every axis for a "
            f"{win_size}-pixel window, got shape {a.shape}"
        )
    n = win_size**a.ndim
    norm = n / (n - 1) if sample_covariance else 1.0
    mu_a, mu_b = smooth(a), smooth(b)
    var_a = norm * (smooth(a * a) - mu_a * mu_a)
    var_b = norm * (smooth(b * b) - mu_b * mu_b)
    cov = norm * (smooth(a * b) - mu_a * mu_b)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )


def ssim(image_true, image_test, *, data_range: float, **options) -> float:
    """Mean structural similarity (SSIM) of two images: 1 for identical images.

    Parameters
    ----------
    image_true, image_test : array_like
        2D or 3D grayscale images of the same shape.
    data_range : float
        Range of possible values (e.g. 1.0 for images in [0, 1]).
    **options
        ``window``, ``win_size``, ``sigma``, ``sample_covariance``, ``k1``, ``k2`` as in
        :func:`ssim_map`.

    Returns
    -------
    float
        The mean of :func:`ssim_map` without a border of half a window, where the window
        leaves the image. Equal to ``skimage.metrics.structural_similarity`` with the same
        settings (``gaussian_weights=True`` for ``window="gaussian"``, and
        ``use_sample_covariance`` for ``sample_covariance``).

    Notes
    -----
    SSIM looks at local structure rather than at pixel errors: blurring an image keeps its MSE
    low but removes fine structure and lowers SSIM; a constant offset of the intensities raises
    MSE a lot but hardly changes SSIM.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((32, 32))
    >>> ssim(image, image, data_range=1.0)
    1.0
    >>> ssim(image, image + 0.2, data_range=1.0) > 0.9, mse(image, image + 0.2) > 0.03
    (True, True)
    """
    local = ssim_map(image_true, image_test, data_range=data_range, **options)
    _, win_size = _ssim_window(
        options.get("window", "uniform"), options.get("win_size", 7), options.get("sigma", 1.5)
    )
    pad = (win_size - 1) // 2
    inner = local[tuple(slice(pad, s - pad) for s in local.shape)]
    return float(inner.mean(dtype=np.float64))


# --------------------------------------------------------------------------------------------
# Biologically relevant measures
# --------------------------------------------------------------------------------------------


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
    spacing = _spacing(pixel_size_um, 2)
    if spacing is None:
        raise TypeError("`pixel_size_um` must be a number (or one per axis), got None")
    return float(np.prod(spacing))


def count_objects(labels) -> int:
    """Number of objects (distinct nonzero labels) in a label image.

    Examples
    --------
    >>> count_objects([[0, 3, 3], [7, 0, 0]])
    2
    """
    labels = check_labels(labels, "labels")
    return int(_relabel(labels)[1].size)


def object_density(labels, *, pixel_size_um: float | Sequence[float]) -> float:
    """Objects per square millimetre of field of view (a 2D label image).

    Parameters
    ----------
    labels : array_like of int
        2D label image (0 is background).
    pixel_size_um : float or (float, float)
        Pixel size in micrometres (rows, cols).

    Returns
    -------
    float
        ``count / (rows * cols * pixel area)``, with 1 mm² = 10⁶ µm².

    Examples
    --------
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

    Parameters
    ----------
    labels : array_like of int
        2D label image (0 is background; labels need not be consecutive).
    image : array_like, optional
        Intensity image of the same shape, for the mean intensity per object.
    pixel_size_um : float or (float, float)
        Pixel size in micrometres.

    Returns
    -------
    ObjectMeasurements
        ``label``, ``area_um2`` (pixel count times pixel area), ``equivalent_diameter_um``
        (diameter of the disc of the same area, 2 sqrt(area / pi)) and ``mean_intensity``
        (None without an image), one entry per object in label order.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((10, 10), int); labels[:4, :4] = 3; labels[5:, 5:] = 9
    >>> m = object_measurements(labels, labels * 10, pixel_size_um=0.5)
    >>> m.label, m.area_um2, m.mean_intensity
    (array([3, 9]), array([4.  , 6.25]), array([30., 90.]))
    """
    labels = check_labels(labels, "labels", ndim=2)
    pixel_area = _pixel_area_um2(pixel_size_um)
    flat, ids = _relabel(labels)
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

    Parameters
    ----------
    labels_true, labels_pred : array_like of int
        2D label images of the same shape.
    image : array_like, optional
        Intensity image, for the mean intensity per object.
    pixel_size_um : float or (float, float)
        Pixel size in micrometres.

    Returns
    -------
    MeasurementComparison
        Counts and their error (pred - true) and relative error; the mean object area, equivalent
        diameter and mean intensity of each side with the relative error of the prediction
        ((pred - true) / true, NaN without true objects); and the Kolmogorov-Smirnov statistic
        of the two area distributions (largest gap between their cumulative distributions: 0
        for identical distributions, 1 for ones that do not overlap).

    Notes
    -----
    This is the *validity* question: a segmentation can reach a high Dice and still bias the
    measurement (masks one pixel too wide inflate every area), and a merged pair of nuclei
    lowers the count and inflates the mean area while barely changing pixel scores.

    Examples
    --------
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


def score_table(results: dict[str, Any], fields: Sequence[str], *, digits: int = 3) -> str:
    """A plain-text table of named results, one row per entry, one column per field.

    Parameters
    ----------
    results : dict of str to NamedTuple (or dict)
        Row names and results, e.g. ``{"classical": pixel_scores(...), "U-Net": ...}``.
    fields : sequence of str
        Fields to show as columns.
    digits : int
        Decimals of floats.

    Returns
    -------
    str

    Examples
    --------
    >>> scores = {"classical": PixelScores(1, 0, 1, 2, 1.0, 0.5, 2 / 3, 0.5, 0.75)}
    >>> print(score_table(scores, ["tp", "f1"]))
               tp      f1
    classical   1   0.667
    """
    if not results:
        raise ValueError("`results` must contain at least one row, got none")
    rows = {
        str(name): result if isinstance(result, dict) else result._asdict()
        for name, result in results.items()
    }
    texts = {
        name: [
            f"{row[f]:.{digits}f}" if isinstance(row[f], (float, np.floating)) else str(row[f])
            for f in fields
        ]
        for name, row in rows.items()
    }
    widths = [
        2 + max(len(f), *(len(cells[k]) for cells in texts.values())) for k, f in enumerate(fields)
    ]
    name_width = max(len(name) for name in rows)
    lines = [" " * name_width + "".join(f"{f:>{w}}" for f, w in zip(fields, widths, strict=True))]
    for name, cells in texts.items():
        row = "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        lines.append(f"{name:<{name_width}}{row}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def plot_matching_curve(
    results: Sequence[Matching | DatasetMatching],
    *,
    scores: Sequence[str] = ("f1", "precision", "recall"),
    ax=None,
    label: str | None = None,
):
    """Plot scores of a threshold sweep (from :func:`matching` with several thresholds).

    Parameters
    ----------
    results : sequence of Matching or DatasetMatching
        One result per threshold.
    scores : sequence of str
        Fields to plot against the threshold.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    label : str, optional
        Prefix of the legend entries (e.g. the method's name).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8), int); truth[2:6, 2:6] = 1
    >>> ax = plot_matching_curve(matching(truth, truth, thresh=(0.5, 0.9)))
    >>> len(ax.lines)
    3
    """
    import matplotlib.pyplot as plt

    if len(results) == 0:
        raise ValueError("`results` must contain at least one result, got 0")
    for name in scores:
        check_choice(name, "scores", results[0]._fields)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2))
    thresholds = [r.thresh for r in results]
    for name in scores:
        text = f"{label} {name}" if label else name
        ax.plot(thresholds, [getattr(r, name) for r in results], marker="o", ms=3, label=text)
    ax.set_xlabel(f"{results[0].criterion.upper()} threshold")
    ax.set_ylabel("score")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_matches(y_true, y_pred, thresh: float = 0.5, *, image=None, ax=None, criterion="iou"):
    """Outline matched (green), false positive (red) and missed (yellow) objects.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        2D label images of the same shape.
    thresh : float
        Matching threshold, as in :func:`matching`.
    image : array_like, optional
        2D image drawn underneath (gray, min-max scaled for display); black when None.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    criterion : {"iou", "iot", "iop"}
        As in :func:`matching`.

    Returns
    -------
    matplotlib Axes
        Titled with the counts of TP, FP and FN.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8), int); truth[1:4, 1:4] = 1; truth[5:8, 5:8] = 2
    >>> ax = plot_matches(truth, truth * (truth == 1), 0.5)
    >>> ax.get_title()
    'IoU ≥ 0.5: TP 1, FP 0, FN 1'
    """
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    y_true, y_pred = _check_label_pair(y_true, y_pred)
    if y_true.ndim != 2:
        raise ValueError(f"`y_true` must be a 2D array, got shape {y_true.shape}")
    pairs = match_objects(y_true, y_pred, thresh, criterion=criterion)
    if image is None:
        rgb = np.zeros(y_true.shape + (3,))
    else:
        image = check_array(image, "image", ndim=2, finite=True).astype(np.float64)
        check_same_shape(y_true, image, "y_true", "image")
        low, high = image.min(), image.max()
        gray = (image - low) / (high - low) if high > low else np.zeros_like(image)
        rgb = np.repeat(gray[..., None], 3, axis=-1)
    missed = y_true * ~np.isin(y_true, pairs.true_labels)
    matched = y_pred * np.isin(y_pred, pairs.pred_labels)
    false_pos = y_pred * ~np.isin(y_pred, pairs.pred_labels)
    for labels, colour in (
        (missed, (1, 0.85, 0)),
        (false_pos, (1, 0.1, 0.1)),
        (matched, (0, 1, 0)),
    ):
        rgb[find_boundaries(labels, mode="inner") & (labels > 0)] = colour
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(rgb, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    n_tp = pairs.true_labels.size
    n_true, n_pred = count_objects(y_true), count_objects(y_pred)
    name = {"iou": "IoU", "iot": "IoT", "iop": "IoP"}[criterion]
    ax.set_title(f"{name} ≥ {thresh:g}: TP {n_tp}, FP {n_pred - n_tp}, FN {n_true - n_tp}")
    return ax
