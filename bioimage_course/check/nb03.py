"""Checks of the exercises of notebook 03 (normalization).

Each check tests the learner's answer on inputs it makes itself; see
:mod:`bioimage_course.check` for how checks work.

Examples
--------
>>> from bioimage_course.check import nb03
>>> nb03.hot_pixel_strategy({"predicted_strategy": "percentile"})
Exercise 03.1: not yet. ...
False
"""

import numpy as np

from ..data import make_nuclei
from ..normalize import DatasetNormalizer, normalize_minmax, normalize_percentile, standardize
from ._core import Attempt, Hint, exercise, require_words

STRATEGY_NAMES = ("min-max", "z-score", "percentile", "dataset-level")


def _with_hot_pixels(image, n, rng):
    hot = image.copy()
    hot.flat[rng.choice(hot.size, n, replace=False)] = 4095
    return hot


def _most_damaged_strategy():
    """The strategy whose nuclear values change most when 20 hot pixels are added."""
    rng = np.random.default_rng(5)
    image, labels = make_nuclei((128, 128), rng=5)
    hot = _with_hot_pixels(image, 20, rng)
    train = [make_nuclei((128, 128), rng=50 + i)[0] for i in range(3)]
    strategies = {
        "min-max": normalize_minmax,
        "z-score": standardize,
        "percentile": normalize_percentile,
        "dataset-level": DatasetNormalizer().fit(train),
    }
    inside = labels > 0
    change = {}
    for name, f in strategies.items():
        clean = np.median(f(image)[inside])
        change[name] = abs(np.median(f(hot)[inside]) - clean) / abs(clean)
    return max(change, key=change.get)


@exercise(
    "03.1",
    needs=("predicted_strategy",),
    kind="predict then run",
    minutes=3,
    wrong=[
        Attempt({"predicted_strategy": "percentile"}, hint_contains="top"),
        Attempt({"predicted_strategy": "z-score"}, hint_contains="single pixel"),
        Attempt({"predicted_strategy": "dataset-level"}, hint_contains="training images"),
    ],
)
def hot_pixel_strategy(predicted_strategy):
    if not isinstance(predicted_strategy, str):
        raise Hint('write the strategy\'s name as a string, e.g. `predicted_strategy = "..."`')
    guess = predicted_strategy.strip().lower().replace(" ", "-").replace("_", "-")
    guess = {"minmax": "min-max", "zscore": "z-score", "dataset": "dataset-level"}.get(guess, guess)
    if guess not in STRATEGY_NAMES:
        raise Hint(f"choose one of the four strategies of the table: {', '.join(STRATEGY_NAMES)}")
    if guess == _most_damaged_strategy():
        return "one bright pixel can set the whole scale of an image: never trust its maximum."
    if guess == "percentile":
        raise Hint("percentiles skip the top 0.2 % of the pixels, and 20 hot pixels are far fewer")
    if guess == "z-score":
        raise Hint(
            "20 hot pixels move the mean and the standard deviation only a little; which "
            "strategy lets a single pixel set the scale?"
        )
    raise Hint("the dataset-level map is fitted on the training images, not on this one")


def _test_images():
    rng = np.random.default_rng(6)
    image, _ = make_nuclei((96, 96), rng=6, photons=200.0)
    return [_with_hot_pixels(image, 5, rng), image.astype(np.float64) * 0.5 + 3.0]


def _reference(x, pmin, pmax):
    return normalize_percentile(np.asarray(x, dtype=np.float64), pmin, pmax, dtype=np.float64)


@exercise(
    "03.2",
    needs=("percentile_normalize",),
    kind="write the function",
    minutes=8,
    wrong=[
        Attempt(
            {"percentile_normalize": lambda x, lo, hi: normalize_percentile(x, lo, hi, clip=True)},
            hint_contains="clip",
        ),
        Attempt(
            {"percentile_normalize": lambda x, lo, hi: normalize_percentile(x, lo / 100, hi / 100)},
            hint_contains="0 to 100",
        ),
        Attempt(
            {"percentile_normalize": lambda x, lo, hi: normalize_minmax(x)}, hint_contains="single"
        ),
    ],
)
def percentile_formula(percentile_normalize):
    for x in _test_images():
        for pmin, pmax in [(1.0, 99.8), (3.0, 99.0)]:
            got = np.asarray(percentile_normalize(x.copy(), pmin, pmax), dtype=np.float64)
            want = _reference(x, pmin, pmax)
            if got.shape != x.shape:
                raise Hint(f"the result must have the image's shape {x.shape}, got {got.shape}")
            if np.allclose(got, want, rtol=1e-4, atol=1e-5):
                continue
            if np.allclose(got, np.clip(want, 0, 1), rtol=1e-4, atol=1e-5):
                raise Hint("do not clip: values below p_low and above p_high stay outside 0..1")
            if np.allclose(got, _reference(x, pmin / 100, pmax / 100), rtol=1e-4, atol=1e-5):
                raise Hint("np.percentile takes percentages from 0 to 100, not fractions")
            if np.allclose(got, normalize_minmax(x.astype(np.float64)), rtol=1e-4, atol=1e-5):
                raise Hint("the minimum and maximum are single pixels: use the two percentiles")
            raise Hint(
                "compare with (x - p_low) / (p_high - p_low + 1e-20), with "
                "p_low, p_high = np.percentile(x, [pmin, pmax])"
            )
    return "the same numbers as CSBDeep's normalize: robust to a few outliers, not clipped."


