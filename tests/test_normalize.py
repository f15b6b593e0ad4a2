"""Normalisation: equal to the published definitions, invariant to exposure, robust, strict."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bioimage_course.normalize import (  # noqa: E402
    DatasetNormalizer,
    normalize_minmax,
    normalize_percentile,
    normalize_range,
    percentile_range,
    plot_normalization,
    standardize,
)

# --- Reference definitions, written out from their publications ------------------------------


def reference_percentile_normalize(x, pmin, pmax, axis=None, clip=False, eps=1e-20):
    """CSBDeep / StarDist: percentiles of numpy (linear), then (x - lo) / (hi - lo + eps) in
    float32 after casting x, lo, hi and eps to float32; optionally clipped to [0, 1]."""
    lo = np.percentile(x, pmin, axis=axis, keepdims=True).astype(np.float32)
    hi = np.percentile(x, pmax, axis=axis, keepdims=True).astype(np.float32)
    y = (x.astype(np.float32) - lo) / (hi - lo + np.float32(eps))
    return np.clip(y, 0, 1) if clip else y


def reference_percentile(values, p):
    """Hyndman & Fan definition 7 on the fully sorted values: h = (n - 1) p / 100."""
    s = np.sort(np.asarray(values, dtype=np.float64).ravel())
    h = (s.size - 1) * p / 100
    k = int(np.floor(h))
    upper = s[min(k + 1, s.size - 1)]
    return s[k] + (h - k) * (upper - s[k])


def random_image(rng, dtype, shape):
    if np.dtype(dtype).kind == "f":
        return rng.gamma(2.0, 300.0, shape).astype(dtype) - 50
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -2000), min(info.max, 4095), shape, endpoint=True).astype(
        dtype
    )


DTYPES = [np.float32, np.float64, np.uint8, np.uint16, np.int16, np.int32]


# --- Percentiles ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "axis"),
    [((50,), None), ((7, 9), None), ((7, 9), 0), ((7, 9), 1), ((3, 5, 6), (1, 2)), ((3, 5, 6), -1)],
)
@pytest.mark.parametrize(("pmin", "pmax"), [(1.0, 99.8), (0, 100), (3, 99.8), (37.5, 38.0)])
def test_percentile_range_equals_numpy(dtype, shape, axis, pmin, pmax):
    rng = np.random.default_rng(0)
    x = random_image(rng, dtype, shape)
    low, high = percentile_range(x, pmin, pmax, axis=axis)
    expected_low = np.percentile(x, pmin, axis=axis, keepdims=True)
    expected_high = np.percentile(x, pmax, axis=axis, keepdims=True)
    assert low.shape == expected_low.shape and high.shape == expected_high.shape
    assert low.dtype == np.float64
    # float32 images: numpy may interpolate in float32 (one float32 rounding of the data's
    # scale), we always interpolate in float64. Everything else agrees to float64 rounding.
    scale = np.abs(x).max()
    tol = 1e-6 * scale if dtype == np.float32 else 1e-13 * scale
    np.testing.assert_allclose(low, expected_low, rtol=0, atol=tol)
    np.testing.assert_allclose(high, expected_high, rtol=0, atol=tol)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    p=st.floats(0, 100),
    seed=st.integers(0, 2**16),
    ties=st.booleans(),
)
def test_percentile_range_equals_definition_on_sorted_values(n, p, seed, ties):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, n) if ties else rng.normal(size=n)
    low, high = percentile_range(x, 0.0, 100.0)
    assert low.item() == x.min() and high.item() == x.max()
    if p > 0:
        low, _ = percentile_range(x, 0.0, p)
        np.testing.assert_allclose(low.item(), x.min())
        _, high = percentile_range(x, 0.0, p)
        np.testing.assert_allclose(high.item(), reference_percentile(x, p), rtol=1e-12, atol=1e-12)
    if p < 100:
        low, _ = percentile_range(x, p, 100.0)
        np.testing.assert_allclose(low.item(), reference_percentile(x, p), rtol=1e-12, atol=1e-12)


def test_percentile_range_on_a_large_image_equals_numpy():
    """Big enough for np.partition's vectorised selection path."""
    x = np.random.default_rng(1).gamma(2.0, 100.0, (512, 600)).astype(np.float32)
    for pmin, pmax in [(1, 99.8), (3, 99.8), (0.1, 99.99)]:
        low, high = percentile_range(x, pmin, pmax)
        np.testing.assert_allclose(low.item(), np.percentile(x, pmin), rtol=1e-6)
        np.testing.assert_allclose(high.item(), np.percentile(x, pmax), rtol=1e-6)


