"""Checks of notebook 07 (metrics): one per exercise, each on inputs of its own.

>>> matching_f1({"matching_f1": ...})
Exercise 07.1: define `matching_f1` first (it is still `...`).
False
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk
from skimage.metrics import hausdorff_distance

from .. import metrics as M
from ._core import Attempt, Hint, exercise


def _label_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels: shifted, shrunk, missed, merged and invented objects."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((80, 80), np.int32)
    pred = np.zeros_like(truth)
    for k, (r, c) in enumerate([(12, 12), (12, 40), (40, 12), (40, 40), (64, 64), (64, 20)], 1):
        truth[disk((r, c), 7, shape=truth.shape)] = k
        shift = rng.integers(-4, 5, size=2)
        if k != 3:  # nucleus 3 is missed
            pred[disk((r + shift[0], c + shift[1]), int(rng.integers(4, 9)), shape=pred.shape)] = (
                k + 10
            )
    pred[disk((70, 42), 4, shape=pred.shape)] = 99  # invented
    pred[disk((24, 70), 4, shape=pred.shape)] = 98  # invented
    return truth, pred


def _with_background(y_true, y_pred):
    overlap, true_ids, pred_ids = M.overlap_matrix(y_true, y_pred)
    iou = overlap / (overlap.sum(1, keepdims=True) + overlap.sum(0, keepdims=True) - overlap)
    return 2 * np.count_nonzero(iou >= 0.5) / (len(true_ids) + len(pred_ids))


def _recall_only(y_true, y_pred):
    return M.matching(y_true, y_pred, 0.5).tp / len(np.unique(y_true[y_true > 0]))


@exercise(
    "07.1",
    needs=("matching_f1",),
    kind="write the function",
    minutes=10,
    wrong=[
        Attempt({"matching_f1": _with_background}, hint_contains="background"),
        Attempt({"matching_f1": _recall_only}, hint_contains="recall"),
    ],
)
def matching_f1(matching_f1):
    for seed in range(5):
        truth, pred = _label_pair(seed)
        got, expected = float(matching_f1(truth, pred)), M.matching(truth, pred, 0.5).f1
        if np.isclose(got, expected):
            continue
        if np.isclose(got, _with_background(truth, pred)):
            raise Hint(
                "drop row and column 0 of the matrix: the background matched to "
                "the background is no nucleus"
            )
        if np.isclose(got, _recall_only(truth, pred)):
            raise Hint(
                "that is the recall: F1 divides 2 TP by the number of true *and* predicted objects"
            )
        raise Hint(
            "compute IoU = overlap / (area_true + area_pred - overlap), count "
            "IoU >= 0.5, then 2 TP / (n_true + n_pred)"
        )
    return "above IoU 0.5 each object has at most one partner, so counting pairs is the matching."


def _image_sets():
    """A large image predicted well and a small one predicted badly: mean != pooled."""
    big_t = np.zeros((100, 100), np.int32)
    big_t[10:90, 10:90] = 1
    big_p = np.roll(big_t, 3, axis=1)
    small_t = np.zeros((20, 20), np.int32)
    small_t[5:12, 5:12] = 1
    small_p = np.roll(small_t, 5, axis=0)
    return [big_t, small_t], [big_p, small_p]


def _mean_per_image(truths, preds):
    return float(np.mean([M.pixel_scores(t > 0, p > 0).f1 for t, p in zip(truths, preds)]))


@exercise(
    "07.2",
    needs=("pooled_dice_fixed",),
    kind="find the bug",
    minutes=8,
    wrong=[Attempt({"pooled_dice_fixed": _mean_per_image}, hint_contains="per-image")],
)
def pooled_dice(pooled_dice_fixed):
    truths, preds = _image_sets()
    got = float(pooled_dice_fixed(truths, preds))
    if np.isclose(got, _mean_per_image(truths, preds)):
        raise Hint(
            "that is still the mean of per-image scores: a small image counts as much as a "
            "large one. Add TP, FP and FN over the images first, then compute one Dice"
        )
    if not np.isclose(got, M.pixel_scores_dataset(truths, preds).f1):
        raise Hint("pooled Dice = 2 TP / (2 TP + FP + FN) with TP, FP, FN summed over all images")
    return "the two agree only when all images have the same amount of foreground and error."


@exercise(
    "07.3",
    needs=("my_prediction",),
    kind="predict then run",
    minutes=5,
    wrong=[Attempt({"my_prediction": True}, hint_contains="poor image")],
)
def dice_iou_ranking(my_prediction):
    if not isinstance(my_prediction, (bool, np.bool_)):
        raise Hint("`my_prediction` must be True or False")
    # per-image Dice of two methods on two images: A = (1.0, 0.2), B = (0.62, 0.62)
    a, b = np.array([1.0, 0.2]), np.array([0.62, 0.62])
    same = (a.mean() > b.mean()) == ((a / (2 - a)).mean() > (b / (2 - b)).mean())
    if bool(my_prediction) != bool(same):
        raise Hint(
            "per image IoU = Dice / (2 - Dice) is increasing, but it is convex: a poor image "
            "costs more under IoU than under Dice. Run the next cell and compare the means"
        )
    return "means of per-image scores can rank methods differently; pooled counts cannot."


def _directed(mask_a, mask_b):
    return float(ndi.distance_transform_edt(~mask_b)[mask_a].max())


@exercise(
    "07.4",
    needs=("symmetric_hausdorff",),
    kind="write the function",
    minutes=10,
    wrong=[Attempt({"symmetric_hausdorff": _directed}, hint_contains="direction")],
)
def symmetric_hausdorff(symmetric_hausdorff):
    a = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    b = np.zeros_like(a)
    b[12:16, 12:16] = True  # inside a: close to a, a far from it
    c = np.zeros_like(a)
    c[25:30, 5:35] = True
    for x, y in [(a, b), (b, a), (a, c), (c, b)]:
        got, expected = float(symmetric_hausdorff(x, y)), hausdorff_distance(x, y)
        if np.isclose(got, expected):
            continue
        if np.isclose(got, _directed(x, y)) or np.isclose(got, _directed(y, x)):
            raise Hint("that is one direction only: take the larger of h(A, B) and h(B, A)")
        raise Hint(
            "for each pixel of one mask take its distance to the nearest pixel "
            "of the other; the largest, both ways"
        )
    return "one stray pixel far away sets it: that is why HD95 is reported too."


def _mean_f1(y_true, y_pred):
    return float(
        np.mean([M.matching(y_true, y_pred, float(t)).f1 for t in np.arange(0.5, 1.0, 0.05)])
    )


@exercise(
    "07.5",
    needs=("dsb_score",),
    kind="bonus",
    minutes=8,
    wrong=[Attempt({"dsb_score": _mean_f1}, hint_contains="TP + FP + FN")],
)
def dsb_score(dsb_score):
    thresholds = np.arange(0.5, 1.0, 0.05)
    for seed in range(3):
        truth, pred = _label_pair(seed)
        expected = float(np.mean([M.matching(truth, pred, float(t)).accuracy for t in thresholds]))
        got = float(dsb_score(truth, pred))
        if np.isclose(got, expected):
            continue
        if np.isclose(got, _mean_f1(truth, pred)):
            raise Hint("that is the mean F1; the DSB score averages TP / (TP + FP + FN)")
        raise Hint("average TP / (TP + FP + FN) over the ten thresholds 0.5, 0.55, ..., 0.95")
    return "it rewards found nuclei and well-drawn outlines at once."
