"""Instance-level scores: pair predicted objects with true ones, then count TP/FP/FN.

Notebook 07. Every predicted object is paired with at most one true object
(:func:`match_objects`) when their overlap score (IoU, or intersection over the true or the
predicted object) reaches a threshold; :func:`matching` and :func:`matching_dataset` turn the
pairs into TP/FP/FN and the scores built on them, as StarDist's ``stardist.matching`` does
(same fields and counts; the choice for empty images, ``empty_score``, is explained in
:mod:`bioimage_course.metrics`).

>>> import numpy as np
>>> truth = np.array([[1, 1, 0, 2, 2]]); pred = np.array([[3, 3, 3, 0, 0]])
>>> match_objects(truth, pred, 0.5).true_labels.tolist(), matching(truth, pred).tp
([1], 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .._validate import check_choice, check_in_range, check_labels, check_same_shape
from ..labels import relabel_sequential
from .pixel import check_empty_score, check_pairs, f1, jaccard, precision, ratio, recall

CRITERIA = ("iou", "iot", "iop")


DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


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


def _contingency(
    t: np.ndarray, p: np.ndarray, n_t: int, n_p: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sparse overlap table of two relabelled images in one bincount over the label pairs.

    Returns the object areas (index 0: background) and, for every overlapping pair, its true id,
    predicted id (1-based) and number of shared pixels.
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
        t, self.true_ids = relabel_sequential(y_true)
        p, self.pred_ids = relabel_sequential(y_pred)
        t, p = t.ravel(), p.ravel()
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

        Nodes are objects (true first, then predicted), edges overlapping pairs. Returns the
        group of every node and edge, and nodes and edges sorted by group, with group starts.
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

        Maximises the number of pairs with score >= ``thresh``, then their total score
        (StarDist's objective). Where no object has two candidates, the candidates are the answer;
        the assignment problem is solved only inside groups of objects that compete.
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


def check_label_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
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

    ``overlap[i, j]`` counts pixels of the i-th true and the j-th predicted object (row and
    column 0: background; ``true_labels[i - 1]`` names row ``i``). One ``np.bincount`` over
    ``i * (n_pred + 1) + j``, no loop over objects; row and column sums are the areas, so
    ``IoU = overlap / (area_true + area_pred - overlap)``.

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
    y_true, y_pred = check_label_pair(y_true, y_pred)
    t, true_ids = relabel_sequential(y_true)
    p, pred_ids = relabel_sequential(y_pred)
    t, p = t.ravel(), p.ravel()
    n_t, n_p = true_ids.size, pred_ids.size
    table = np.bincount(t * (n_p + 1) + p, minlength=(n_t + 1) * (n_p + 1))
    return table.reshape(n_t + 1, n_p + 1).astype(np.int64), true_ids, pred_ids


def match_objects(y_true, y_pred, thresh: float = 0.5, *, criterion: str = "iou") -> MatchedPairs:
    """Pair predicted objects one-to-one with true objects whose overlap score reaches ``thresh``.

    ``criterion``: intersection over union, over the true object ("iot" forgives predictions
    larger than the truth) or over the predicted one ("iop"). The assignment has the most pairs
    at or above ``thresh``, then the largest total score (StarDist's objective); for IoU above
    0.5 it is never contested. Returns the original labels and scores, sorted by true label.

    >>> import numpy as np
    >>> truth = np.zeros((6, 6), int); truth[:3, :3] = 4; truth[3:, 3:] = 8
    >>> pred = np.zeros((6, 6), int); pred[:3, :2] = 1; pred[3:, 3:] = 2
    >>> pairs = match_objects(truth, pred, 0.5)
    >>> pairs.true_labels, pairs.pred_labels, pairs.scores.round(3)
    (array([4, 8]), array([1, 2]), array([0.667, 1.   ]))
    """
    (thresh,), _ = _thresholds(thresh)
    check_choice(criterion, "criterion", CRITERIA)
    y_true, y_pred = check_label_pair(y_true, y_pred)
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
        mean_true_score=ratio(sum_score, n_true, empty, empty_score),
        mean_matched_score=ratio(sum_score, tp, empty, empty_score),
        panoptic_quality=ratio(sum_score, tp + fp / 2 + fn / 2, empty, empty_score),
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

    ``tp`` matched pairs, ``fp`` unmatched predictions, ``fn`` unmatched true objects;
    ``accuracy`` = TP / (TP + FP + FN), what the Data Science Bowl 2018 and Cellpose call
    **average precision (AP)**; ``mean_matched_score`` the mean score of the matched pairs;
    ``panoptic_quality`` = F1 times that (Kirillov et al., 2019). A sequence of ``thresh``
    gives one result each, from overlaps computed once. As ``stardist.matching.matching``, except
    that both images empty give ``empty_score`` and ``thresh`` must be > 0.

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
    empty_score = check_empty_score(empty_score)
    y_true, y_pred = check_label_pair(y_true, y_pred)
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
    """Instance segmentation scores over a dataset of label image pairs (StarDist's definition).

    ``by_image=False`` pools TP, FP, FN and the matched scores over all images (every object
    weighs the same); ``True`` averages each image's scores (a tile with two nuclei counts as
    much as one with two hundred). The counts are always sums.

    >>> import numpy as np
    >>> truth = np.zeros((6, 6), int); truth[:3, :3] = 1
    >>> empty = np.zeros((6, 6), int)
    >>> matching_dataset([truth, empty], [truth, empty]).f1
    1.0
    >>> matching_dataset([truth, empty], [truth, empty], by_image=True, empty_score=0.0).f1
    0.5
    """
    check_pairs(ys_true, ys_pred)
    thresholds, single = _thresholds(thresh)
    check_choice(criterion, "criterion", CRITERIA)
    empty_score = check_empty_score(empty_score)
    n_thr = len(thresholds)
    tp, sum_score = np.zeros(n_thr, np.int64), np.zeros(n_thr)
    n_true = n_pred = 0
    per_image: list[list[dict[str, Any]]] = [[] for _ in thresholds]
    for y_t, y_p in zip(ys_true, ys_pred, strict=True):
        y_t, y_p = check_label_pair(y_t, y_p)
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
