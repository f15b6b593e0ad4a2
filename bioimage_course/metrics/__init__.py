"""How good is a segmentation or a restoration? Numbers that answer it, and how they can lie.

Introduced in notebook 07 (metrics); used to validate training from notebook 05 onwards.

Six families, each a few small functions:

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
6. **Time** (submodule :mod:`~bioimage_course.metrics.temporal`): whether objects continue from
   frame to frame, ``temporal.temporal_consistency`` and ``temporal.complete_tracks``.

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

from .biology import (  # noqa: F401 (re-exported)
    MeasurementComparison,
    ObjectMeasurements,
    compare_measurements,
    count_objects,
    object_density,
    object_measurements,
)
from .distance import boundary, hausdorff_distance  # noqa: F401 (re-exported)
from .image_quality import mae, mse, psnr, ssim, ssim_map  # noqa: F401 (re-exported)
from .matching import (  # noqa: F401 (re-exported)
    CRITERIA,
    DEFAULT_THRESHOLDS,
    DatasetMatching,
    MatchedPairs,
    Matching,
    match_objects,
    matching,
    matching_dataset,
    overlap_matrix,
)
from .pixel import (  # noqa: F401 (re-exported)
    PixelScores,
    class_scores,
    f1,
    jaccard,
    pixel_scores,
    pixel_scores_dataset,
    precision,
    recall,
)
from .report import plot_matches, plot_matching_curve, score_table  # noqa: F401 (re-exported)