HOT_LIMIT = 100 - 100 * 20 / (256 * 256)  # above it, the upper percentile lands on a hot pixel


@exercise(
    "03.3",
    needs=("safe_pmax", "explanation"),
    kind="tune and explain",
    minutes=8,
    wrong=[
        Attempt(
            {"safe_pmax": 100.0, "explanation": "hot pixels percent " * 6}, hint_contains="lands"
        ),
        Attempt(
            {"safe_pmax": 99.0, "explanation": "hot pixels percent " * 6}, hint_contains="larger"
        ),
        Attempt({"safe_pmax": 99.0, "explanation": "safe"}, hint_contains="words"),
    ],
)
def safe_percentile(safe_pmax, explanation):
    require_words(explanation)
    try:
        pmax = float(safe_pmax)
    except (TypeError, ValueError):
        raise Hint("`safe_pmax` is a percentile, a number such as 99.5") from None
    if pmax >= HOT_LIMIT:
        raise Hint("too high: there the upper percentile lands on a hot pixel (the sweep shows it)")
    if pmax < 99.9:
        raise Hint("safe, but not the largest: the sweep shows larger safe values")
    text = explanation.lower()
    if "hot" not in text or not any(w in text for w in ("%", "percent", "fraction", "share")):
        raise Hint("explain with the share of the image (in %) that the hot pixels cover")
    return (
        "compare: 20 hot pixels are 100 * 20 / 65536 % of the image; any percentile above 100 "
        "minus that share reads a hot pixel. The default 99.8 leaves room for 0.2 % outliers."
    )


def _robust_reference(x):
    x = np.asarray(x, dtype=np.float64)
    median = np.median(x)
    return (x - median) / (1.4826 * np.median(np.abs(x - median)))


@exercise(
    "03.4",
    needs=("robust_standardize",),
    kind="bonus",
    minutes=8,
    wrong=[
        Attempt({"robust_standardize": lambda x: (x - x.mean()) / x.std()}, hint_contains="median"),
        Attempt(
            {
                "robust_standardize": lambda x: (
                    (x - np.median(x)) / np.median(np.abs(x - np.median(x)))
                )
            },
            hint_contains="1.4826",
        ),
    ],
)
def robust_zscore(robust_standardize):
    for x in _test_images():
        got = np.asarray(robust_standardize(x.astype(np.float64)), dtype=np.float64)
        want = _robust_reference(x)
        if got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=1e-6):
            continue
        x = x.astype(np.float64)
        if got.shape == want.shape and np.allclose(got, (x - x.mean()) / x.std(), rtol=1e-3):
            raise Hint(
                "mean and standard deviation follow the hot pixels: use the median and the "
                "median absolute deviation (MAD)"
            )
        if got.shape == want.shape and np.allclose(got * 1.4826, want * 1.4826**2, rtol=1e-3):
            raise Hint(
                "scale the MAD by 1.4826, so that it equals the standard deviation of "
                "Gaussian noise"
            )
        raise Hint("compare with (x - median) / (1.4826 * median(|x - median|))")
    return "median and MAD ignore a few outliers, as percentiles do."


def _normalize_split_buggy(train_images, test_images, pmin, pmax):
    normalizer = DatasetNormalizer(pmin, pmax).fit(list(train_images) + list(test_images))
    return [normalizer(x) for x in train_images], [normalizer(x) for x in test_images]


def _per_image_test(train_images, test_images, pmin, pmax):
    normalizer = DatasetNormalizer(pmin, pmax).fit(list(train_images))
    return [normalizer(x) for x in train_images], [
        normalize_percentile(x, pmin, pmax) for x in test_images
    ]


@exercise(
    "03.5",
    needs=("normalize_split_fixed",),
    kind="find the bug",
    minutes=8,
    wrong=[
        Attempt({"normalize_split_fixed": _normalize_split_buggy}, hint_contains="test images"),
        Attempt({"normalize_split_fixed": _per_image_test}, hint_contains="same"),
    ],
)
def no_test_leak(normalize_split_fixed):
    train = [make_nuclei((64, 64), rng=70 + i)[0] for i in range(3)]
    dim = [make_nuclei((64, 64), rng=80, photons=60.0)[0]]
    bright = [make_nuclei((64, 64), rng=81, photons=2000.0)[0]]
    train_a, test_a = normalize_split_fixed(train, dim, 1.0, 99.8)
    train_b, _ = normalize_split_fixed(train, bright, 1.0, 99.8)
    if not all(np.allclose(a, b) for a, b in zip(train_a, train_b)):
        raise Hint(
            "the training images came out differently when only the test images changed: "
            "the percentiles were fitted on the test images too"
        )
    reference = DatasetNormalizer(1.0, 99.8).fit(train)
    if not all(np.allclose(a, reference(x), atol=1e-5) for a, x in zip(train_a, train)):
        raise Hint("fit one DatasetNormalizer on the training images and transform them with it")
    if not np.allclose(test_a[0], reference(dim[0]), atol=1e-5):
        raise Hint("transform the test images with the same normaliser fitted on the training ones")
    return "fit on training images only; the test score then says how new images will fare."
