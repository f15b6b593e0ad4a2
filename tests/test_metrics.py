"""Tests of bioimage_course.metrics.

References: written-out formulas of the published definitions (StarDist's ``matching``, the
Cellpose/DSB "average precision", Dice/IoU), a brute-force search over all one-to-one
assignments, scikit-image (Hausdorff, MSE, PSNR, SSIM, regionprops) and SciPy
(directed Hausdorff, two-sample KS statistic).
"""

import itertools

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist, directed_hausdorff
from scipy.stats import ks_2samp
from skimage import measure
from skimage import metrics as skm
from skimage.segmentation import find_boundaries

from bioimage_course import metrics as M

matplotlib.use("Agg")

COUNT_FIELDS = ("tp", "fp", "fn", "n_true", "n_pred")
SCORE_FIELDS = (
    "precision",
    "recall",
    "accuracy",
    "f1",
    "mean_true_score",
    "mean_matched_score",
    "panoptic_quality",
)


# ---------------------------------------------------------------------------------------------
# References written from the published definitions
# ---------------------------------------------------------------------------------------------


def reference_scores(y_true, y_pred, criterion):
    """Dense score matrix with one loop per pair of objects (slow and obviously right)."""
    true_ids = [v for v in np.unique(y_true) if v != 0]
    pred_ids = [v for v in np.unique(y_pred) if v != 0]
    scores = np.zeros((len(true_ids), len(pred_ids)))
    for i, t in enumerate(true_ids):
        a = y_true == t
        for j, p in enumerate(pred_ids):
            b = y_pred == p
            inter = np.sum(a & b)
            union = {"iou": np.sum(a | b), "iot": a.sum(), "iop": b.sum()}[criterion]
            scores[i, j] = inter / union
    return scores, true_ids, pred_ids


def stardist_reference(y_true, y_pred, thresh, criterion="iou"):
    """StarDist's ``matching`` as its documentation defines it: one LSA on the full matrix,
    cost ``-(score >= thresh) - score / (2 n_matched)``, and 0 for every score when tp == 0."""
    scores, _, _ = reference_scores(y_true, y_pred, criterion)
    n_true, n_pred = scores.shape
    n_matched = min(n_true, n_pred)
    tp, total = 0, 0.0
    if n_matched > 0 and np.any(scores >= thresh):
        cost = -(scores >= thresh).astype(float) - scores / (2 * n_matched)
        rows, cols = linear_sum_assignment(cost)
        ok = scores[rows, cols] >= thresh
        tp, total = int(ok.sum()), float(scores[rows, cols][ok].sum())
    fp, fn = n_pred - tp, n_true - tp

    def safe(x, y):
        return x / y if y > 0 else 0.0

    return dict(
        tp=tp,
        fp=fp,
        fn=fn,
        n_true=n_true,
        n_pred=n_pred,
        precision=tp / (tp + fp) if tp > 0 else 0,
        recall=tp / (tp + fn) if tp > 0 else 0,
        accuracy=tp / (tp + fp + fn) if tp > 0 else 0,
        f1=2 * tp / (2 * tp + fp + fn) if tp > 0 else 0,
        mean_true_score=safe(total, n_true),
        mean_matched_score=safe(total, tp),
        panoptic_quality=safe(total, tp + fp / 2 + fn / 2),
    )


def cellpose_average_precision(tp, fp, fn):
    """Cellpose's ``average_precision``: tp / (tp + fp + fn) in numpy floats (0/0 is NaN)."""
    with np.errstate(invalid="ignore"):
        return np.float64(tp) / np.float64(tp + fp + fn)


def brute_force(y_true, y_pred, thresh, criterion="iou"):
    """All one-to-one assignments: the largest number of pairs >= thresh, and the sums of
    matched scores of every assignment that reaches it with the largest total score."""
    scores, _, _ = reference_scores(y_true, y_pred, criterion)
    transpose = scores.shape[0] > scores.shape[1]
    s = scores.T if transpose else scores  # rows: the smaller side
    best = None
    for cols in itertools.permutations(range(s.shape[1]), s.shape[0]):
        chosen = s[np.arange(s.shape[0]), list(cols)]
        ok = chosen >= thresh
        key = (int(ok.sum()), float(chosen.sum()))
        matched = float(chosen[ok].sum())
        if best is None or key[0] > best[0] or (key[0] == best[0] and key[1] > best[1] + 1e-12):
            best, sums = key, {matched}
        elif key[0] == best[0] and abs(key[1] - best[1]) <= 1e-12:
            sums.add(matched)
    if best is None:
        return 0, {0.0}
    return best[0], sums


def random_objects(rng, shape=(32, 32), n=6, max_size=10):
    """Random overlapping rectangles with non-consecutive labels."""
    labels = np.zeros(shape, np.int32)
    for label in rng.choice(1000, size=n, replace=False) + 1:
        r, c = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        h, w = rng.integers(2, max_size, 2)
        labels[r : r + h, c : c + w] = label
    return labels


