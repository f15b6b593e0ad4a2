"""Instance matching: bioimage_course.metrics vs StarDist's ``stardist.matching``, same inputs.

A synthetic 2048 x 2048 pair of label images with about 3000 touching nuclei: the prediction
moves, resizes, drops, merges and invents objects and uses non-consecutive labels. Both
libraries score it at one threshold and over the sweep 0.1 .. 0.9, and a dataset of tiles is
scored with ``matching_dataset`` (pooled and by image). The script prints the times, the ratio
and the largest difference between the results.

StarDist (>= 0.9) computes the overlap scores in float32, so mean scores agree to about 1e-7;
the counts must be identical.

Run::

    pip install stardist          # pulls numba; TensorFlow is not needed for stardist.matching
    python benchmarks/metrics.py [--size 2048] [--objects 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy import ndimage as ndi

from bioimage_course.metrics import matching, matching_dataset

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
COUNTS = ("tp", "fp", "fn", "n_true", "n_pred")
SCORES = (
    "precision",
    "recall",
    "accuracy",
    "f1",
    "mean_true_score",
    "mean_matched_score",
    "panoptic_quality",
)


def _paint(shape, centres, radii, ids):
    """Label every pixel with its nearest centre when it lies within that centre's radius."""
    seeds = np.zeros(shape, np.int64)
    rows, cols = np.clip(np.round(centres).astype(int), 0, np.array(shape) - 1).T
    seeds[rows, cols] = np.arange(1, len(centres) + 1)
    distance, (near_r, near_c) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
    index = seeds[near_r, near_c]
    radius = np.concatenate([[0.0], radii])[index]
    return np.where(distance <= radius, np.concatenate([[0], ids])[index], 0)


def synthetic_pair(size: int, n_objects: int, rng: np.random.Generator):
    """Ground truth with touching nuclei and an imperfect prediction of it."""
    shape = (size, size)
    centres = rng.uniform(0, size, (n_objects, 2))
    radii = rng.uniform(6, 14, n_objects)
    truth = _paint(shape, centres, radii, np.arange(1, n_objects + 1)).astype(np.int32)

    keep = rng.random(n_objects) > 0.05  # 5 % missed
    moved = centres[keep] + rng.normal(0, 2.0, (keep.sum(), 2))
    grown = radii[keep] * rng.uniform(0.75, 1.25, keep.sum())
    extra = rng.uniform(0, size, (n_objects // 30, 2))  # about 3 % invented
    centres_p = np.concatenate([moved, extra])
    radii_p = np.concatenate([grown, rng.uniform(5, 12, len(extra))])
    ids = rng.choice(10**6, size=len(centres_p), replace=False) + 1  # non-consecutive labels
    merge = rng.random(len(ids)) < 0.05  # 5 % merged into the previous object
    ids[1:][merge[1:]] = ids[:-1][merge[1:]]
    pred = _paint(shape, centres_p, radii_p, ids).astype(np.int32)
    return truth, pred


def tiles(image: np.ndarray, size: int) -> list[np.ndarray]:
    """Cut an image into square tiles (a dataset of many small images)."""
    rows, cols = image.shape
    return [
        image[r : r + size, c : c + size]
        for r in range(0, rows, size)
        for c in range(0, cols, size)
    ]


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def differences(ours, theirs) -> tuple[int, float]:
    """Number of differing counts and the largest difference of the scores."""
    ours = (ours,) if hasattr(ours, "_fields") else ours  # one threshold: a single NamedTuple
    theirs = (theirs,) if hasattr(theirs, "_fields") else theirs
    count_diff, score_diff = 0, 0.0
    for a, b in zip(ours, theirs, strict=True):
        count_diff += sum(int(getattr(a, k)) != int(getattr(b, k)) for k in COUNTS)
        score_diff = max(
            score_diff, *(abs(float(getattr(a, k)) - float(getattr(b, k))) for k in SCORES)
        )
    return count_diff, score_diff


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    try:
        from stardist.matching import matching as sd_matching
        from stardist.matching import matching_dataset as sd_matching_dataset
    except ImportError as error:
        print(f"StarDist is not installed ({error}); `pip install stardist` to compare. Skipping.")
        return 0

    rng = np.random.default_rng(args.seed)
    truth, pred = synthetic_pair(args.size, args.objects, rng)
    n_true, n_pred = len(np.unique(truth)) - 1, len(np.unique(pred)) - 1
    print(f"{args.size}x{args.size} pair: {n_true} true objects, {n_pred} predicted objects")
    sd_matching(truth[:64, :64], pred[:64, :64])  # compile StarDist's numba kernel first

    rows = []
    for name, thresh in (("thresh 0.5", 0.5), ("sweep 0.1..0.9", THRESHOLDS)):
        t_ours, ours = best_time(lambda t=thresh: matching(truth, pred, t), args.repeat)
        t_sd, theirs = best_time(lambda t=thresh: sd_matching(truth, pred, t), args.repeat)
        rows.append((f"matching, {name}", t_ours, t_sd, *differences(ours, theirs)))

    tiles_t, tiles_p = tiles(truth, args.size // 4), tiles(pred, args.size // 4)
    for by_image in (False, True):

        def run_ours(b=by_image):
            return matching_dataset(tiles_t, tiles_p, THRESHOLDS, by_image=b)

        def run_sd(b=by_image):
            return sd_matching_dataset(
                tiles_t, tiles_p, THRESHOLDS, by_image=b, show_progress=False
            )

        t_ours, ours = best_time(run_ours, args.repeat)
        t_sd, theirs = best_time(run_sd, args.repeat)
        label = f"matching_dataset, {len(tiles_t)} tiles, sweep, by_image={by_image}"
        rows.append((label, t_ours, t_sd, *differences(ours, theirs)))

    header = ("case", "ours s", "StarDist s", "ratio", "counts differing", "max |score diff|")
    print("\n{:58s} {:>8s} {:>10s} {:>6s} {:>16s} {:>16s}".format(*header))
    for label, t_ours, t_sd, n_diff, s_diff in rows:
        ratio = t_ours / t_sd
        print(f"{label:58s} {t_ours:8.3f} {t_sd:10.3f} {ratio:6.2f} {n_diff:16d} {s_diff:16.2e}")
    print("\nratio = ours / StarDist (below 1: ours is faster); best of", args.repeat, "runs")
    identical = all(r[3] == 0 and r[4] < 1e-6 for r in rows)
    print("identical counts, scores within float32 precision:", identical)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