def test_percentile_range_single_value_and_equal_positions():
    assert percentile_range(np.array([5]), 0, 100) == (np.array([5.0]), np.array([5.0]))
    low, high = percentile_range(7)  # a 0-d "image"
    assert low.shape == () and float(low) == float(high) == 7.0
    assert normalize_percentile(7.0) == 0 and normalize_percentile(7.0).dtype == np.float32
    x = np.array([1.0, 2.0])
    low, high = percentile_range(x, 10, 20)  # both positions between the two values
    np.testing.assert_allclose([low.item(), high.item()], [1.1, 1.2])


# --- normalize_percentile -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, (1, 2)])
@pytest.mark.parametrize("clip", [False, True])
def test_normalize_percentile_equals_reference_definition(dtype, axis, clip):
    x = random_image(np.random.default_rng(2), dtype, (3, 20, 17))
    result = normalize_percentile(x, 1.0, 99.8, axis=axis, clip=clip)
    expected = reference_percentile_normalize(x, 1.0, 99.8, axis=axis, clip=clip)
    assert result.dtype == np.float32 and result.shape == x.shape
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


def test_normalize_percentile_maps_percentiles_to_zero_and_one():
    x = np.arange(1001.0)
    y = normalize_percentile(x, 2, 98)
    assert y[20] == pytest.approx(0.0, abs=1e-6)
    assert y[980] == pytest.approx(1.0, abs=1e-6)
    assert y.min() < 0 and y.max() > 1  # not clipped by default
    y = normalize_percentile(x, 2, 98, clip=True)
    assert y.min() == 0 and y.max() == 1


def test_normalize_percentile_per_channel_equals_a_loop_over_channels():
    rng = np.random.default_rng(3)
    stack = np.stack([rng.normal(100, 10, (16, 16)), rng.normal(5000, 900, (16, 16))])
    per_channel = normalize_percentile(stack, axis=(1, 2))
    looped = np.stack([normalize_percentile(channel) for channel in stack])
    np.testing.assert_array_equal(per_channel, looped)
    pooled = normalize_percentile(stack)
    assert not np.allclose(pooled, per_channel)
    # channels-last with the same meaning of `axis` (the axes that are reduced)
    np.testing.assert_array_equal(
        normalize_percentile(np.moveaxis(stack, 0, -1), axis=(0, 1)),
        np.moveaxis(per_channel, 0, -1),
    )


@settings(max_examples=50, deadline=None)
@given(
    scale=st.floats(1e-2, 1e3),
    offset=st.floats(-1e4, 1e4),
    seed=st.integers(0, 2**16),
    pmin=st.floats(0, 10),
    pmax=st.floats(90, 100),
)
def test_percentile_and_minmax_and_zscore_are_invariant_to_exposure_gain_offset(
    scale, offset, seed, pmin, pmax
):
    x = np.random.default_rng(seed).gamma(2.0, 50.0, (24, 24))
    brighter = scale * x + offset
    for f in (
        lambda im: normalize_percentile(im, pmin, pmax, dtype=np.float64),
        lambda im: normalize_minmax(im, dtype=np.float64),
        lambda im: standardize(im, dtype=np.float64),
    ):
        np.testing.assert_allclose(f(brighter), f(x), rtol=1e-7, atol=1e-7)


def test_percentile_normalisation_is_robust_to_hot_pixels_where_minmax_is_not():
    rng = np.random.default_rng(4)
    image = rng.poisson(200, (128, 128)).astype(np.uint16)
    image[40:60, 40:60] += 800  # a nucleus
    hot = image.copy()
    hot_rows, hot_cols = rng.integers(0, 128, (2, 10))  # 10 hot pixels in 16384
    hot[hot_rows, hot_cols] = 65535
    cold = np.ones(image.shape, bool)
    cold[hot_rows, hot_cols] = False

    clean_p, hot_p = normalize_percentile(image), normalize_percentile(hot)
    assert np.abs(clean_p - hot_p)[cold].max() < 0.05

    clean_mm, hot_mm = normalize_minmax(image), normalize_minmax(hot)
    assert hot_mm[50, 50] < 0.05 < 0.5 < clean_mm[50, 50]  # the nucleus vanished into black


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, "float64"])
def test_output_dtype_follows_dtype_argument(dtype):
    x = np.arange(12, dtype=np.uint16).reshape(3, 4)
    for f in (normalize_percentile, normalize_minmax, standardize):
        assert f(x, dtype=dtype).dtype == np.dtype(dtype)
    assert normalize_range(x, 0, 11, dtype=dtype).dtype == np.dtype(dtype)


@pytest.mark.parametrize("f", [normalize_percentile, normalize_minmax, standardize])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("eps", [0.0, 1e-20])
def test_constant_image_gives_zeros_without_warnings(f, dtype, eps):
    x = np.full((8, 8), 1234, dtype=np.uint16)
    with np.errstate(all="raise"):
        y = f(x, eps=eps, dtype=dtype)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, 0)


