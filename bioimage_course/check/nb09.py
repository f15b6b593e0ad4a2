"""Checks of the exercises of notebook 09 (generalization).

Each check tests the learner's answer on inputs it makes itself; see
:mod:`bioimage_course.check` for how checks work.

Examples
--------
>>> from bioimage_course.check import nb09
>>> nb09.rescale(
...     {"rescale_factor": lambda diameter_px, training_diameter_px: diameter_px / 20}
... )
Exercise 09.3: not yet. ...
False
"""

import numpy as np

from ._core import Attempt, Hint, exercise, require_words


@exercise(
    "09.1",
    needs=("predicted_winner",),
    kind="predict then run",
    minutes=2,
    wrong=[
        Attempt({"predicted_winner": "scratch"}, hint_contains="random weights"),
        Attempt({"predicted_winner": "both"}, hint_contains="one of the two starts"),
    ],
)
def winner(predicted_winner):
    if predicted_winner not in ("pretrained", "scratch"):
        raise Hint("answer with one of the two starts named in the task, as a string")
    if predicted_winner == "scratch":
        raise Hint(
            "from random weights the network must first learn what a nucleus looks like, "
            "from one image in a few steps: which start already knows nuclei?"
        )
    return "features learned on many (even synthetic) images transfer; a few labels adapt them."


def _reference_factor(diameter_px, training_diameter_px):
    return training_diameter_px / diameter_px


@exercise(
    "09.3",
    needs=("rescale_factor",),
    kind="write the function",
    minutes=4,
    wrong=[
        Attempt({"rescale_factor": lambda d, t: d / t}, hint_contains="inverted"),
        Attempt({"rescale_factor": lambda d, t: (t / d) ** 2}, hint_contains="area"),
        Attempt({"rescale_factor": lambda d, t: 20 / d}, hint_contains="training_diameter_px"),
    ],
)
def rescale(rescale_factor):
    cases = [(10.0, 20.0), (40.0, 20.0), (17.0, 20.0), (30.0, 15.0), (6.0, 24.0)]
    for diameter, training in cases:
        got = rescale_factor(diameter, training)
        want = _reference_factor(diameter, training)
        if np.isclose(got, 1 / want):
            raise Hint("the factor is inverted: small nuclei must be enlarged (factor > 1)")
        if np.isclose(got, want**2):
            raise Hint("the factor scales lengths (rows and columns), not the area")
        if not np.isclose(got, want):
            if np.isclose(got, 20.0 / diameter):
                raise Hint("use the `training_diameter_px` argument, not a fixed 20")
            raise Hint("the factor makes a nucleus of `diameter_px` exactly as wide as in training")
    return "a nucleus diameter is all it takes to show any image at the network's scale."


@exercise(
    "09.4",
    needs=("best_diameter", "explanation"),
    kind="tune and explain",
    minutes=6,
    wrong=[
        Attempt({"best_diameter": 20.0, "explanation": "x " * 20}, hint_contains="training"),
        Attempt({"best_diameter": 52.0, "explanation": "too short"}, hint_contains="words"),
    ],
)
def diameter_sweep(best_diameter, explanation):
    from ..data.real import load_real_sample
    from ..postprocess import median_diameter

    _, labels = load_real_sample("test")[7]
    true = median_diameter(labels)
    if not isinstance(best_diameter, (int, float, np.number)) or best_diameter <= 0:
        raise Hint("set `best_diameter` to the diameter (in pixels) of the best row of the sweep")
    if abs(best_diameter - 20.0) < 1:
        raise Hint("20 px is the training size; which diameter describes *this image's* nuclei?")
    if not 0.5 * true <= best_diameter <= 1.5 * true:
        raise Hint("choose the diameter with the highest F1 in the sweep, not the first or last")
    require_words(explanation)
    text = str(explanation).lower()
    if not any(k in text for k in ("size", "scale", "diameter", "large", "receptive")):
        raise Hint("say what the diameter changes: the size of the nuclei the network sees")
    print(
        "Compare: the sweep peaks near the nuclei's true size. Told a smaller diameter, the "
        "image is shrunk too little and the nuclei stay larger than anything seen in training."
    )
    return "the network recognises the sizes it was trained on; rescaling brings the image there."


def _buggy_split(pairs, n):
    return list(pairs[:n]), list(pairs[:4])


@exercise(
    "09.2",
    needs=("split_fixed",),
    kind="find the bug",
    minutes=4,
    wrong=[
        Attempt({"split_fixed": _buggy_split}, hint_contains="same images"),
        Attempt({"split_fixed": lambda pairs, n: (list(pairs[:n]), [])}, hint_contains="empty"),
    ],
)
def split(split_fixed):
    pairs = [(f"image{i}", f"labels{i}") for i in range(12)]
    for n in (1, 2, 4, 8):
        train, test = split_fixed(pairs, n)
        train, test = list(train), list(test)
        if len(train) != n:
            raise Hint(f"the training part must hold exactly `n` pairs (got {len(train)})")
        if not test:
            raise Hint("the test part is empty: there is nothing left to measure on")
        if any(pair in train for pair in test):
            raise Hint(
                "some test pairs are also training pairs: a model scored on the same images "
                "it was fine-tuned on looks better than it is"
            )
        if any(pair not in pairs for pair in train + test):
            raise Hint("return pairs from `pairs` itself")
    return "held-out images only: the score then predicts how the model does on new ones."