def perturbed(rng, labels):
    """An imperfect prediction: shifted, partly relabelled, with random extra objects."""
    shifted = np.roll(labels, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
    other = random_objects(rng, labels.shape, n=3)
    return np.where(other > 0, other + 5000, shifted)


@st.composite
def label_pairs(draw, side=6, max_label=4):
    """Small label images with many overlapping objects, and a prediction correlated with them."""
    shape = (side, side)
    y_true = draw(arrays(np.int32, shape, elements=st.integers(0, max_label)))
    noise = draw(arrays(np.int32, shape, elements=st.integers(0, max_label)))
    keep = draw(arrays(np.bool_, shape))
    y_pred = np.where(keep, y_true, noise)
    return y_true * 3, y_pred  # non-consecutive true labels


# ---------------------------------------------------------------------------------------------
# Scores from counts
# ---------------------------------------------------------------------------------------------


def test_count_scores_formulas():
    assert M.precision(3, 1, 2) == 3 / 4
    assert M.recall(3, 1, 2) == 3 / 5
    assert M.f1(3, 1, 2) == 6 / 9
    assert M.jaccard(3, 1, 2) == 3 / 6


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_f1_is_harmonic_mean_and_jaccard_relation(tp, fp, fn):
    p, r, d, j = (fn_(tp, fp, fn) for fn_ in (M.precision, M.recall, M.f1, M.jaccard))
    if tp > 0:
        assert d == pytest.approx(2 * p * r / (p + r))
    assert j == pytest.approx(d / (2 - d))
    assert 0 <= j <= d <= 1


def test_count_scores_empty_conventions():
    for score in (M.precision, M.recall, M.f1, M.jaccard):
        assert score(0, 0, 0) == 1.0
        assert score(0, 0, 0, empty_score=0.0) == 0.0
        assert np.isnan(score(0, 0, 0, empty_score=np.nan))
    # one side empty: the other side's items are all errors, whatever the convention
    for empty_score in (1.0, 0.0, np.nan):
        assert M.precision(0, 0, 4, empty_score=empty_score) == 0.0
        assert M.recall(0, 4, 0, empty_score=empty_score) == 0.0


# ---------------------------------------------------------------------------------------------
# Pixel level
# ---------------------------------------------------------------------------------------------


@given(arrays(np.bool_, (7, 5)), arrays(np.bool_, (7, 5)))
def test_pixel_scores_match_set_formulas(a, b):
    s = M.pixel_scores(a, b)
    inter, union = np.sum(a & b), np.sum(a | b)
    assert (s.tp, s.fp, s.fn, s.tn) == (inter, np.sum(~a & b), np.sum(a & ~b), np.sum(~a & ~b))
    assert s.tp + s.fp + s.fn + s.tn == a.size
    assert s.accuracy == pytest.approx(np.mean(a == b))
    if union:
        assert s.iou == pytest.approx(inter / union)
        assert s.f1 == pytest.approx(2 * inter / (a.sum() + b.sum()))  # Dice
    else:
        assert s.iou == s.f1 == s.precision == s.recall == 1.0
    swapped = M.pixel_scores(b, a)
    assert (swapped.precision, swapped.recall, swapped.f1) == (s.recall, s.precision, s.f1)


def test_pixel_scores_accepts_labels_tensors_and_binary_floats():
    labels = np.array([[0, 3], [7, 0]])
    expected = M.pixel_scores(labels > 0, np.array([[0, 1], [0, 0]], bool))
    assert M.pixel_scores(labels, [[0, 1], [0, 0]]) == expected
    assert M.pixel_scores(torch.tensor(labels), torch.tensor([[0.0, 1.0], [0.0, 0.0]])) == expected


def test_pixel_scores_empty_conventions():
    empty = np.zeros((4, 4), bool)
    assert M.pixel_scores(empty, empty).f1 == 1.0
    assert M.pixel_scores(empty, empty, empty_score=0.0).iou == 0.0
    assert np.isnan(M.pixel_scores(empty, empty, empty_score=np.nan).precision)
    full = np.ones((4, 4), bool)
    one_sided = M.pixel_scores(full, empty)
    assert (one_sided.precision, one_sided.recall, one_sided.f1) == (0.0, 0.0, 0.0)


def test_pixel_scores_errors():
    with pytest.raises(ValueError, match=r"`y_true` and `y_pred` must have the same shape"):
        M.pixel_scores(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match=r"`y_pred` must be a binary mask .* `prob > 0.5`"):
        M.pixel_scores(np.zeros((2, 2)), np.full((2, 2), 0.7))
    with pytest.raises(ValueError, match=r"`empty_score` must be in \[0, 1\], got 2"):
        M.pixel_scores(np.zeros((2, 2)), np.zeros((2, 2)), empty_score=2)


def test_pixel_scores_dataset_pooled_and_by_image():
    rng = np.random.default_rng(0)
    ys_true = [rng.random((5, 6)) < 0.3, rng.random((3, 3)) < 0.6, np.zeros((4, 4), bool)]
    ys_pred = [rng.random((5, 6)) < 0.3, rng.random((3, 3)) < 0.6, np.zeros((4, 4), bool)]
    pooled = M.pixel_scores_dataset(ys_true, ys_pred)
    flat_t = np.concatenate([y.ravel() for y in ys_true])
    flat_p = np.concatenate([y.ravel() for y in ys_pred])
    assert pooled == M.pixel_scores(flat_t, flat_p)
    per_image = [M.pixel_scores(t, p) for t, p in zip(ys_true, ys_pred, strict=True)]
    by_image = M.pixel_scores_dataset(ys_true, ys_pred, by_image=True)
    assert by_image.tp == pooled.tp
    assert by_image.f1 == pytest.approx(np.mean([s.f1 for s in per_image]))
    assert by_image.iou == pytest.approx(np.mean([s.iou for s in per_image]))
    with pytest.raises(ValueError, match="must have the same length, got 3 and 2"):
        M.pixel_scores_dataset(ys_true, ys_pred[:2])


def test_class_scores_is_one_vs_rest():
    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 3, (8, 8)), rng.integers(0, 3, (8, 8))
    scores = M.class_scores(truth, pred)
    assert sorted(scores) == [0, 1, 2]
    for c, s in scores.items():
        assert s == M.pixel_scores(truth == c, pred == c)
    assert M.class_scores(truth, pred, classes=[5])[5].f1 == 1.0  # absent from both


