"""Checks of the exercises of notebook 04 (augmentation).

Each check tests the learner's answer on inputs it makes itself; see
:mod:`bioimage_course.check` for how checks work.

Examples
--------
>>> from bioimage_course.check import nb04
>>> nb04.zoom_area({"predicted_area_ratio": 1.5})
Exercise 04.3: not yet. ...
False
"""

import numpy as np

from ..augment import Compose, RandomWarp, resample, resample_labels, warp_coordinates
from ..data import make_nuclei
from ..normalize import normalize_percentile
from ._core import Attempt, Hint, exercise, require_words


def _flip_independently(image, labels, rng):
    if rng.random() < 0.5:
        image = image[::-1]
    if rng.random() < 0.5:
        labels = labels[::-1]
    return image, labels


def _flip_rows_only(image, labels, rng):
    if rng.random() < 0.5:
        image, labels = image[::-1], labels[::-1]
    return image, labels


def _variant(out, original):
    """Which flip of ``original`` ``out`` is: 'none', 'rows', 'columns', 'both' or None."""
    for name, flipped in [
        ("none", original),
        ("rows", original[::-1]),
        ("columns", original[:, ::-1]),
        ("both", original[::-1, ::-1]),
    ]:
        if out.shape == flipped.shape and np.array_equal(out, flipped):
            return name
    return None


@exercise(
    "04.1",
    needs=("flip_pair",),
    kind="write the function",
    minutes=8,
    wrong=[
        Attempt({"flip_pair": _flip_independently}, hint_contains="same flip"),
        Attempt({"flip_pair": _flip_rows_only}, hint_contains="both axes"),
        Attempt({"flip_pair": lambda image, labels, rng: (image, labels)}, hint_contains="never"),
    ],
)
def joint_flip(flip_pair):
    labels = np.arange(20 * 30, dtype=np.int32).reshape(20, 30)
    image = labels.astype(np.float32) / 600
    seen = set()
    for seed in range(40):
        out = flip_pair(image.copy(), labels.copy(), np.random.default_rng(seed))
        if not isinstance(out, tuple) or len(out) != 2:
            raise Hint("return the pair `(image, labels)`")
        out_image, out_labels = (np.asarray(a) for a in out)
        if out_labels.dtype != labels.dtype:
            raise Hint(f"labels stay {labels.dtype}: flipping never changes the values")
        a, b = _variant(out_image, image), _variant(out_labels, labels)
        if a is None or b is None:
            raise Hint("only flip: reverse the order of the rows and/or of the columns")
        if a != b:
            raise Hint(
                "image and labels got different flips: draw once, apply the same flip to both"
            )
        seen.add(a)
    if seen == {"none"}:
        raise Hint("your function never flips: flip each axis with probability 0.5")
    if len(seen) < 4:
        raise Hint("flip both axes, each with probability 0.5 of its own: some flips never appear")
    return "one draw, applied to image and labels: the outlines stay on their nuclei."


def _test_pair(shape=(96, 96), seed=9):
    counts, labels = make_nuclei(shape, rng=seed)
    return normalize_percentile(counts), labels


def _rotate_bilinear(image, labels, angle_deg):
    coords = warp_coordinates(image.shape, rotation_deg=angle_deg)
    rotated = resample(labels.astype(np.float32), coords, order=1)
    return resample(image, coords, order=1), np.rint(rotated).astype(labels.dtype)


@exercise(
    "04.2",
    needs=("rotate_pair_fixed",),
    kind="find the bug",
    minutes=8,
    wrong=[
        Attempt({"rotate_pair_fixed": _rotate_bilinear}, hint_contains="interpolate"),
        Attempt(
            {
                "rotate_pair_fixed": lambda im, lab, a: (
                    resample(im, warp_coordinates(im.shape, rotation_deg=a), order=1),
                    lab,
                )
            },
            hint_contains="rotated like the image",
        ),
    ],
)
def label_interpolation(rotate_pair_fixed):
    image, labels = _test_pair()
    for angle in (20.0, -35.0):
        coords = warp_coordinates(image.shape, rotation_deg=angle)
        want_image = resample(image, coords, order=1)
        want_labels = resample_labels(labels, coords)
        out = rotate_pair_fixed(image.copy(), labels.copy(), angle)
        if not isinstance(out, tuple) or len(out) != 2:
            raise Hint("return the pair `(image, labels)`")
        got_image, got_labels = (np.asarray(a) for a in out)
        if not np.allclose(got_image, want_image, atol=1e-5):
            raise Hint("the image must be rotated as before: resample with order=1")
        if np.array_equal(got_labels, labels):
            raise Hint("the labels must be rotated like the image, with the same coordinates")
        if got_labels.dtype.kind not in "iu":
            raise Hint("labels are names, so they stay integers")
        if not np.array_equal(got_labels, want_labels):
            raise Hint(
                "labels are names: never interpolate them; resample_labels copies the "
                "label of the nearest input pixel"
            )
    return "labels are copied, never averaged: every id in the output is a real nucleus."


