"""Checks of the exercises of notebook 02 (convolutions).

Each check tests the learner's answer on inputs it makes itself; see
:mod:`bioimage_course.check` for how checks work.

Examples
--------
>>> from bioimage_course.check import nb02
>>> nb02.centre_value({"predicted_centre": 1.0})
Exercise 02.1: not yet. ...
False
"""

import numpy as np
import scipy.ndimage as ndi

from ..data import make_nuclei
from ..filters import correlate, critical_learning_rate, gaussian_kernel, loss_gradient
from ._core import Attempt, Hint, exercise, require_words

LECTURE_PATTERN = np.where(np.eye(5) + np.eye(5)[::-1] > 0, 1.0, 0.5)


@exercise(
    "02.1",
    needs=("predicted_centre",),
    kind="predict then run",
    minutes=3,
    wrong=[
        Attempt({"predicted_centre": 1.0}, hint_contains="neighbours"),
        Attempt({"predicted_centre": 6 / 9}, hint_contains="count"),
    ],
)
def centre_value(predicted_centre):
    window = LECTURE_PATTERN[1:4, 1:4]
    actual = window.mean()
    try:
        guess = float(predicted_centre)
    except (TypeError, ValueError):
        raise Hint("write your prediction as a number, e.g. `predicted_centre = 0.5`") from None
    if abs(guess - actual) <= 0.01:
        return "a mean filter averages the neighbourhood: sharp patterns become soft bumps."
    if not 0.5 <= guess <= 1.0:
        raise Hint("a mean of values between 0.5 and 1 lies between 0.5 and 1")
    if abs(guess - 1.0) < 0.01:
        raise Hint("the centre pixel is 1, but the mean also counts its eight neighbours")
    raise Hint("count the 1s and the 0.5s in the centre's 3 x 3 neighbourhood, then average all 9")


def _correlation_zero(image, kernel):
    return ndi.correlate(image, kernel, mode="constant", cval=0.0)