# ---------------------------------------------------------------------------------------------
# Overlaps
# ---------------------------------------------------------------------------------------------


def test_overlap_matrix_equals_loop_over_pairs():
    rng = np.random.default_rng(2)
    truth = random_objects(rng)
    pred = perturbed(rng, truth)
    overlap, true_ids, pred_ids = M.overlap_matrix(truth, pred)
    assert list(true_ids) == [v for v in np.unique(truth) if v]
    assert list(pred_ids) == [v for v in np.unique(pred) if v]
    all_t, all_p = np.concatenate([[0], true_ids]), np.concatenate([[0], pred_ids])
    expected = np.array([[np.sum((truth == t) & (pred == p)) for p in all_p] for t in all_t])
    np.testing.assert_array_equal(overlap, expected)
    assert overlap.sum() == truth.size


def test_huge_and_boolean_labels_are_relabelled():
    truth = np.zeros((6, 6), np.int64)
    truth[:3, :3], truth[3:, 3:] = 2**40, 7
    pred = np.zeros((6, 6), np.uint64)
    pred[:3, :2], pred[3:, 3:] = 2**63 + 5, 1
    compact_t = np.where(truth == 7, 1, np.where(truth > 0, 2, 0))
    compact_p = np.where(pred == 1, 1, np.where(pred > 0, 2, 0))
    assert M.matching(truth, pred) == M.matching(compact_t, compact_p)
    pairs = M.match_objects(truth, pred)
    assert list(pairs.true_labels) == [7, 2**40]
    assert list(pairs.pred_labels) == [1, 2**63 + 5]
    assert M.matching(truth > 0, pred > 0).n_true == 1