def test_constant_channel_gives_zeros_next_to_a_normal_one():
    x = np.stack([np.full((4, 4), 7.0), np.arange(16.0).reshape(4, 4)])
    y = normalize_percentile(x, 0, 100, axis=(1, 2))
    np.testing.assert_array_equal(y[0], 0)
    np.testing.assert_allclose(y[1], np.arange(16).reshape(4, 4) / 15, rtol=1e-6)


@pytest.mark.parametrize("f", [normalize_percentile, normalize_minmax, standardize])
def test_input_is_never_modified(f):
    x = np.random.default_rng(5).normal(size=(20, 20)).astype(np.float32)
    copy = x.copy()
    x.setflags(write=False)  # any in-place write would raise
    y = f(x)
    np.testing.assert_array_equal(x, copy)
    assert not np.shares_memory(x, y)


def test_accepts_lists_and_torch_tensors():
    torch = pytest.importorskip("torch")
    values = [[0.0, 5.0], [10.0, 20.0]]
    expected = normalize_percentile(np.array(values), 0, 100)
    np.testing.assert_array_equal(normalize_percentile(values, 0, 100), expected)
    np.testing.assert_array_equal(normalize_percentile(torch.tensor(values), 0, 100), expected)


# --- min-max, z-score, explicit range -----------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, (0, 2)])
def test_minmax_and_standardize_equal_their_formulas(axis):
    x = random_image(np.random.default_rng(6), np.float64, (4, 6, 5))
    lo = x.min(axis=axis, keepdims=True)
    hi = x.max(axis=axis, keepdims=True)
    np.testing.assert_allclose(normalize_minmax(x, axis=axis), (x - lo) / (hi - lo), atol=1e-6)
    np.testing.assert_allclose(
        normalize_minmax(x, axis=axis), normalize_percentile(x, 0, 100, axis=axis), atol=1e-6
    )
    z = (x - x.mean(axis=axis, keepdims=True)) / x.std(axis=axis, keepdims=True)
    np.testing.assert_allclose(standardize(x, axis=axis), z, rtol=1e-5, atol=1e-5)
    y = standardize(x, axis=axis, dtype=np.float64)
    np.testing.assert_allclose(y.mean(axis=axis), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=axis), 1, rtol=1e-12)


def test_normalize_range_with_given_bounds_and_clip():
    x = np.array([0, 10, 20, 40], dtype=np.uint16)
    np.testing.assert_allclose(normalize_range(x, 10, 20), [-1, 0, 1, 3])
    np.testing.assert_allclose(normalize_range(x, 10, 20, clip=True), [0, 0, 1, 1])
    stack = np.stack([x, 2 * x])
    y = normalize_range(stack, [[0], [0]], [[40], [80]])
    np.testing.assert_allclose(y[0], y[1])


# --- dataset-level normalisation ----------------------------------------------------------------


def test_dataset_normalizer_fits_on_pooled_training_pixels_only():
    rng = np.random.default_rng(7)
    train = [rng.gamma(2.0, 100.0, (16, 16)), rng.gamma(2.0, 300.0, (10, 12))]
    test = 5.0 * rng.gamma(2.0, 100.0, (16, 16))
    norm = DatasetNormalizer(1, 99.8).fit(train)
    pooled = np.concatenate([im.ravel() for im in train])
    assert norm.low[0] == pytest.approx(np.percentile(pooled, 1))
    assert norm.high[0] == pytest.approx(np.percentile(pooled, 99.8))
    expected = normalize_range(test, np.percentile(pooled, 1), np.percentile(pooled, 99.8))
    np.testing.assert_allclose(norm(test), expected, rtol=1e-6)
    # the test image keeps its own brightness, unlike per-image normalisation
    assert norm(test).mean() > 2 * norm(train[0]).mean()
    before = (norm.low.copy(), norm.high.copy())
    norm.transform(test)
    np.testing.assert_array_equal(before[0], norm.low)  # transforming does not refit


def test_dataset_normalizer_per_channel():
    rng = np.random.default_rng(8)
    train = [np.stack([rng.normal(10, 1, (8, 8)), rng.normal(1000, 100, (8, 8))], axis=-1)]
    norm = DatasetNormalizer(0, 100, channel_axis=-1).fit(train)
    np.testing.assert_allclose(norm.low, train[0].min(axis=(0, 1)))
    np.testing.assert_allclose(norm.high, train[0].max(axis=(0, 1)))
    y = norm(train[0])
    np.testing.assert_allclose(y.min(axis=(0, 1)), 0, atol=1e-6)
    np.testing.assert_allclose(y.max(axis=(0, 1)), 1, atol=1e-6)
    # a stack of images works as a sequence
    stacked = DatasetNormalizer(0, 100, channel_axis=-1).fit(np.stack(train))
    np.testing.assert_array_equal(stacked.low, norm.low)


