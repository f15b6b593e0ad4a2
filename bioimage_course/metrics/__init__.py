"""How good is a segmentation or a restoration? Numbers that answer it, and how they can lie.

Notebook 07; validation from notebook 05 on. Six families, each a few small functions:

1. **Pixel level** (:mod:`.pixel`): TP/FP/FN/TN, then :func:`precision`, :func:`recall`,
   :func:`f1` (= Dice), :func:`jaccard` (= IoU); :func:`pixel_scores`, :func:`class_scores`.
2. **Instance level** (:mod:`.matching`): objects paired one-to-one by overlap
   (:func:`match_objects`), then :func:`matching`, :func:`matching_dataset`, as StarDist.
3. **Distance**: :func:`hausdorff_distance` and HD95, in pixels or micrometres.
4. **Image to image**: :func:`mse`, :func:`mae`, :func:`psnr`, :func:`ssim` (as scikit-image).
5. **Biology**: :func:`object_measurements`, :func:`object_density`,
   :func:`compare_measurements`: what an experiment reports.
6. **Time** (:mod:`.temporal`): whether objects continue from frame to frame
   (``temporal.temporal_consistency``, ``temporal.complete_tracks``).

For notebooks: :func:`score_table`, :func:`plot_matching_curve`, :func:`plot_matches`.

**Empty images.** With nothing to count a ratio is 0/0. ``empty_score`` is the value when
*both* images are empty: 1.0 by default ("nothing to find, nothing found"), 0.0 as StarDist,
``np.nan`` as Cellpose. When only one side is empty every score is 0. It matters when scores
are averaged over images: an empty tile predicted empty is a success, a failure, or NaN.

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