def test_many_objects_sparse_overlap_table_and_contested_groups():
    """1100 objects of 2 pixels: the overlap table is too large to hold densely, and each
    shifted object overlaps two true ones with IoU 1/3, so every group is contested."""
    truth = (np.arange(50 * 44).reshape(50, 44) // 2 + 1).astype(np.int32)
    pred = np.roll(truth, 1, axis=1) * 7  # non-consecutive labels
    n = truth.max()
    assert (n + 1) ** 2 > max(4 * truth.size, 1 << 20)  # the sparse branch of the kernel
    overlap, _, _ = M.overlap_matrix(truth, pred)  # dense by construction
    areas_t, areas_p = overlap.sum(axis=1, keepdims=True), overlap.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore"):  # the background row and column are dropped
        iou = (overlap / (areas_t + areas_p - overlap))[1:, 1:]
    for thresh in (0.3, 0.5):
        cost = -(iou >= thresh).astype(float) - iou / (2 * n)
        rows, cols = linear_sum_assignment(cost)
        ok = iou[rows, cols] >= thresh
        result = M.matching(truth, pred, thresh)
        assert result.tp == ok.sum()
        assert result.mean_true_score == pytest.approx(iou[rows, cols][ok].sum() / n)
    assert M.matching(truth, pred, 0.3).tp > 1000


# ---------------------------------------------------------------------------------------------
# Instance matching: equal to StarDist's definition, optimal, invariant
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("criterion", M.CRITERIA)
def test_matching_equals_stardist_definition(criterion):
    rng = np.random.default_rng(3)
    thresholds = (0.1, 0.25, 0.3, 0.5, 0.7, 0.9)
    for _ in range(25):
        truth = random_objects(rng, n=int(rng.integers(0, 9)))
        pred = perturbed(rng, truth) * (rng.random() < 0.9)
        ours = M.matching(truth, pred, thresholds, criterion=criterion, empty_score=0.0)
        for result, thresh in zip(ours, thresholds, strict=True):
            expected = stardist_reference(truth, pred, thresh, criterion)
            assert result.criterion == criterion and result.thresh == thresh
            for name in COUNT_FIELDS:
                assert getattr(result, name) == expected[name], name
            for name in SCORE_FIELDS:
                assert getattr(result, name) == pytest.approx(expected[name], abs=1e-12), name


@pytest.mark.parametrize("criterion", M.CRITERIA)
@settings(deadline=None, max_examples=60)
@given(pair=label_pairs(), thresh=st.sampled_from([0.05, 0.2, 1 / 3, 0.5, 0.6]))
def test_assignment_is_optimal_by_brute_force(pair, thresh, criterion):
    """Most pairs at or above the threshold first, then the largest total score."""
    y_true, y_pred = pair
    result = M.matching(y_true, y_pred, thresh, criterion=criterion)
    pairs = M.match_objects(y_true, y_pred, thresh, criterion=criterion)
    best_count, best_sums = brute_force(y_true, y_pred, thresh, criterion)
    assert result.tp == best_count == len(pairs.true_labels)
    assert len(set(pairs.true_labels)) == len(set(pairs.pred_labels)) == best_count
    assert np.all(pairs.scores >= thresh)
    assert any(abs(pairs.scores.sum() - s) < 1e-9 for s in best_sums)
    scores, true_ids, pred_ids = reference_scores(y_true, y_pred, criterion)
    for t, p, s in zip(pairs.true_labels, pairs.pred_labels, pairs.scores, strict=True):
        assert s == pytest.approx(scores[true_ids.index(t), pred_ids.index(p)])
    if result.tp:
        assert result.mean_matched_score == pytest.approx(pairs.scores.mean())
        assert result.panoptic_quality == pytest.approx(result.f1 * result.mean_matched_score)


def test_most_matches_beats_largest_total_score():
    """At 0.2 the assignment with the largest total IoU (0.41 + 0.43 + 0.17) has two pairs
    >= 0.2; StarDist's objective prefers three pairs (0.20 + 0.43 + 0.25)."""
    y_true = np.array(
        [
            [2, 2, 2, 0, 2, 3],
            [3, 3, 2, 0, 2, 1],
            [1, 0, 3, 1, 1, 1],
            [0, 3, 1, 2, 2, 2],
            [1, 0, 1, 3, 1, 1],
            [0, 1, 2, 2, 3, 0],
        ]
    )
    y_pred = np.array(
        [
            [3, 1, 1, 0, 3, 1],
            [1, 3, 2, 0, 2, 1],
            [1, 0, 2, 3, 2, 1],
            [2, 3, 1, 2, 0, 2],
            [3, 0, 1, 1, 3, 1],
            [0, 1, 2, 2, 1, 0],
        ]
    )
    scores, _, _ = reference_scores(y_true, y_pred, "iou")
    np.testing.assert_allclose(scores[0], [7 / 17, 1 / 19, 0.2])
    pairs = M.match_objects(y_true, y_pred, 0.2)
    assert list(zip(pairs.true_labels, pairs.pred_labels, strict=True)) == [(1, 3), (2, 2), (3, 1)]
    assert M.matching(y_true, y_pred, 0.2).tp == 3


@settings(deadline=None, max_examples=40)
@given(pair=label_pairs(side=8, max_label=6))
def test_matching_invariants(pair):
    y_true, y_pred = pair
    thresholds = (0.1, 0.3, 0.5, 0.7, 0.9)
    results = M.matching(y_true, y_pred, thresholds)
    tps = [r.tp for r in results]
    assert tps == sorted(tps, reverse=True)  # a stricter threshold never matches more
    for r in results:
        assert r.tp + r.fp == r.n_pred and r.tp + r.fn == r.n_true
        assert r.tp <= min(r.n_true, r.n_pred)
    # swapping truth and prediction swaps FP/FN, precision/recall and IoT/IoP
    for crit, swapped_crit in (("iou", "iou"), ("iot", "iop")):
        a = M.matching(y_true, y_pred, 0.3, criterion=crit)
        b = M.matching(y_pred, y_true, 0.3, criterion=swapped_crit)
        assert (a.tp, a.fp, a.fn) == (b.tp, b.fn, b.fp)
        assert (a.precision, a.recall) == (b.recall, b.precision)
    # renumbering the objects changes nothing
    ids = np.unique(y_pred)
    renumbered = np.zeros(ids.max() + 1, np.int64)
    renumbered[ids[ids > 0]] = np.random.default_rng(0).permutation(1000)[: (ids > 0).sum()] + 1
    again = M.matching(y_true, renumbered[y_pred], thresholds)
    assert [r.tp for r in again] == tps


def test_matching_perfect_and_documented_example():
    truth = np.zeros((10, 10), np.uint16)
    truth[1:5, 1:5], truth[6:9, 6:9] = 3, 9
    perfect = M.matching(truth, truth)
    assert (perfect.tp, perfect.f1, perfect.mean_matched_score, perfect.panoptic_quality) == (
        2,
        1.0,
        1.0,
        1.0,
    )
    # StarDist's docstring example: an object shifted by half its size does not match
    y_true = np.zeros((100, 100), np.uint16)
    y_true[10:20, 10:20] = 1
    y_pred = np.roll(y_true, 5, axis=0)
    shifted = M.matching(y_true, y_pred)
    assert (shifted.tp, shifted.fp, shifted.fn, shifted.f1) == (0, 1, 1, 0.0)
    assert shifted.mean_matched_score == shifted.panoptic_quality == 0.0
    assert M.matching(y_true, y_pred, thresh=0.3).tp == 1  # IoU = 50 / 150


def test_matching_empty_images_three_conventions():
    empty = np.zeros((8, 8), np.int32)
    one = empty.copy()
    one[2:5, 2:5] = 1
    # both empty: ours 1.0, StarDist all zeros, Cellpose NaN
    ours = M.matching(empty, empty)
    assert all(getattr(ours, name) == 1.0 for name in SCORE_FIELDS)
    stardist_like = M.matching(empty, empty, empty_score=0.0)
    expected = stardist_reference(empty, empty, 0.5)
    assert all(getattr(stardist_like, k) == expected[k] == 0 for k in SCORE_FIELDS)
    cellpose_like = M.matching(empty, empty, empty_score=np.nan)
    assert np.isnan(cellpose_like.accuracy) and np.isnan(cellpose_average_precision(0, 0, 0))
    # only one side empty: the three conventions agree (every score 0)
    for y_true, y_pred in ((one, empty), (empty, one)):
        for empty_score in (1.0, 0.0, np.nan):
            r = M.matching(y_true, y_pred, empty_score=empty_score)
            expected = stardist_reference(y_true, y_pred, 0.5)
            assert all(getattr(r, k) == expected[k] == 0 for k in SCORE_FIELDS)
            assert r.accuracy == cellpose_average_precision(r.tp, r.fp, r.fn) == 0
    # and where both have objects, "accuracy" is Cellpose's average precision
    r = M.matching(one, np.roll(one, 1, axis=0), 0.5, empty_score=np.nan)
    assert r.accuracy == cellpose_average_precision(r.tp, r.fp, r.fn) == 1.0


def test_matching_single_and_sweep():
    rng = np.random.default_rng(4)
    truth = random_objects(rng)
    pred = perturbed(rng, truth)
    sweep = M.matching(truth, pred, M.DEFAULT_THRESHOLDS)
    assert isinstance(sweep, tuple) and len(sweep) == 9
    for result, thresh in zip(sweep, M.DEFAULT_THRESHOLDS, strict=True):
        assert result == M.matching(truth, pred, thresh)
    assert isinstance(M.matching(truth, pred, 0.5), M.Matching)


def test_matching_errors():
    labels = np.zeros((4, 4), np.int32)
    with pytest.raises(ValueError, match=r"`y_true` and `y_pred` must have the same shape"):
        M.matching(labels, np.zeros((4, 5), np.int32))
    with pytest.raises(
        ValueError, match=r"`y_pred` must not contain negative labels, got minimum -1"
    ):
        M.matching(labels, labels - 1)
    with pytest.raises(TypeError, match=r"`y_true` must be an integer or boolean label image"):
        M.matching(labels.astype(float), labels)
    with pytest.raises(ValueError, match=r"`thresh` must be in \(0, 1\], got 0"):
        M.matching(labels, labels, thresh=0)
    with pytest.raises(ValueError, match=r"`thresh` must be in \(0, 1\], got 1.5"):
        M.matching(labels, labels, thresh=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"`criterion` must be one of 'iou', 'iot', 'iop'"):
        M.matching(labels, labels, criterion="dice")
    with pytest.raises(ValueError, match=r"`y_true` must be a 2D or 3D array, got shape \(4,\)"):
        M.matching(labels[0], labels[0])
    with pytest.raises(ValueError, match=r"`empty_score` must be in \[0, 1\]"):
        M.matching(labels, labels, empty_score=-1)


def test_matching_3d():
    truth = np.zeros((6, 8, 8), np.int32)
    truth[1:4, 1:4, 1:4] = 5
    pred = np.roll(truth, 1, axis=0)
    r = M.matching(truth, pred)
    assert r.tp == 1 and r.mean_matched_score == pytest.approx(18 / 36)


# ---------------------------------------------------------------------------------------------
# Dataset matching
# ---------------------------------------------------------------------------------------------


def test_matching_dataset_pooled_and_by_image_follow_stardist():
    rng = np.random.default_rng(5)
    ys_true = [random_objects(rng, n=int(rng.integers(1, 8))) for _ in range(5)]
    ys_true.append(np.zeros((32, 32), np.int32))
    ys_pred = [perturbed(rng, y) for y in ys_true[:-1]] + [np.zeros((32, 32), np.int32)]
    thresholds = (0.3, 0.5, 0.8)
    per_image = [
        [stardist_reference(t, p, thr) for t, p in zip(ys_true, ys_pred, strict=True)]
        for thr in thresholds
    ]
    pooled = M.matching_dataset(ys_true, ys_pred, thresholds, empty_score=0.0)
    by_image = M.matching_dataset(ys_true, ys_pred, thresholds, by_image=True, empty_score=0.0)
    for k, thr in enumerate(thresholds):
        refs = per_image[k]
        tp, fp, fn = (sum(r[name] for r in refs) for name in ("tp", "fp", "fn"))
        n_true = sum(r["n_true"] for r in refs)
        total = sum(r["mean_true_score"] * r["n_true"] for r in refs)
        for result in (pooled[k], by_image[k]):
            assert (result.thresh, result.tp, result.fp, result.fn) == (thr, tp, fp, fn)
            assert result.n_true == n_true
        assert pooled[k].by_image is False and by_image[k].by_image is True
        assert pooled[k].f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert pooled[k].accuracy == pytest.approx(tp / (tp + fp + fn))
        assert pooled[k].mean_true_score == pytest.approx(total / n_true)
        assert pooled[k].mean_matched_score == pytest.approx(total / tp if tp else 0.0)
        assert pooled[k].panoptic_quality == pytest.approx(total / (tp + fp / 2 + fn / 2))
        for name in SCORE_FIELDS:
            expected = np.mean([r[name] for r in refs])
            assert getattr(by_image[k], name) == pytest.approx(expected), name


def test_matching_dataset_empty_image_convention_changes_the_mean():
    truth = np.zeros((8, 8), np.int32)
    truth[1:4, 1:4] = 1
    empty = np.zeros_like(truth)
    ours = M.matching_dataset([truth, empty], [truth, empty], by_image=True)
    stardist_like = M.matching_dataset([truth, empty], [truth, empty], by_image=True, empty_score=0)
    cellpose_like = M.matching_dataset(
        [truth, empty], [truth, empty], by_image=True, empty_score=np.nan
    )
    assert (ours.f1, stardist_like.f1) == (1.0, 0.5)
    assert np.isnan(cellpose_like.accuracy)
    assert M.matching_dataset([truth, empty], [truth, empty]).f1 == 1.0  # pooled: no difference
    assert isinstance(M.matching_dataset([truth], [truth], (0.5, 0.9)), tuple)
    with pytest.raises(ValueError, match="must contain at least one image"):
        M.matching_dataset([], [])


def test_against_stardist_itself_when_installed():
    stardist_matching = pytest.importorskip("stardist.matching")
    rng = np.random.default_rng(6)
    for _ in range(10):
        truth = random_objects(rng, shape=(48, 48), n=12)
        pred = perturbed(rng, truth)
        for criterion in M.CRITERIA:
            ours = M.matching(truth, pred, (0.2, 0.5, 0.8), criterion=criterion, empty_score=0)
            theirs = stardist_matching.matching(truth, pred, (0.2, 0.5, 0.8), criterion=criterion)
            for a, b in zip(ours, theirs, strict=True):
                assert all(getattr(a, k) == getattr(b, k) for k in COUNT_FIELDS)
                # StarDist >= 0.9 computes the scores in float32
                assert all(
                    getattr(a, k) == pytest.approx(getattr(b, k), abs=1e-6) for k in SCORE_FIELDS
                )


# ---------------------------------------------------------------------------------------------
# Hausdorff distance
# ---------------------------------------------------------------------------------------------


def blob(shape, rng):
    mask = np.zeros(shape, bool)
    for _ in range(3):
        r, c = rng.integers(3, shape[0] - 8), rng.integers(3, shape[1] - 8)
        mask[r : r + rng.integers(2, 6), c : c + rng.integers(2, 6)] = True
    return mask


def test_hausdorff_equals_scipy_and_skimage():
    rng = np.random.default_rng(7)
    for _ in range(10):
        a, b = blob((24, 20), rng), blob((24, 20), rng)
        pa, pb = np.argwhere(a), np.argwhere(b)
        expected = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
        assert M.hausdorff_distance(a, b, use_boundary=False) == pytest.approx(expected)
        assert M.hausdorff_distance(a, b, use_boundary=False) == pytest.approx(
            skm.hausdorff_distance(a, b)
        )
        assert M.hausdorff_distance(a, b) == pytest.approx(
            skm.hausdorff_distance(M.boundary(a), M.boundary(b))
        )


def test_boundary_equals_skimage_inner_boundaries():
    rng = np.random.default_rng(8)
    mask = blob((24, 24), rng)
    np.testing.assert_array_equal(M.boundary(mask), find_boundaries(mask, mode="inner") & mask)


@pytest.mark.parametrize("percentile", [50, 95, 100])
def test_hausdorff_percentile_and_pixel_size_follow_formula(percentile):
    rng = np.random.default_rng(9)
    a, b = blob((30, 26), rng), blob((30, 26), rng)
    spacing = np.array([0.4, 0.25])
    pa, pb = np.argwhere(M.boundary(a)) * spacing, np.argwhere(M.boundary(b)) * spacing
    d = cdist(pa, pb)
    expected = max(np.percentile(d.min(axis=1), percentile), np.percentile(d.min(0), percentile))
    ours = M.hausdorff_distance(a, b, percentile=percentile, pixel_size_um=(0.4, 0.25))
    assert ours == pytest.approx(expected)
    in_px = M.hausdorff_distance(a, b, percentile=percentile)
    assert M.hausdorff_distance(a, b, percentile=percentile, pixel_size_um=0.5) == pytest.approx(
        0.5 * in_px
    )


def test_hd95_ignores_a_stray_pixel():
    a = np.zeros((60, 60), bool)
    a[10:40, 10:40] = True
    b = a.copy()
    b[55, 55] = True
    assert M.hausdorff_distance(a, b) > 20
    assert M.hausdorff_distance(a, b, percentile=95) == 0.0


def test_hausdorff_empty_cases_and_errors():
    empty, one = np.zeros((5, 5), bool), np.eye(5, dtype=bool)
    assert M.hausdorff_distance(empty, empty) == 0.0 == skm.hausdorff_distance(empty, empty)
    assert M.hausdorff_distance(one, empty) == np.inf == skm.hausdorff_distance(one, empty)
    with pytest.raises(ValueError, match=r"`mask_a` and `mask_b` must have the same shape"):
        M.hausdorff_distance(one, np.zeros((5, 6), bool))
    with pytest.raises(ValueError, match=r"`pixel_size_um` must be > 0, got -1"):
        M.hausdorff_distance(one, one, pixel_size_um=-1)
    with pytest.raises(ValueError, match=r"one number per axis \(2\)"):
        M.hausdorff_distance(one, one, pixel_size_um=(1, 2, 3))
    with pytest.raises(ValueError, match=r"`percentile` must be in \[0, 100\]"):
        M.hausdorff_distance(one, one, percentile=101)


# ---------------------------------------------------------------------------------------------
# Image to image
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def image_pair():
    rng = np.random.default_rng(10)
    clean = rng.random((40, 36))
    return clean, clean + rng.normal(0, 0.1, clean.shape)


def test_mse_mae_psnr_equal_skimage(image_pair):
    clean, noisy = image_pair
    assert M.mse(clean, noisy) == pytest.approx(skm.mean_squared_error(clean, noisy), rel=1e-12)
    assert M.mae(clean, noisy) == pytest.approx(np.mean(np.abs(clean - noisy)), rel=1e-12)
    for data_range in (1.0, 2.0):
        assert M.psnr(clean, noisy, data_range=data_range) == pytest.approx(
            skm.peak_signal_noise_ratio(clean, noisy, data_range=data_range), rel=1e-12
        )
    counts = (clean * 4095).astype(np.uint16)
    assert M.mse(counts, counts[::-1]) == skm.mean_squared_error(counts, counts[::-1])
    assert M.psnr(clean, clean, data_range=1) == np.inf


@pytest.mark.parametrize(
    "ours, theirs",
    [
        ({}, {}),
        ({"win_size": 5}, {"win_size": 5}),
        ({"sample_covariance": False}, {"use_sample_covariance": False}),
        ({"window": "gaussian"}, {"gaussian_weights": True}),
        (
            {"window": "gaussian", "sigma": 1.0, "sample_covariance": False, "k1": 0.02},
            {"gaussian_weights": True, "sigma": 1.0, "use_sample_covariance": False, "K1": 0.02},
        ),
    ],
)
def test_ssim_equals_skimage(image_pair, ours, theirs):
    clean, noisy = image_pair
    expected = skm.structural_similarity(clean, noisy, data_range=1.0, **theirs)
    assert M.ssim(clean, noisy, data_range=1.0, **ours) == pytest.approx(expected, rel=1e-10)


def test_ssim_3d_and_integer_images():
    rng = np.random.default_rng(11)
    a = rng.integers(0, 4096, (9, 16, 16)).astype(np.uint16)
    b = np.clip(a + rng.integers(-200, 200, a.shape), 0, 4095).astype(np.uint16)
    expected = skm.structural_similarity(a, b, data_range=4095)
    assert M.ssim(a, b, data_range=4095) == pytest.approx(expected, rel=1e-10)
    _, full = skm.structural_similarity(a, b, data_range=4095, full=True)
    np.testing.assert_allclose(M.ssim_map(a, b, data_range=4095), full, rtol=1e-9, atol=1e-12)


def test_image_metric_errors(image_pair):
    clean, noisy = image_pair
    with pytest.raises(TypeError, match="data_range"):
        M.psnr(clean, noisy)  # no default on purpose
    with pytest.raises(ValueError, match=r"`data_range` must be > 0, got 0"):
        M.ssim(clean, noisy, data_range=0)
    with pytest.raises(ValueError, match=r"`win_size` must be an odd integer >= 3, got 4"):
        M.ssim(clean, noisy, data_range=1, win_size=4)
    with pytest.raises(ValueError, match=r"at least 7 pixels along every axis"):
        M.ssim(clean[:5], noisy[:5], data_range=1)
    with pytest.raises(ValueError, match=r"`image_true` must contain only finite values"):
        M.mse(np.full((2, 2), np.nan), clean[:2, :2])
    with pytest.raises(ValueError, match=r"`window` must be one of 'uniform', 'gaussian'"):
        M.ssim(clean, noisy, data_range=1, window="box")


# ---------------------------------------------------------------------------------------------
# Biology
# ---------------------------------------------------------------------------------------------


def test_object_measurements_equal_regionprops():
    rng = np.random.default_rng(12)
    labels = random_objects(rng, shape=(40, 40), n=8)
    image = rng.random((40, 40)) * 1000
    m = M.object_measurements(labels, image, pixel_size_um=0.65)
    props = measure.regionprops(labels, intensity_image=image)
    assert list(m.label) == [p.label for p in props]
    np.testing.assert_allclose(m.area_um2, [p.area * 0.65**2 for p in props])
    np.testing.assert_allclose(
        m.equivalent_diameter_um, [p.equivalent_diameter_area * 0.65 for p in props]
    )
    np.testing.assert_allclose(m.mean_intensity, [p.intensity_mean for p in props])
    assert M.object_measurements(labels, pixel_size_um=(0.5, 2.0)).area_um2[0] == props[0].area
    assert M.object_measurements(labels, pixel_size_um=1).mean_intensity is None


def test_count_and_density():
    labels = np.zeros((200, 100), np.int32)
    labels[:5, :5], labels[10:15, :5], labels[50:60, 50:60] = 4, 9, 11
    assert M.count_objects(labels) == 3
    field_mm2 = 200 * 100 * 0.5 * 2.0 / 1e6
    assert M.object_density(labels, pixel_size_um=(0.5, 2.0)) == pytest.approx(3 / field_mm2)
    with pytest.raises(TypeError, match="`pixel_size_um` must be a number"):
        M.object_density(labels, pixel_size_um=None)
    with pytest.raises(ValueError, match=r"`labels` must be a 2D array"):
        M.object_density(labels[None], pixel_size_um=1)


def test_compare_measurements_merged_and_dilated():
    truth = np.zeros((30, 40), np.int32)
    truth[5:15, 5:15], truth[5:15, 15:25] = 1, 2  # two touching squares
    merged = (truth > 0).astype(np.int32)
    image = np.where(truth > 0, 100.0, 10.0)
    c = M.compare_measurements(truth, merged, image, pixel_size_um=0.5)
    assert (c.n_true, c.n_pred, c.count_error, c.relative_count_error) == (2, 1, -1, -0.5)
    assert (c.mean_area_true_um2, c.mean_area_pred_um2) == (25.0, 50.0)
    assert c.relative_area_error == 1.0
    assert c.relative_diameter_error == pytest.approx(np.sqrt(2) - 1)
    assert c.mean_intensity_true == c.mean_intensity_pred == 100.0
    assert c.relative_intensity_error == 0.0
    assert c.area_ks_statistic == ks_2samp([25.0, 25.0], [50.0]).statistic == 1.0
    empty = M.compare_measurements(truth * 0, truth, pixel_size_um=1)
    assert np.isnan(empty.relative_count_error) and np.isnan(empty.area_ks_statistic)


def test_ks_statistic_equals_scipy():
    from bioimage_course.metrics.biology import _ks_statistic

    rng = np.random.default_rng(13)
    for _ in range(5):
        x, y = rng.normal(size=rng.integers(3, 30)), rng.normal(0.5, size=rng.integers(3, 30))
        assert _ks_statistic(x, y) == pytest.approx(ks_2samp(x, y).statistic)


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def test_plot_matching_curve_draws_the_scores():
    rng = np.random.default_rng(14)
    truth = random_objects(rng)
    results = M.matching(truth, perturbed(rng, truth), M.DEFAULT_THRESHOLDS)
    ax = M.plot_matching_curve(results, scores=("f1", "accuracy"), label="U-Net")
    assert [line.get_label() for line in ax.lines] == ["U-Net f1", "U-Net accuracy"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [r.f1 for r in results])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), M.DEFAULT_THRESHOLDS)
    with pytest.raises(ValueError, match="`scores` must be one of"):
        M.plot_matching_curve(results, scores=("dice",))