def test_dataset_normalizer_errors():
    norm = DatasetNormalizer()
    assert "not fitted" in repr(norm)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        norm(np.ones((4, 4)))
    with pytest.raises(ValueError, match="`images` must contain at least one image, got 0"):
        norm.fit([])
    with pytest.raises(ValueError, match=r"`images\[1\]` must contain only finite values"):
        norm.fit([np.ones((2, 2)), np.array([[1.0, np.nan]])])
    per_channel = DatasetNormalizer(channel_axis=0)
    with pytest.raises(ValueError, match="same number of channels, got \\[2, 3\\]"):
        per_channel.fit([np.ones((2, 4, 4)), np.ones((3, 4, 4))])
    per_channel.fit([np.random.default_rng(0).normal(size=(2, 4, 4))])
    with pytest.raises(ValueError, match="`image` must have 2 channels along axis 0, got 3"):
        per_channel(np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match="has no axis 0"):
        per_channel(np.ones(()))
    with pytest.raises(TypeError, match="`channel_axis` must be None or an int"):
        DatasetNormalizer(channel_axis="C")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [normalize_percentile, normalize_minmax, standardize])
def test_bad_images_raise_clear_errors(f):
    with pytest.raises(ValueError, match=r"`x` must contain only finite values, got 1 NaN and 0"):
        f(np.array([1.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match=r"got 0 NaN and 2 infinite"):
        f(np.array([1.0, np.inf, -np.inf]))
    with pytest.raises(ValueError, match=r"`x` must not be empty, got shape \(0, 3\)"):
        f(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="`x` must be an integer or floating-point array, got"):
        f(np.ones((3, 3), bool))
    with pytest.raises(TypeError, match="`x` must be a numeric array, got dtype <U1"):
        f(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="`x` must be an array, got None"):
        f(None)
    with pytest.raises(TypeError, match="`dtype` must be a floating-point dtype, got int32"):
        f(np.ones(3), dtype=np.int32)
    with pytest.raises(TypeError, match="`dtype` must be a floating-point dtype, got 'pixels'"):
        f(np.ones(3), dtype="pixels")
    with pytest.raises(ValueError, match="`eps` must be >= 0, got -1"):
        f(np.ones(3), eps=-1)
    with pytest.raises(ValueError, match=r"`axis` must be None or axes of a 2D array .* got 2"):
        f(np.ones((3, 3)), axis=2)
    with pytest.raises(ValueError, match=r"`axis` must not repeat an axis, got \(0, -2\)"):
        f(np.ones((3, 3)), axis=(0, -2))


def test_bad_percentiles_raise_clear_errors():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match=r"`pmin` must be in \[0, 100\], got -1"):
        normalize_percentile(x, -1, 99)
    with pytest.raises(ValueError, match=r"`pmax` must be in \[0, 100\], got 100.5"):
        percentile_range(x, 1, 100.5)
    with pytest.raises(ValueError, match="`pmin` must be smaller than `pmax`, got 99.8 and 1"):
        normalize_percentile(x, 99.8, 1)
    with pytest.raises(ValueError, match="`pmin` must be smaller than `pmax`, got 5 and 5"):
        DatasetNormalizer(5, 5)
    with pytest.raises(TypeError, match="`pmin` must be a number, got 'low'"):
        normalize_percentile(x, "low")


def test_bad_ranges_raise_clear_errors():
    with pytest.raises(ValueError, match="`high` must be >= `low` everywhere"):
        normalize_range(np.arange(4), 3, 1)
    with pytest.raises(ValueError, match="`low` must contain only finite values"):
        normalize_range(np.arange(4), np.nan, 1)


# --- plotting ----------------------------------------------------------------------------------


def test_plot_normalization_marks_the_percentiles_and_keeps_the_image():
    image = np.random.default_rng(9).gamma(2.0, 100.0, (32, 32))
    copy = image.copy()
    fig = plot_normalization(image, 2, 98)
    ax_raw, ax_hist, ax_norm = fig.axes[:3]
    lines = [line.get_xdata()[0] for line in ax_hist.get_lines()]
    np.testing.assert_allclose(lines, np.percentile(image, [2, 98]))
    np.testing.assert_array_equal(ax_raw.images[0].get_array(), image)
    np.testing.assert_allclose(
        ax_norm.images[0].get_array(), normalize_percentile(image, 2, 98), rtol=1e-6
    )
    np.testing.assert_array_equal(image, copy)
    plt.close(fig)
    fig, axes = plt.subplots(1, 3)
    assert plot_normalization(image, axes=axes) is fig
    plt.close(fig)
    with pytest.raises(ValueError, match="`image` must be a 2D array"):
        plot_normalization(np.ones((2, 3, 4)))
