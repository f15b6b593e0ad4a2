"""Checks of the exercises of notebook 01 (digital images).

Each check tests the learner's answer on inputs it makes itself; see
:mod:`bioimage_course.check` for how checks work.

Examples
--------
>>> from bioimage_course.check import nb01
>>> nb01.pixel_area({"area_px": lambda diameter_um, pixel_size_um: 0.0})
Exercise 01.5: not yet. ...
False
"""

import numpy as np

from ..data import make_nuclei
from ..pixels import dequantize, quantize
from ._core import Attempt, Hint, exercise, require_words


@exercise(
    "01.2",
    needs=("predicted_sum",),
    kind="predict then run",
    minutes=2,
    wrong=[
        Attempt({"predicted_sum": 260}, hint_contains="cannot hold"),
        Attempt({"predicted_sum": 255}, hint_contains="saturate"),
    ],
)
def uint8_sum(predicted_sum):
    actual = int((np.array([250], dtype=np.uint8) + np.uint8(10))[0])
    if not isinstance(predicted_sum, (int, np.integer)):
        raise Hint("write your prediction as a whole number, e.g. `predicted_sum = 123`")
    if predicted_sum > 255:
        raise Hint("a uint8 cannot hold a value above 255: what happens to the rest?")
    if predicted_sum == 255:
        raise Hint("numpy integers do not saturate at the top; they wrap around (modulo 256)")
    if predicted_sum != actual:
        raise Hint("count on from 250 and start again at 0 after 255 (modulo 256)")
    return "integer arithmetic wraps around: convert to float before computing with pixels."


def _disk_px(diameter_um, pixel_size_um):
    return np.pi * (diameter_um / 2) ** 2 / pixel_size_um**2


@exercise(
    "01.5",
    needs=("area_px",),
    kind="write the function",
    minutes=5,
    wrong=[
        Attempt({"area_px": lambda d, p: np.pi * (d / 2) ** 2 / p}, hint_contains="squared"),
        Attempt({"area_px": lambda d, p: np.pi * d**2 / p**2}, hint_contains="radius"),
        Attempt({"area_px": lambda d, p: np.pi * (d / 2) ** 2}, hint_contains="pixel size"),
    ],
)
def pixel_area(area_px):
    cases = [(8.0, 0.5), (10.0, 0.65), (3.0, 0.1), (12.0, 1.3)]
    for d, p in cases:
        got = float(area_px(d, p))
        want = _disk_px(d, p)
        if np.isclose(got, want, rtol=0.01):
            continue
        if np.isclose(got, want * p, rtol=0.01):
            raise Hint("an area in pixels divides by the pixel size *squared* (um^2 per pixel)")
        if np.isclose(got, 4 * want, rtol=0.01):
            raise Hint("four times too large: the disk's area uses the radius, half the diameter")
        if np.isclose(got, want * p**2, rtol=0.01):
            raise Hint("that is the area in um^2; divide by the area of one pixel (pixel size^2)")
        raise Hint(
            f"for a {d} um nucleus at {p} um/pixel your answer is not pi r^2 / (pixel size)^2"
        )
    return "areas in pixels scale with 1 / (pixel size)^2: state the pixel size with every count."


def _buggy_crop(image, row, col, size):
    return image[col : col + size, row : row + size]


@exercise(
    "01.1",
    needs=("crop_box_fixed",),
    kind="find the bug",
    minutes=5,
    wrong=[
        Attempt({"crop_box_fixed": _buggy_crop}, hint_contains="swapped"),
        Attempt(
            {"crop_box_fixed": lambda im, r, c, s: im[r : r + s + 1, c : c + s + 1]},
            hint_contains="exclusive",
        ),
    ],
)
def crop_box(crop_box_fixed):
    image = np.arange(40 * 60).reshape(40, 60)  # every pixel value tells its position
    for row, col, size in [(5, 30, 4), (20, 2, 7), (0, 0, 3)]:
        got = np.asarray(crop_box_fixed(image, row, col, size))
        want = image[row : row + size, col : col + size]
        if got.shape == want.shape and np.array_equal(got, want):
            continue
        if got.shape == want.shape and np.array_equal(
            got, image[col : col + size, row : row + size]
        ):
            raise Hint(
                "rows and columns are swapped: the first index is the row, the second the column"
            )
        if got.shape != want.shape:
            raise Hint(
                f"a {size} x {size} crop came back with shape {got.shape}: slice ends are exclusive"
            )
        raise Hint("the crop starts at the wrong pixel: its top-left corner is image[row, col]")
    return "(row, column) order: index as image[row, col], never image[x, y]."


def _rounding_errors(bits_range):
    image, _ = make_nuclei((256, 256), pixel_size_um=0.5, rng=0)
    lo, hi = float(image.min()), float(image.max())
    return {
        b: float(
            np.abs(
                dequantize(quantize(image, b, vmin=lo, vmax=hi), b, vmin=lo, vmax=hi) - image
            ).mean()
        )
        for b in bits_range
    }


@exercise(
    "01.3",
    needs=("bits_needed", "explanation"),
    kind="tune and explain",
    minutes=8,
    wrong=[
        Attempt({"bits_needed": 12, "explanation": "more bits " * 10}, hint_contains="smaller"),
        Attempt({"bits_needed": 2, "explanation": "fewer bits " * 10}, hint_contains="above"),
        Attempt({"bits_needed": 12, "explanation": "yes"}, hint_contains="words"),
    ],
)
def bit_depth(bits_needed, explanation):
    require_words(explanation)
    errors = _rounding_errors(range(1, 17))
    smallest = min(b for b, e in errors.items() if e < 1.0)
    if bits_needed not in errors:
        raise Hint("`bits_needed` is a bit depth: a whole number between 1 and 16")
    if errors[bits_needed] >= 1.0:
        raise Hint("at that bit depth the mean rounding error is still above 1 count")
    if bits_needed > smallest:
        raise Hint("that depth is enough, but a smaller one already keeps the error below 1 count")
    text = explanation.lower()
    if not any(w in text for w in ("level", "step", "halv", "half")):
        raise Hint("explain with the levels: how does the size of one step change per extra bit?")
    return (
        "compare: each extra bit doubles the number of levels and halves the step between them, "
        "so once the steps are fine the rounding error halves too; with very few levels it "
        "depends more on where the background falls than on the step."
    )


@exercise(
    "01.4",
    needs=("project",),
    kind="bonus",
    minutes=5,
    wrong=[
        Attempt(
            {"project": lambda data, axes, axis: data.max(axis=0)}, hint_contains="axes string"
        ),
        Attempt(
            {"project": lambda data, axes, axis: data.sum(axis=axes.index(axis))},
            hint_contains="maximum",
        ),
    ],
)
def named_projection(project):
    rng = np.random.default_rng(0)
    for axes, axis in [("ZYX", "Z"), ("CZYX", "Z"), ("TCYX", "C"), ("ZCYX", "Z"), ("TZYX", "T")]:
        data = rng.random(tuple(range(3, 3 + len(axes))))
        got = np.asarray(project(data, axes, axis))
        want = data.max(axis=axes.index(axis))
        if got.shape == want.shape and np.allclose(got, want):
            continue
        if got.shape == want.shape and np.allclose(got, data.sum(axis=axes.index(axis))):
            raise Hint("a maximum-intensity projection keeps the maximum, not the sum")
        raise Hint(
            f"for axes {axes!r}, projecting along {axis!r} must remove axis "
            f"{axes.index(axis)}: look the axis up in the axes string (axes.index)"
        )
    return "axes strings travel with the data: never assume Z is the first axis."