@exercise(
    "04.3",
    needs=("predicted_area_ratio",),
    kind="predict then run",
    minutes=3,
    wrong=[
        Attempt({"predicted_area_ratio": 1.5}, hint_contains="square"),
        Attempt({"predicted_area_ratio": 1.0}, hint_contains="pixel size"),
    ],
)
def zoom_area(predicted_area_ratio):
    try:
        guess = float(predicted_area_ratio)
    except (TypeError, ValueError):
        raise Hint("write your prediction as a number, e.g. `predicted_area_ratio = 1.1`") from None
    if abs(guess - 1.5**2) <= 0.1:
        return "areas scale with the square of the zoom: a zoom changes what the pixels measure."
    if abs(guess - 1.0) < 0.05:
        raise Hint(
            "the pixel size is fixed by the microscope, so a zoomed nucleus covers more "
            "pixels and more µm²"
        )
    if abs(guess - 1.5) < 0.05:
        raise Hint(
            "an area stretches along rows *and* columns: it scales with the square of the zoom"
        )
    raise Hint("a zoom by z stretches rows and columns by z each: how does an area change?")


ZOOM_GRID = (1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.5)


def _largest_zoom_within(tolerance=0.2):
    """The sweep of exercise 04.4, on the notebook's default image: largest zoom within 20 %."""
    _, labels = make_nuclei((256, 256), rng=0)
    area = _mean_area(labels)
    within = [
        z
        for z in ZOOM_GRID
        if abs(_mean_area(RandomWarp(zoom=(z, z))(labels.astype(np.float32), labels)[1]) / area - 1)
        <= tolerance
    ]
    return max(within)


@exercise(
    "04.4",
    needs=("max_zoom", "explanation"),
    kind="tune and explain",
    minutes=8,
    wrong=[
        Attempt(
            {"max_zoom": 1.5, "explanation": "zoom pixel size " * 6}, hint_contains="too strong"
        ),
        Attempt({"max_zoom": 1.0, "explanation": "zoom pixel size " * 6}, hint_contains="allows"),
        Attempt({"max_zoom": 1.1, "explanation": "zoom"}, hint_contains="words"),
    ],
)
def zoom_limit(max_zoom, explanation):
    require_words(explanation)
    try:
        zoom = float(max_zoom)
    except (TypeError, ValueError):
        raise Hint("`max_zoom` is a zoom factor, a number such as 1.3") from None
    if not any(abs(zoom - z) < 1e-9 for z in ZOOM_GRID):
        raise Hint(f"choose one of the zooms of the sweep: {ZOOM_GRID}")
    best = _largest_zoom_within()
    if zoom > best:
        raise Hint(
            "too strong: at that zoom the mean area changes by more than 20 % (see the sweep)"
        )
    if zoom < best:
        raise Hint("safe, but the sweep allows a stronger zoom within 20 %")
    text = explanation.lower()
    if not any(w in text for w in ("pixel size", "physic", "micromet", "µm")):
        raise Hint("explain with the physics: what fixes the size of a nucleus in pixels?")
    return (
        "compare: the pixel size is fixed by the microscope, so size in pixels is information; "
        "a zoom z changes areas by about z² (a little less here: nuclei cut by the border "
        "shrink), so zoom only as much as real nuclei vary in size."
    )


def _mean_area(labels):
    sizes = np.bincount(labels.ravel())[1:]
    return sizes[sizes > 0].mean()


@exercise(
    "04.5",
    needs=("nuclei_pipeline",),
    kind="bonus",
    minutes=10,
    wrong=[
        Attempt({"nuclei_pipeline": Compose([RandomWarp(zoom=(1.5, 1.5))])}, hint_contains="area"),
        Attempt(
            {"nuclei_pipeline": lambda image, labels, rng=None: (image, labels)},
            hint_contains="never moves",
        ),
    ],
)
def nuclei_pipeline_check(nuclei_pipeline):
    image, labels = _test_pair((128, 128), seed=11)
    ids, area = set(np.unique(labels).tolist()), _mean_area(labels)
    rng = np.random.default_rng(0)
    moved = False
    for _ in range(20):
        out_image, out_labels = nuclei_pipeline(image.copy(), labels.copy(), rng=rng)
        out_labels = np.asarray(out_labels)
        if out_labels.shape != labels.shape or np.asarray(out_image).shape != image.shape:
            raise Hint("keep the image's and the labels' shape (no crops here)")
        if not set(np.unique(out_labels).tolist()) <= ids:
            raise Hint("new label ids appeared: labels must never be interpolated")
        if not 0.75 < _mean_area(out_labels) / area < 1.25:
            raise Hint("the mean nucleus area changed by more than 25 %: limit the zoom")
        moved = moved or not np.array_equal(out_labels, labels)
    if not moved:
        raise Hint(
            "the pipeline never moves the nuclei: a slide has no up, add flips and rotations"
        )
    return "a pipeline that keeps labels and physics: ready for training in notebook 05."
