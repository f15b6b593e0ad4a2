"""Checks of notebook 08 (instance segmentation): one per exercise, each on inputs of its own.

>>> distance_map({"distance_map": ...})
Exercise 08.2: define `distance_map` first (it is still `...`).
False
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .. import postprocess
from ..data import make_nuclei
from ..metrics import matching
from ._core import Attempt, Hint, exercise, require_words


@exercise(
    "08.1",
    needs=("my_prediction",),
    kind="predict then run",
    minutes=3,
    wrong=[Attempt({"my_prediction": True}, hint_contains="one value")],
)
def overlapping_nuclei(my_prediction):
    if not isinstance(my_prediction, (bool, np.bool_)):
        raise Hint("`my_prediction` must be True or False")
    if my_prediction:
        raise Hint(
            "each pixel of a label image holds one value: which nucleus gets the shared pixels?"
        )
    return "one label image is one partition; overlapping objects need one mask each."


def _crowded_labels() -> np.ndarray:
    _, labels = make_nuclei((128, 128), preset="crowded", rng=5)
    return labels


def _whole_foreground(labels):
    d = ndi.distance_transform_edt(labels > 0)
    return d / d.max()


def _not_scaled(labels):
    out = np.zeros(labels.shape)
    for k in np.unique(labels[labels > 0]):
        inside = labels == k
        out[inside] = ndi.distance_transform_edt(inside)[inside]
    return out


@exercise(
    "08.2",
    needs=("distance_map",),
    kind="write the function",
    minutes=10,
    wrong=[
        Attempt({"distance_map": _whole_foreground}, hint_contains="own"),
        Attempt({"distance_map": _not_scaled}, hint_contains="height 1"),
    ],
)
def distance_map(distance_map):
    labels = _crowded_labels()
    got = np.asarray(distance_map(labels.copy()), dtype=float)
    if got.shape != labels.shape:
        raise Hint(f"return an array of the labels' shape {labels.shape}, got {got.shape}")
    expected = postprocess.distance_target(labels)
    if np.allclose(got, expected, atol=1e-5):
        return "a nucleus is one hill, whether it touches a neighbour or not."
    if np.any(got[labels == 0] != 0):
        raise Hint("the background must stay 0")
    if np.isclose(got.max(), 1) and not np.allclose(got, expected, atol=1e-5):
        raise Hint(
            "measure each nucleus on its own mask: with the whole foreground, touching nuclei "
            "are one hill and the contact line gets no low values"
        )
    raise Hint(
        "divide each nucleus' distances by its own largest distance: every hill has height 1"
    )


def _noisy_maps():
    labels = _crowded_labels()
    rng = np.random.default_rng(0)
    distance = postprocess.distance_target(labels) + rng.normal(0, 0.03, labels.shape)
    return labels, distance, (labels > 0).astype(np.float32)


@exercise(
    "08.3",
    needs=("split_nuclei_fixed",),
    kind="find the bug",
    minutes=8,
    wrong=[
        Attempt(
            {
                "split_nuclei_fixed": lambda d, f: __import__(
                    "skimage.segmentation", fromlist=["watershed"]
                ).watershed(-d, mask=f > 0.5)
            },
            hint_contains="seed",
        )
    ],
)
def split_nuclei(split_nuclei_fixed):
    labels, distance, foreground = _noisy_maps()
    got = np.asarray(split_nuclei_fixed(distance.copy(), foreground.copy()))
    if got.shape != labels.shape or got.dtype.kind not in "iu":
        raise Hint("return an integer label image of the shape of `distance`")
    n_true, n_pred = len(np.unique(labels)) - 1, len(np.unique(got)) - 1
    if n_pred > 1.5 * n_true:
        raise Hint(
            "far more objects than nuclei: without markers every tiny bump of the noisy map "
            "becomes a seed. Give the watershed one seed per hill (h_maxima, labelled)"
        )
    if n_pred < 0.7 * n_true:
        raise Hint("touching nuclei stay merged: use one seed per hill, not one per connected blob")
    if matching(labels, got, 0.5).f1 < 0.9:
        raise Hint(
            "the seeds look right, but the outlines are not: flood -distance inside the foreground"
        )
    return "the seeds decide how many nuclei; the watershed only decides where they meet."


def _explained(text, concepts, *, words: int = 15) -> None:
    require_words(text, words=words)
    if not all(any(c in text.lower() for c in group) for group in concepts):
        raise Hint(
            "say what happens at *both* ends: nuclei split into pieces, and touching nuclei merged"
        )


@exercise(
    "08.4",
    needs=("best_h", "explanation"),
    kind="tune and explain",
    minutes=8,
    wrong=[
        Attempt({"best_h": 0.1, "explanation": "small h is bad"}, hint_contains="words"),
        Attempt({"best_h": 0.42, "explanation": "x " * 20}, hint_contains="h_values"),
    ],
)
def seed_threshold(best_h, explanation):
    if not any(np.isclose(best_h, h) for h in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)):
        raise Hint("choose one of the values in `h_values`, by the F1 on the training images")
    _explained(
        explanation,
        (("split", "piece", "over-seg", "fragment"), ("merge", "under-seg", "together")),
    )
    print(
        "Compare: a small h seeds every bump of a noisy hill (one nucleus split in pieces), a "
        "large h needs a deep dip to split (touching nuclei merged). Tune on training or "
        "validation data only."
    )


def _away_from_centre(labels):
    flow = np.zeros((2, *labels.shape))
    rows, cols = np.indices(labels.shape)
    for k in np.unique(labels[labels > 0]):
        inside = labels == k
        cy, cx = ndi.center_of_mass(inside)
        dy, dx = rows[inside] - cy, cols[inside] - cx
        norm = np.hypot(dy, dx) + 1e-9
        flow[0][inside], flow[1][inside] = dy / norm, dx / norm
    return flow


@exercise(
    "08.5",
    needs=("flow_field",),
    kind="bonus",
    minutes=10,
    wrong=[Attempt({"flow_field": _away_from_centre}, hint_contains="towards")],
)
def flow_field(flow_field):
    labels = _crowded_labels()
    flow = np.asarray(flow_field(labels.copy()), dtype=float)
    if flow.shape != (2, *labels.shape):
        raise Hint(f"return an array of shape (2, H, W) = {(2, *labels.shape)}, got {flow.shape}")
    if np.any(flow[:, labels == 0] != 0):
        raise Hint("the background must stay 0")
    rows, cols = np.indices(labels.shape)
    cosines = []
    for k, (cy, cx) in zip(
        np.unique(labels[labels > 0]),
        ndi.center_of_mass(labels > 0, labels, np.unique(labels[labels > 0])),
        strict=True,
    ):
        inside = labels == k
        dy, dx = cy - rows[inside], cx - cols[inside]
        far = np.hypot(dy, dx) > 1.5
        norm = np.hypot(dy, dx)[far]
        cosines.append((flow[0][inside][far] * dy[far] + flow[1][inside][far] * dx[far]) / norm)
    cosines = np.concatenate(cosines)
    if np.median(cosines) < -0.5:
        raise Hint("your vectors point away from the centre: the flow must point towards it")
    if np.mean(cosines > 0.95) < 0.95:
        raise Hint("at each pixel: (centre - pixel) / its length, per nucleus")
    lengths = np.hypot(flow[0], flow[1])[labels > 0]
    if np.mean(np.abs(lengths - 1) < 0.05) < 0.95:
        raise Hint("normalise each vector to length 1")
    return "following the flows, the pixels of one nucleus gather at its centre."