@exercise(
    "02.2",
    needs=("convolve_loops",),
    kind="write the function",
    minutes=15,
    wrong=[
        Attempt({"convolve_loops": _correlation_zero}, hint_contains="flip"),
        Attempt(
            {"convolve_loops": lambda im, k: ndi.convolve(im, k, mode="reflect")},
            hint_contains="zeros",
        ),
        Attempt(
            {"convolve_loops": lambda im, k: ndi.convolve(im, k, mode="constant")[1:-1, 1:-1]},
            hint_contains="shape",
        ),
    ],
)
def convolution_loops(convolve_loops):
    rng = np.random.default_rng(2)
    image = rng.random((6, 7))
    for kernel in (np.arange(1.0, 10.0).reshape(3, 3), rng.normal(size=(3, 5))):
        out = np.asarray(convolve_loops(image.copy(), kernel.copy()), dtype=float)
        want = ndi.convolve(image, kernel, mode="constant", cval=0.0)
        if out.shape != image.shape:
            raise Hint(
                f"the output must have the image's shape {image.shape}, got {out.shape}: "
                "pad the image with zeros first"
            )
        if np.allclose(out, want):
            continue
        if np.allclose(out, _correlation_zero(image, kernel)):
            raise Hint("that is a correlation: a convolution flips the kernel first")
        inner = (slice(1, -1), slice(kernel.shape[1] // 2, -(kernel.shape[1] // 2)))
        if np.allclose(out[inner], want[inner]):
            raise Hint("the inside is right, the border is not: pad with zeros (mode='constant')")
        raise Hint("compare with a single impulse: convolving it must stamp a copy of the kernel")
    return "the same sums as scipy.ndimage.convolve: now you know what a Conv2d layer computes."


@exercise(
    "02.3",
    needs=("dog_kernel",),
    kind="bonus",
    minutes=10,
    wrong=[
        Attempt(
            {"dog_kernel": lambda a, b: gaussian_kernel(b) - gaussian_kernel(b)},
            hint_contains="difference",
        ),
        Attempt(
            {
                "dog_kernel": lambda a, b: (
                    np.pad(
                        gaussian_kernel(a),
                        (0, gaussian_kernel(b).shape[0] - gaussian_kernel(a).shape[0]),
                    )
                    - gaussian_kernel(b)
                )
            },
            hint_contains="centres",
        ),
    ],
)
def difference_of_gaussians(dog_kernel):
    image = np.random.default_rng(3).random((40, 40))
    for small, large in [(2.0, 3.2), (1.0, 1.6)]:
        kernel = np.asarray(dog_kernel(small, large), dtype=float)
        g_small, g_large = gaussian_kernel(small), gaussian_kernel(large)
        want = correlate(image, g_small) - correlate(image, g_large)
        if kernel.shape != g_large.shape:
            raise Hint(
                f"for sigmas {small} and {large} the kernel should have the larger Gaussian's "
                f"shape {g_large.shape}, got {kernel.shape}"
            )
        got = correlate(image, kernel)
        if np.allclose(got, want):
            continue
        if np.allclose(got, -want):
            raise Hint("the sign is reversed: the small Gaussian minus the large one")
        if np.isclose(kernel.sum(), 0, atol=1e-9) and np.allclose(kernel, 0):
            raise Hint(
                "your kernel is all zeros: it must be the difference of two *different* Gaussians"
            )
        raise Hint(
            "filtering with your kernel is not the difference of the two filterings: do the "
            "centres coincide (pad the smaller kernel equally on every side)?"
        )
    return "filtering is linear: a difference of filterings is one filtering with the difference."


def _blob_f1(sigma, image, labels, radius_px):
    from skimage.feature import peak_local_max

    blobness = -(sigma**2) * ndi.gaussian_laplace(image, sigma)
    peaks = peak_local_max(
        blobness, min_distance=max(1, int(radius_px / 2)), threshold_rel=0.05, exclude_border=False
    )
    hit = labels[tuple(peaks.T)]
    found = len(np.unique(hit[hit > 0]))
    precision, recall = found / max(len(peaks), 1), found / labels.max()
    return 2 * precision * recall / max(precision + recall, 1e-12), precision, recall


@exercise(
    "02.4",
    needs=("best_sigma", "explanation"),
    kind="tune and explain",
    minutes=10,
    wrong=[
        Attempt({"best_sigma": 1.0, "explanation": "small " * 20}, hint_contains="too small"),
        Attempt({"best_sigma": 20.0, "explanation": "large " * 20}, hint_contains="merge"),
        Attempt({"best_sigma": 6.5, "explanation": "it is best"}, hint_contains="words"),
    ],
)
def blob_scale(best_sigma, explanation):
    require_words(explanation)
    try:
        sigma = float(best_sigma)
    except (TypeError, ValueError):
        raise Hint("`best_sigma` is a number of pixels, e.g. `best_sigma = 3.0`") from None
    if not 0.3 <= sigma <= 40:
        raise Hint("`best_sigma` is a σ in pixels, between a fraction of a pixel and a few tens")
    counts, labels = make_nuclei((256, 256), rng=1, pixel_size_um=0.65)
    image, radius_px = counts.astype(np.float64), 12.0 / 2 / 0.65
    grid = np.arange(1.0, 16.0, 0.5)
    best = max(_blob_f1(s, image, labels, radius_px)[0] for s in grid)
    f1, precision, recall = _blob_f1(sigma, image, labels, radius_px)
    if f1 < 0.95 * best:
        if precision < recall:
            raise Hint(
                "σ too small: the LoG answers to texture and noise, several peaks per nucleus"
            )
        raise Hint("σ too large: neighbouring nuclei merge into one blob and get a single peak")
    if not any(w in explanation.lower() for w in ("radius", "size", "diameter", "scale")):
        raise Hint("explain with the size of the nuclei: how is the best σ related to them?")
    return (
        "compare: a bright disc of radius r responds most strongly at σ = r / √2; smaller σ "
        "finds texture and noise, larger σ merges neighbours."
    )


def _learn_buggy(inputs, targets, lr, steps):
    w = np.zeros((3, 3))
    for _ in range(steps):
        w = w + lr * loss_gradient(inputs, targets, w, loss="mse")
    return w


@exercise(
    "02.5",
    needs=("learn_fixed",),
    kind="find the bug",
    minutes=5,
    wrong=[
        Attempt({"learn_fixed": _learn_buggy}, hint_contains="against"),
        Attempt({"learn_fixed": lambda x, t, lr, steps: np.zeros((3, 3))}, hint_contains="update"),
    ],
)
def gradient_step(learn_fixed):
    rng = np.random.default_rng(4)
    inputs = rng.normal(size=(3, 16, 16))
    hidden = rng.normal(size=(3, 3))
    targets = np.stack([correlate(x, hidden) for x in inputs])
    lr = 0.9 * critical_learning_rate(inputs, size=3)
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.asarray(learn_fixed(inputs, targets, lr, 150), dtype=float)
    if w.shape != (3, 3):
        raise Hint(f"`learn_fixed` must return the learned 3 x 3 kernel, got shape {w.shape}")
    error = np.abs(w - hidden).max()
    if error < 1e-3:
        return "gradient descent: a small step against the slope of the loss, many times."
    if not np.isfinite(error) or np.abs(w).max() > 10 * np.abs(hidden).max():
        raise Hint("the weights blow up: each step must go against the gradient (subtract it)")
    raise Hint(
        "the kernel is not the hidden one yet: do you update `w` in every step and return it?"
    )
