"""Scores for the eye: a table of results, scores against the matching threshold, outlines.

Notebook 07.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_array, check_choice, check_same_shape
from .biology import count_objects
from .matching import DatasetMatching, Matching, check_label_pair, match_objects


def score_table(results: dict[str, Any], fields: Sequence[str], *, digits: int = 3) -> str:
    """A plain-text table of named results (NamedTuples or dicts), one column per field.

    >>> from bioimage_course.metrics import PixelScores
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


def plot_matching_curve(
    results: Sequence[Matching | DatasetMatching],
    *,
    scores: Sequence[str] = ("f1", "precision", "recall"),
    ax=None,
    label: str | None = None,
):
    """Plot ``scores`` of a threshold sweep (from :func:`matching` with several thresholds).

    ``label`` prefixes the legend entries (the method's name).

    >>> import numpy as np
    >>> from bioimage_course.metrics import matching
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

    Over ``image`` (gray, min-max scaled) or black; titled with the counts of TP, FP and FN.

    >>> import numpy as np
    >>> truth = np.zeros((8, 8), int); truth[1:4, 1:4] = 1; truth[5:8, 5:8] = 2
    >>> ax = plot_matches(truth, truth * (truth == 1), 0.5)
    >>> ax.get_title()
    'IoU ≥ 0.5: TP 1, FP 0, FN 1'
    """
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    y_true, y_pred = check_label_pair(y_true, y_pred)
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
