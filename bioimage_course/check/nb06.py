"""Checks of notebook 06 (receptive field): one per exercise, each on inputs of its own.

>>> predict_window({"my_prediction": ...})
Exercise 06.1: define `my_prediction` first (it is still `...`).
False
"""

from __future__ import annotations

import numpy as np
from torch import nn

from .. import receptive_field as rf
from ..classify import CropClassifier
from ..models import UNet
from ._core import Attempt, Hint, exercise, require_words


def _window_stack() -> nn.Sequential:
    """The stack of exercise 06.1 (the check builds its own copy)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 1, 5, padding=2),
    )


@exercise(
    "06.1",
    needs=("my_prediction",),
    kind="predict then run",
    minutes=5,
    wrong=[
        Attempt({"my_prediction": 13}, hint_contains="jump"),
        Attempt({"my_prediction": 11}, hint_contains="pooling"),
    ],
)
def predict_window(my_prediction):
    if not isinstance(my_prediction, (int, float, np.integer, np.floating)):
        raise Hint("`my_prediction` must be a number of pixels, e.g. 17")
    answer = rf.receptive_field(_window_stack()).size[0]
    if my_prediction == answer:
        return "each pooling doubles the jump, so later kernels reach further."
    if my_prediction == 11:  # kernels only
        raise Hint(
            "a pooling layer is a layer too: a 2x2 window adds (2 - 1) * jump and doubles the jump"
        )
    if my_prediction < answer:
        raise Hint(
            "too small: after each pooling one kernel step spans `jump` input pixels, so a "
            "layer adds (kernel - 1) * jump, not (kernel - 1)"
        )
    raise Hint(
        "too large: start at r = 1, add (kernel - 1) * jump per layer, double the jump per pooling"
    )


def _random_stacks(rng: np.random.Generator, n: int = 12):
    """Random stacks of convolutions and poolings: (layers as (kernel, stride), module)."""
    for _ in range(n):
        layers, modules = [], []
        for _ in range(int(rng.integers(2, 7))):
            if rng.random() < 0.3:
                k = int(rng.choice([2, 3]))
                layers.append((k, 2))
                modules.append(nn.MaxPool2d(k, stride=2))
            else:
                k, s = int(rng.choice([1, 3, 5, 7])), int(rng.choice([1, 1, 2]))
                layers.append((k, s))
                modules.append(nn.Conv2d(1, 1, k, stride=s, padding=k // 2))
        yield layers, nn.Sequential(*modules)


def _no_jump(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def _jump_first(layers):
    r, j = 1, 1
    for k, s in layers:
        j *= s
        r += (k - 1) * j
    return r


@exercise(
    "06.2",
    needs=("receptive_field_size",),
    kind="write the function",
    minutes=10,
    wrong=[
        Attempt({"receptive_field_size": _no_jump}, hint_contains="jump"),
        Attempt({"receptive_field_size": _jump_first}, hint_contains="before"),
    ],
)
def receptive_field_size(receptive_field_size):
    if receptive_field_size([(3, 1)]) != 3:
        raise Hint("one 3x3 convolution sees 3 pixels: start at r = 1 and add (kernel - 1) * jump")
    for layers, module in _random_stacks(np.random.default_rng(6)):
        got, expected = receptive_field_size(list(layers)), rf.receptive_field(module).size[0]
        if got == expected:
            continue
        if got == _no_jump(layers):
            raise Hint(
                "the jump is missing: after a stride-2 layer each kernel step spans 2 input pixels"
            )
        if got == _jump_first(layers):
            raise Hint(
                "a layer's kernel steps are spaced by the jump *before* its own stride: "
                "update r first, then j"
            )
        raise Hint(f"wrong for the layers {layers}: walk them one by one, r += (k - 1) * j; j *= s")
    return "the same recurrence gives `rf.receptive_field` for any stack."


def _margin_only(model):
    return rf.context_margin(model)


@exercise(
    "06.3",
    needs=("tile_overlap_fixed",),
    kind="find the bug",
    minutes=8,
    wrong=[
        Attempt({"tile_overlap_fixed": _margin_only}, hint_contains="half"),
        Attempt(
            {"tile_overlap_fixed": lambda m: 2 * rf.context_margin(m) + 1}, hint_contains="multiple"
        ),
    ],
)
def tile_overlap(tile_overlap_fixed):
    for depth in (1, 2, 3, 4):
        model = UNet(depth=depth, base_channels=1)
        overlap, margin, period = tile_overlap_fixed(model), rf.context_margin(model), 2**depth
        if not isinstance(overlap, (int, np.integer)):
            raise Hint(
                f"the overlap must be a whole number of pixels, got {type(overlap).__name__}"
            )
        if overlap // 2 < margin:
            raise Hint(
                "each of two neighbouring tiles keeps only the half of the overlap nearest its "
                "centre: that half must cover the window's reach"
            )
        if overlap % period:
            raise Hint(
                "the overlap must be a multiple of 2**depth, so that tiles stay on the pooling grid"
            )
        if overlap > 2 * margin + period:
            raise Hint("larger than needed: every extra pixel of overlap is computed twice")
    return "predict_tiled uses the same rule for its default overlap."


def _explained(text, concepts: tuple[str, ...], *, words: int = 15) -> None:
    require_words(text, words=words)
    if not any(c in text.lower() for c in concepts):
        raise Hint("your explanation should say what happens to the pixels at a nucleus' edge")


@exercise(
    "06.4",
    needs=("coarsest_pixel_um", "explanation"),
    kind="tune and explain",
    minutes=8,
    wrong=[
        Attempt({"coarsest_pixel_um": 10.4, "explanation": "x " * 20}, hint_contains="pixels"),
        Attempt({"coarsest_pixel_um": 1.3, "explanation": "coarse is bad"}, hint_contains="words"),
    ],
)
def coarsest_pixels(coarsest_pixel_um, explanation):
    smallest_um = 9.0  # the smallest nucleus of the "easy" preset used in section 6
    try:
        px = float(coarsest_pixel_um)
    except (TypeError, ValueError):
        raise Hint("`coarsest_pixel_um` must be a pixel size in µm (a number)") from None
    if smallest_um / px < 3:
        raise Hint(
            "at that size the smallest nuclei span fewer than 3 pixels: "
            "look at the error column again"
        )
    if smallest_um / px > 15:
        raise Hint(
            "finer pixels than needed: find the *largest* pixel size that "
            "still keeps the area error small"
        )
    _explained(explanation, ("partial", "edge", "boundary", "outline", "merge", "resolve"))
    print(
        "Compare: a nucleus a few pixels across has most of its pixels on its edge; counting "
        "partial pixels whole inflates the area, neighbours merge and small nuclei vanish. No "
        "labelling can fix it: the grid cannot resolve the outline."
    )


@exercise(
    "06.5",
    needs=("classifier_window",),
    kind="bonus",
    minutes=5,
    wrong=[Attempt({"classifier_window": 32}, hint_contains="crop")],
)
def classifier_window(classifier_window):
    expected = rf.receptive_field(CropClassifier().features).size[0]
    if classifier_window == expected:
        return "each feature sees part of the crop; the global average pools all of them."
    if classifier_window in (16, 24, 32, 48, 64):
        raise Hint("that is a crop size; the window is what one pixel of the last feature map sees")
    raise Hint("use `rf.receptive_field(classifier.features)`: the convolutions and poolings only")