def test_plot_matches_colours_the_outcome():
    truth = np.zeros((20, 20), np.int32)
    truth[2:8, 2:8], truth[10:18, 10:18] = 1, 2
    pred = np.zeros_like(truth)
    pred[2:8, 2:8], pred[12:15, 1:5] = 5, 6  # one match, one false positive, one miss
    ax = M.plot_matches(truth, pred, 0.5, image=truth.astype(float))
    assert ax.get_title() == "IoU ≥ 0.5: TP 1, FP 1, FN 1"
    rgb = ax.images[0].get_array()
    for colour in ((0, 1, 0), (1, 0.1, 0.1), (1, 0.85, 0)):
        assert np.all(np.isclose(rgb, colour), axis=-1).any()


def test_score_table_lists_rows_and_columns():
    rows = {
        "classical": M.PixelScores(1, 0, 1, 2, 1.0, 0.5, 2 / 3, 0.5, 0.75),
        "U-Net": {"tp": 10, "f1": 0.9},
    }
    lines = M.score_table(rows, ["tp", "f1"], digits=2).splitlines()
    assert lines[0].split() == ["tp", "f1"]
    assert lines[1].split() == ["classical", "1", "0.67"]
    assert lines[2].split() == ["U-Net", "10", "0.90"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
    with pytest.raises(ValueError, match="at least one row"):
        M.score_table({}, ["tp"])


def test_threshold_may_be_a_zero_dimensional_array():
    truth = np.zeros((8, 8), int)
    truth[2:5, 2:5] = 1
    assert (
        M.matching(truth, truth, thresh=np.array(0.5)).tp == M.matching(truth, truth, 0.5).tp == 1
    )
