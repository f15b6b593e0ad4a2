"""bioimage_course.filters: equal to scipy.ndimage and torch, kernels, learning a kernel."""

import matplotlib
import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bioimage_course.filters import (
    KERNEL_NAMES,
    MODES,
    combine_kernels,
    convolve,
    correlate,
    correlate_naive,
    critical_learning_rate,
    gaussian_kernel,
    gradient_magnitude,
    identity_kernel,
    laplacian_kernel,
    learn_kernel,
    log_kernel,
    loss_gradient,
    make_kernel,
    mean_kernel,
    pad,
    plot_kernel,
    plot_loss_curves,
    prewitt_kernel,
    show_filter,
    show_filter_bank,
    sobel_kernel,
)

matplotlib.use("Agg")

FAST = settings(max_examples=60, deadline=None)

LECTURE_PATTERN = np.array(
    [
        [1.0, 0.5, 0.5, 0.5, 1.0],
        [0.5, 1.0, 0.5, 1.0, 0.5],
        [0.5, 0.5, 1.0, 0.5, 0.5],
        [0.5, 1.0, 0.5, 1.0, 0.5],
        [1.0, 0.5, 0.5, 0.5, 1.0],
    ]
)


@st.composite
def image_and_kernel(draw, ndim=2, max_image=12, max_kernel=7):
    """A random image and kernel; odd and even kernel sizes, some larger than the image."""
    seed = draw(st.integers(0, 2**32 - 1))
    image_shape = draw(st.tuples(*[st.integers(1, max_image)] * ndim))
    kernel_shape = draw(st.tuples(*[st.integers(1, max_kernel)] * ndim))
    rng = np.random.default_rng(seed)
    return rng.normal(size=image_shape), rng.normal(size=kernel_shape)


modes = st.sampled_from(MODES)
cvals = st.floats(-2, 2)


# ---------------------------------------------------------------------------------------------
# The lecture's worked example
# ---------------------------------------------------------------------------------------------


def test_lecture_worked_example():
    filtered = correlate(LECTURE_PATTERN, mean_kernel(3))
    valid = filtered[1:-1, 1:-1]  # where the 3x3 kernel lies entirely inside the 5x5 image
    expected = np.full((3, 3), 6 / 9)
    expected[1, 1] = 7 / 9
    np.testing.assert_allclose(valid, expected, rtol=0, atol=1e-12)
    # the slide shows these values truncated to two decimals
    assert np.all(np.floor(valid * 100) / 100 == np.where(expected == 7 / 9, 0.77, 0.66))
    np.testing.assert_allclose(correlate_naive(LECTURE_PATTERN, mean_kernel(3)), filtered)


# ---------------------------------------------------------------------------------------------
# Reference equivalence: scipy.ndimage
# ---------------------------------------------------------------------------------------------


@FAST
@given(image_and_kernel(), modes, cvals)
def test_correlate_equals_scipy_2d(pair, mode, cval):
    image, kernel = pair
    expected = ndi.correlate(image, kernel, mode=mode, cval=cval)
    np.testing.assert_allclose(
        correlate(image, kernel, mode=mode, cval=cval), expected, rtol=1e-10, atol=1e-10
    )


@FAST
@given(image_and_kernel(), modes, cvals)
def test_convolve_equals_scipy_2d(pair, mode, cval):
    image, kernel = pair
    expected = ndi.convolve(image, kernel, mode=mode, cval=cval)
    np.testing.assert_allclose(
        convolve(image, kernel, mode=mode, cval=cval), expected, rtol=1e-10, atol=1e-10
    )


@FAST
@given(
    st.sampled_from([1, 3]).flatmap(lambda n: image_and_kernel(ndim=n, max_image=7, max_kernel=5)),
    modes,
    cvals,
)
def test_correlate_and_convolve_equal_scipy_1d_and_3d(pair, mode, cval):
    image, kernel = pair
    np.testing.assert_allclose(
        correlate(image, kernel, mode=mode, cval=cval),
        ndi.correlate(image, kernel, mode=mode, cval=cval),
        atol=1e-10,
    )
    np.testing.assert_allclose(
        convolve(image, kernel, mode=mode, cval=cval),
        ndi.convolve(image, kernel, mode=mode, cval=cval),
        atol=1e-10,
    )


@FAST
@given(image_and_kernel(max_image=8, max_kernel=5), modes, cvals)
def test_naive_loop_equals_scipy(pair, mode, cval):
    image, kernel = pair
    np.testing.assert_allclose(
        correlate_naive(image, kernel, mode=mode, cval=cval),
        ndi.correlate(image, kernel, mode=mode, cval=cval),
        atol=1e-10,
    )


@pytest.mark.parametrize("size", [2, 4, (2, 3), (4, 1)])
def test_even_kernel_centre_is_index_size_over_two(size):
    """An even kernel's centre is the element just after the geometric centre, as in scipy."""
    image = np.zeros((9, 9))
    image[4, 4] = 1.0
    kernel = identity_kernel(size)
    np.testing.assert_array_equal(correlate(image, kernel), image)
    np.testing.assert_array_equal(convolve(image, kernel), image)
    ones = np.ones(np.broadcast_to(size, 2))
    corr, conv = correlate(image, ones, mode="constant"), convolve(image, ones, mode="constant")
    np.testing.assert_array_equal(corr, ndi.correlate(image, ones, mode="constant"))
    np.testing.assert_array_equal(conv, ndi.convolve(image, ones, mode="constant"))
    # convolution copies the kernel onto the impulse with its element n // 2 on the impulse;
    # correlation copies the flipped kernel, so the footprint is mirrored about the impulse
    n, c = ones.shape[0], ones.shape[0] // 2
    np.testing.assert_array_equal(np.nonzero(conv.any(axis=1))[0], np.arange(4 - c, 4 - c + n))
    np.testing.assert_array_equal(np.nonzero(corr.any(axis=1))[0], np.arange(4 + c - n + 1, 5 + c))


def test_integer_images_give_float_results_never_clipped():
    image = np.array([[0, 0, 255, 255]] * 4, dtype=np.uint8)
    result = correlate(image, sobel_kernel(axis=1), mode="nearest")
    assert result.dtype == np.float64
    assert result.max() == 4 * 255
    result = correlate(image[:, ::-1], sobel_kernel(axis=1), mode="nearest")
    assert result.min() == -4 * 255  # negative: would wrap around in uint8
    assert image.dtype == np.uint8 and image[0, 3] == 255  # input untouched


@FAST
@given(image_and_kernel(), modes)
def test_inputs_are_not_modified(pair, mode):
    image, kernel = pair
    image_copy, kernel_copy = image.copy(), kernel.copy()
    correlate(image, kernel, mode=mode)
    convolve(image, kernel, mode=mode)
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(kernel, kernel_copy)


# ---------------------------------------------------------------------------------------------
# Padding modes, written out from their definitions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("reflect", [3, 2, 1, 1, 2, 3, 4, 4, 3, 2]),
        ("mirror", [4, 3, 2, 1, 2, 3, 4, 3, 2, 1]),
        ("nearest", [1, 1, 1, 1, 2, 3, 4, 4, 4, 4]),
        ("wrap", [2, 3, 4, 1, 2, 3, 4, 1, 2, 3]),
        ("constant", [9, 9, 9, 1, 2, 3, 4, 9, 9, 9]),
    ],
)
def test_pad_modes(mode, expected):
    np.testing.assert_array_equal(pad(np.array([1, 2, 3, 4]), 3, mode=mode, cval=9), expected)


@FAST
@given(st.integers(1, 6), st.integers(0, 8), st.integers(0, 8), modes)
def test_pad_agrees_with_scipy_shift(n, before, after, mode):
    """Reading the padded row at each position equals scipy's filter with a shifted impulse."""
    row = np.arange(1.0, n + 1)
    padded = pad(row, [(before, after)], mode=mode, cval=-1.0)
    assert padded.shape == (n + before + after,)
    numpy_mode = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}
    extra = {"constant_values": -1.0} if mode == "constant" else {}
    reference = np.pad(row, (before, after), mode=numpy_mode.get(mode, "constant"), **extra)
    np.testing.assert_array_equal(padded, reference)
    for shift in range(-before, after + 1):
        if abs(shift) >= 4 * n:
            # scipy 1.17 returns uninitialised memory for e.g. a 17-tap 'reflect' kernel on a
            # 2-pixel row; np.pad above is the reference there
            continue
        size = 2 * abs(shift) + 1  # an odd kernel whose single 1 sits `shift` from its centre
        kernel = np.zeros(size)
        kernel[size // 2 + shift] = 1.0
        shifted = ndi.correlate(row, kernel, mode=mode, cval=-1.0)
        np.testing.assert_array_equal(padded[before + shift : before + shift + n], shifted)


# ---------------------------------------------------------------------------------------------
# Reference equivalence: torch.nn.functional.conv2d (a correlation)
# ---------------------------------------------------------------------------------------------


def _torch(x):
    return torch.as_tensor(np.array(x, copy=True), dtype=torch.float64)[None, None]


def _conv2d(image, weight, padding):
    """conv2d of one 2D image with one 2D weight, after padding (left, right, top, bottom)."""
    x = F.pad(_torch(image), padding[0], mode=padding[1]) if padding else _torch(image)
    return F.conv2d(x, _torch(weight))[0, 0].numpy()


@FAST
@given(image_and_kernel(max_kernel=6))
def test_correlate_equals_torch_conv2d_zero_padding(pair):
    image, kernel = pair
    (kr, kc), (cr, cc) = kernel.shape, (kernel.shape[0] // 2, kernel.shape[1] // 2)
    widths = (cc, kc - 1 - cc, cr, kr - 1 - cr)  # even kernels need asymmetric padding
    expected = _conv2d(image, kernel, (widths, "constant"))
    np.testing.assert_allclose(correlate(image, kernel, mode="constant"), expected, atol=1e-10)
    if kr % 2 and kc % 2:  # odd: conv2d's own symmetric padding does it
        x = F.conv2d(_torch(image), _torch(kernel), padding=(cr, cc))[0, 0].numpy()
        np.testing.assert_allclose(correlate(image, kernel, mode="constant"), x, atol=1e-10)


@FAST
@given(image_and_kernel(max_kernel=6))
def test_convolve_equals_torch_conv2d_with_flipped_kernel(pair):
    image, kernel = pair
    flipped = kernel[::-1, ::-1]
    (kr, kc), (cr, cc) = kernel.shape, (kernel.shape[0] // 2, kernel.shape[1] // 2)
    widths = (kc - 1 - cc, cc, kr - 1 - cr, cr)  # the centre moves when an even kernel flips
    expected = _conv2d(image, flipped, (widths, "constant"))
    np.testing.assert_allclose(convolve(image, kernel, mode="constant"), expected, atol=1e-10)


@FAST
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from([("mirror", "reflect"), ("nearest", "replicate"), ("wrap", "circular")]),
)
def test_padding_modes_equal_torch_padding(seed, kr, kc, modes_pair):
    ours, theirs = modes_pair
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(9, 10)), rng.normal(size=(kr, kc))
    cr, cc = kr // 2, kc // 2
    expected = _conv2d(image, kernel, ((cc, kc - 1 - cc, cr, kr - 1 - cr), theirs))
    np.testing.assert_allclose(correlate(image, kernel, mode=ours), expected, atol=1e-10)


@FAST
@given(image_and_kernel(), modes)
def test_our_padding_then_valid_conv2d_equals_correlate(pair, mode):
    """torch has no half-sample 'reflect'; pad with ours, then conv2d without padding."""
    image, kernel = pair
    (kr, kc), (cr, cc) = kernel.shape, (kernel.shape[0] // 2, kernel.shape[1] // 2)
    padded = pad(image, [(cr, kr - 1 - cr), (cc, kc - 1 - cc)], mode=mode)
    expected = F.conv2d(_torch(padded), _torch(kernel))[0, 0].numpy()
    np.testing.assert_allclose(correlate(image, kernel, mode=mode), expected, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Correlation vs convolution
# ---------------------------------------------------------------------------------------------


def test_impulse_response():
    image = np.zeros((7, 7))
    image[3, 3] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(convolve(image, kernel)[2:5, 2:5], kernel)
    np.testing.assert_array_equal(correlate(image, kernel)[2:5, 2:5], kernel[::-1, ::-1])


@FAST
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 3, 5, 7]), st.sampled_from([1, 3, 5]), modes)
def test_convolution_is_correlation_with_flipped_kernel_for_odd_sizes(seed, kr, kc, mode):
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(11, 9)), rng.normal(size=(kr, kc))
    np.testing.assert_allclose(
        convolve(image, kernel, mode=mode),
        correlate(image, kernel[::-1, ::-1], mode=mode),
        atol=1e-10,
    )


def test_even_convolution_is_flipped_correlation_shifted_by_one():
    image, kernel = np.random.default_rng(2).normal(size=(12, 12)), np.ones((4, 4))
    kernel[0, 0] = 5.0
    shifted = correlate(image, kernel[::-1, ::-1], mode="wrap")  # convolve[i] = shifted[i + 1]
    np.testing.assert_allclose(
        convolve(image, kernel, mode="wrap"), np.roll(shifted, (-1, -1), axis=(0, 1)), atol=1e-12
    )


@pytest.mark.parametrize(
    "kernel",
    [gaussian_kernel(1.2), mean_kernel(5), laplacian_kernel(), log_kernel(1.0)],
    ids=["gaussian", "mean", "laplace", "log"],
)
def test_symmetric_kernels_same_either_way(kernel):
    image = np.random.default_rng(3).normal(size=(20, 17))
    np.testing.assert_allclose(convolve(image, kernel), correlate(image, kernel), atol=1e-12)


def test_sobel_convolution_and_correlation_have_opposite_signs():
    image = np.random.default_rng(4).normal(size=(20, 17))
    np.testing.assert_allclose(
        convolve(image, sobel_kernel(0)), -correlate(image, sobel_kernel(0)), atol=1e-12
    )


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@FAST
@given(image_and_kernel(), modes, st.integers(1, 6), st.integers(1, 6))
def test_identity_kernel_changes_nothing(pair, mode, kr, kc):
    image, _ = pair
    kernel = identity_kernel((kr, kc))
    assert kernel.sum() == 1.0
    np.testing.assert_array_equal(correlate(image, kernel, mode=mode), image)
    np.testing.assert_array_equal(convolve(image, kernel, mode=mode), image)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, (3, 6)])
@pytest.mark.parametrize("mode", MODES)
def test_mean_kernel_equals_uniform_filter(size, mode):
    image = np.random.default_rng(5).normal(size=(13, 11))
    np.testing.assert_allclose(
        correlate(image, mean_kernel(size), mode=mode),
        ndi.uniform_filter(image, size, mode=mode),
        atol=1e-12,
    )


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
@pytest.mark.parametrize("truncate", [2.0, 4.0])
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_kernel_equals_gaussian_filter(sigma, truncate, mode):
    image = np.random.default_rng(6).normal(size=(25, 21))
    kernel = gaussian_kernel(sigma, truncate=truncate)
    assert kernel.shape == (2 * int(truncate * sigma + 0.5) + 1,) * 2
    assert np.isclose(kernel.sum(), 1.0)
    expected = ndi.gaussian_filter(image, sigma, truncate=truncate, mode=mode)
    np.testing.assert_allclose(correlate(image, kernel, mode=mode), expected, atol=1e-12)


def test_gaussian_kernel_3d_equals_gaussian_filter():
    volume = np.random.default_rng(7).normal(size=(8, 12, 10))
    kernel = gaussian_kernel(0.8, ndim=3)
    np.testing.assert_allclose(
        correlate(volume, kernel), ndi.gaussian_filter(volume, 0.8), atol=1e-12
    )


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_derivative_kernels_equal_scipy(ndim, mode):
    image = np.random.default_rng(8).normal(size=(9, 10, 11)[:ndim])
    for axis in range(ndim):
        np.testing.assert_allclose(
            correlate(image, sobel_kernel(axis, ndim=ndim), mode=mode),
            ndi.sobel(image, axis, mode=mode),
            atol=1e-12,
        )
        np.testing.assert_allclose(
            correlate(image, prewitt_kernel(axis, ndim=ndim), mode=mode),
            ndi.prewitt(image, axis, mode=mode),
            atol=1e-12,
        )
    np.testing.assert_allclose(
        correlate(image, laplacian_kernel(ndim=ndim), mode=mode),
        ndi.laplace(image, mode=mode),
        atol=1e-12,
    )


def test_negative_axis_is_counted_from_the_end():
    np.testing.assert_array_equal(sobel_kernel(-1), sobel_kernel(1))


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.5])
@pytest.mark.parametrize("ndim", [2, 3])
def test_log_kernel_equals_gaussian_laplace(sigma, ndim):
    image = np.random.default_rng(9).normal(size=(14, 16, 15)[:ndim])
    expected = ndi.gaussian_laplace(image, sigma)
    np.testing.assert_allclose(correlate(image, log_kernel(sigma, ndim=ndim)), expected, atol=1e-12)


def test_log_responds_negatively_to_a_bright_blob():
    rows, cols = np.mgrid[:41, :41]
    blob = np.exp(-((rows - 20.0) ** 2 + (cols - 20.0) ** 2) / (2 * 3.0**2))
    response = correlate(blob, log_kernel(3.0))
    assert np.unravel_index(np.argmin(response), response.shape) == (20, 20)
    assert response.min() < 0


def test_kernels_that_sum_to_zero_ignore_flat_images():
    flat = np.full((12, 12), 7.0)
    for kernel in (sobel_kernel(0), prewitt_kernel(1), laplacian_kernel()):
        np.testing.assert_allclose(correlate(flat, kernel), 0.0, atol=1e-12)
    for kernel in (mean_kernel(3), gaussian_kernel(1.5), identity_kernel(4)):
        np.testing.assert_allclose(correlate(flat, kernel), 7.0, atol=1e-12)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_make_kernel(name):
    direct = {
        "identity": identity_kernel(5),
        "mean": mean_kernel(5),
        "gaussian": gaussian_kernel(1.5),
        "sobel": sobel_kernel(1),
        "prewitt": prewitt_kernel(1),
        "laplacian": laplacian_kernel(),
        "log": log_kernel(1.5),
    }[name]
    np.testing.assert_array_equal(make_kernel(name, sigma=1.5, size=5, axis=1), direct)


# ---------------------------------------------------------------------------------------------
# Combining filters
# ---------------------------------------------------------------------------------------------


@FAST
@given(
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
)
def test_combined_kernel_equals_two_steps_with_wrap(seed, shape_a, shape_b):
    rng = np.random.default_rng(seed)
    image, a, b = rng.normal(size=(16, 15)), rng.normal(size=shape_a), rng.normal(size=shape_b)
    two_steps = convolve(convolve(image, a, mode="wrap"), b, mode="wrap")
    one_step = convolve(image, combine_kernels(a, b), mode="wrap")
    np.testing.assert_allclose(one_step, two_steps, atol=1e-10)


@FAST
@given(
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
)
def test_combined_kernel_is_full_convolution(seed, shape_a, shape_b):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    full = scipy.signal.convolve(a, b, mode="full", method="direct")
    combined = combine_kernels(a, b)
    np.testing.assert_allclose(combined[: full.shape[0], : full.shape[1]], full, atol=1e-12)
    assert not combined[full.shape[0] :].any() and not combined[:, full.shape[1] :].any()


def test_gaussian_then_sobel_is_one_kernel_away_from_the_border():
    image = np.random.default_rng(10).normal(size=(40, 40))
    combined = combine_kernels(gaussian_kernel(1.0), sobel_kernel(0)[::-1, ::-1])
    two_steps = correlate(correlate(image, gaussian_kernel(1.0)), sobel_kernel(0))
    inner = (slice(8, -8),) * 2
    np.testing.assert_allclose(convolve(image, combined)[inner], two_steps[inner], atol=1e-12)


@pytest.mark.parametrize("kind", ["sobel", "prewitt"])
@pytest.mark.parametrize("mode", ["reflect", "nearest"])
def test_gradient_magnitude_equals_scipy(kind, mode):
    image = np.random.default_rng(11).normal(size=(6, 20, 18))
    derivative = ndi.sobel if kind == "sobel" else ndi.prewitt
    for im in (image[0], image):
        expected = ndi.generic_gradient_magnitude(im, derivative, mode=mode)
        np.testing.assert_allclose(
            gradient_magnitude(im, kind=kind, mode=mode), expected, atol=1e-12
        )


# ---------------------------------------------------------------------------------------------
# Learning a kernel
# ---------------------------------------------------------------------------------------------


def _pairs(hidden, *, n=3, shape=(32, 32), seed=0, mode="reflect", op=correlate):
    x = np.random.default_rng(seed).normal(size=(n, *shape))
    y = np.stack([op(image, hidden, mode=mode) for image in x])
    return x, y


@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_loss_gradient_equals_torch_autograd(loss, mode):
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(2, 12, 14)), rng.normal(size=(2, 12, 14))
    kernel = rng.normal(size=(3, 4))
    ours = loss_gradient(x, y, kernel, loss=loss, mode=mode)

    (kr, kc), (cr, cc) = kernel.shape, (kernel.shape[0] // 2, kernel.shape[1] // 2)
    padded = pad(x, [(0, 0), (cr, kr - 1 - cr), (cc, kc - 1 - cc)], mode=mode)
    w = torch.tensor(kernel[None, None], requires_grad=True)
    error = F.conv2d(torch.tensor(padded[:, None]), w) - torch.tensor(y[:, None])
    value = (error**2).mean() if loss == "mse" else error.abs().mean()
    value.backward()
    np.testing.assert_allclose(ours, w.grad[0, 0].numpy(), rtol=1e-10, atol=1e-12)


def test_mse_gradient_is_input_correlated_with_residual():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(15, 13)), rng.normal(size=(15, 13))
    kernel = rng.normal(size=(3, 3))
    residual = correlate(x, kernel, mode="wrap") - y
    padded = pad(x, 1, mode="wrap")
    expected = 2 / x.size * scipy.signal.correlate(padded, residual, mode="valid")
    np.testing.assert_allclose(loss_gradient(x, y, kernel, mode="wrap"), expected, atol=1e-12)


def test_mse_gradient_matches_finite_differences():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(10, 10)), rng.normal(size=(10, 10))
    kernel = rng.normal(size=(3, 3))

    def mse(k):
        return np.mean((correlate(x, k) - y) ** 2)

    numeric = np.zeros_like(kernel)
    for idx in np.ndindex(kernel.shape):
        step = np.zeros_like(kernel)
        step[idx] = 1e-6
        numeric[idx] = (mse(kernel + step) - mse(kernel - step)) / 2e-6
    np.testing.assert_allclose(loss_gradient(x, y, kernel), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("hidden", "size"),
    [
        (sobel_kernel(0), 3),
        (gaussian_kernel(1.0, truncate=2.0), 5),
        (np.arange(8.0).reshape(2, 4), (2, 4)),
    ],
    ids=["sobel", "gaussian5x5", "even2x4"],
)
def test_learn_kernel_recovers_hidden_kernel(hidden, size):
    x, y = _pairs(hidden)
    lr = 0.9 * critical_learning_rate(x, size=size)
    kernel, history = learn_kernel(x, y, size=size, lr=lr, steps=150, device="cpu")
    assert kernel.shape == hidden.shape
    np.testing.assert_allclose(kernel, hidden, atol=1e-3)
    assert len(history) == 150 and history[-1] < 1e-6 * history[0]


def test_targets_made_by_convolution_teach_the_flipped_kernel():
    hidden = sobel_kernel(1)
    x, y = _pairs(hidden, op=convolve)
    kernel, _ = learn_kernel(x, y, size=3, lr=0.5, steps=100, device="cpu")
    np.testing.assert_allclose(kernel, hidden[::-1, ::-1], atol=1e-3)


def test_critical_learning_rate_separates_convergence_from_divergence():
    x, y = _pairs(sobel_kernel(0))
    smooth = ndi.gaussian_filter(x, (0, 1, 1))  # correlated neighbours: a smaller critical lr
    smooth /= smooth.std()
    y_smooth = np.stack([correlate(im, sobel_kernel(0)) for im in smooth])
    for inputs, targets in ((x, y), (smooth, y_smooth)):
        critical = critical_learning_rate(inputs, size=3)
        _, below = learn_kernel(inputs, targets, size=3, lr=0.95 * critical, steps=300)
        _, above = learn_kernel(inputs, targets, size=3, lr=1.05 * critical, steps=300)
        assert below[-1] < below[0]
        assert above[-1] > 100 * above[0]
    assert critical_learning_rate(smooth, size=3) < 0.5 * critical_learning_rate(x, size=3)


def test_critical_learning_rate_from_the_explicit_design_matrix():
    x = np.random.default_rng(15).random((2, 6, 5))
    padded = pad(x, [(0, 0), (1, 1), (1, 1)], mode="nearest")
    rows = [
        padded[n, r : r + 3, c : c + 3].ravel()
        for n in range(2)
        for r in range(6)
        for c in range(5)
    ]
    design = np.array(rows)  # one row per output pixel, one column per kernel weight
    hessian = 2 * design.T @ design / len(rows)
    expected = 2 / np.linalg.eigvalsh(hessian).max()
    assert np.isclose(critical_learning_rate(x, size=3, mode="nearest"), expected, rtol=1e-10)


def test_diverging_run_stops_and_keeps_last_finite_kernel():
    x, y = _pairs(sobel_kernel(0))
    kernel, history = learn_kernel(x, y, size=3, lr=50.0, steps=1000, device="cpu")
    assert len(history) < 1000 and np.all(np.isfinite(history))
    assert np.all(np.isfinite(kernel))


def test_mae_is_robust_to_outliers_in_the_targets():
    hidden = sobel_kernel(0)
    x, y = _pairs(hidden, n=4)
    rng = np.random.default_rng(16)
    corrupted = y.copy()
    hit = rng.random(y.shape) < 0.02
    corrupted[hit] += rng.normal(scale=30.0, size=hit.sum())
    lr = 0.9 * critical_learning_rate(x, size=3)
    mse_kernel, _ = learn_kernel(x, corrupted, size=3, lr=lr, steps=300, loss="mse")
    # the MAE gradient keeps its size near the answer: a smaller fixed step bounces less
    mae_kernel, _ = learn_kernel(x, corrupted, size=3, lr=lr / 20, steps=300, loss="mae")
    mse_error = np.abs(mse_kernel - hidden).max()
    mae_error = np.abs(mae_kernel - hidden).max()
    assert mae_error < 0.03 < mse_error


def test_learn_kernel_accepts_a_single_pair_and_leaves_it_unchanged():
    x, y = _pairs(mean_kernel(3), n=1)
    x0, y0 = x[0].copy(), y[0].copy()
    kernel, _ = learn_kernel(x[0], y[0], size=3, lr=0.5, steps=100, device="cpu")
    np.testing.assert_allclose(kernel, mean_kernel(3), atol=1e-3)
    np.testing.assert_array_equal(x[0], x0)
    np.testing.assert_array_equal(y[0], y0)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_show_filter_draws_image_kernel_and_result(name):
    image = np.random.default_rng(17).random((24, 20))
    fig = show_filter(image, name, sigma=1.0, size=3, axis=1, mode="nearest")
    shown = fig.axes[2].images[0].get_array()
    expected = correlate(image, make_kernel(name, sigma=1.0, size=3, axis=1), mode="nearest")
    np.testing.assert_allclose(shown, expected)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), image)
    assert fig.axes[1].get_title().startswith(f"kernel: {name}")
    matplotlib.pyplot.close(fig)


def test_plot_kernel_annotates_small_kernels_only():
    assert len(plot_kernel(sobel_kernel(0)).texts) == 9
    assert len(plot_kernel(gaussian_kernel(2.0)).texts) == 0
    texts = [t.get_text() for t in plot_kernel(np.array([[1e-9, -0.48213], [2.1e16, 2.0]])).texts]
    assert texts == ["0", "-0.482", "2e+16", "2"]
    matplotlib.pyplot.close("all")


def test_show_filter_bank_one_panel_per_kernel_signed_ones_centred_on_white():
    image = np.random.default_rng(18).random((16, 16))
    bank = {"gauss": gaussian_kernel(1.0), "sobel": sobel_kernel(0), "log": log_kernel(1.0)}
    fig = show_filter_bank(image, bank, mode="wrap", ncols=2)
    used = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in used] == list(bank)
    for ax, kernel in zip(used, bank.values(), strict=True):
        np.testing.assert_allclose(ax.images[0].get_array(), correlate(image, kernel, mode="wrap"))
    low, high = used[1].images[0].get_clim()
    assert low == -high and used[1].images[0].get_cmap().name == "RdBu_r"
    assert used[0].images[0].get_cmap().name == "gray"
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="`kernels` must contain at least one kernel"):
        show_filter_bank(image, {})


def test_plot_kernel_with_a_colormap_uses_the_data_range():
    ax = plot_kernel(LECTURE_PATTERN, cmap="viridis")
    assert ax.images[0].get_clim() == (0.5, 1.0) and len(ax.texts) == 25
    matplotlib.pyplot.close("all")


def test_plot_loss_curves_draws_one_line_per_run():
    ax = plot_loss_curves({"a": [1.0, 0.5], "b": [1.0, 2.0, 4.0]})
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_error_messages():
    image = np.zeros((5, 5))
    with pytest.raises(ValueError, match=r"`image` must be a 1D or 2D or 3D array, got shape"):
        correlate(np.zeros((2, 2, 2, 2)), np.ones((1, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"`kernel` must have as many dimensions as `image` \(2\)"):
        convolve(image, np.ones(3))
    with pytest.raises(ValueError, match=r"`mode` must be one of 'constant', .*got 'symmetric'"):
        correlate(image, np.ones((3, 3)), mode="symmetric")
    with pytest.raises(ValueError, match=r"`kernel` must contain only finite values, got 1 NaN"):
        correlate(image, np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"`kernel` must not be empty"):
        correlate(image, np.ones((0, 3)))
    with pytest.raises(TypeError, match=r"`image` must be a numeric array, got dtype <U1"):
        correlate(np.array([["a"]]), np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"`image` must be a 2D array, got shape \(5,\)"):
        correlate_naive(np.zeros(5), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"`sigma` must be > 0, got 0"):
        gaussian_kernel(0)
    with pytest.raises(ValueError, match=r"`sigma` must be > 0, got -1"):
        log_kernel(-1)
    with pytest.raises(ValueError, match=r"`axis` must be an int in \[-2, 1\], got 2"):
        sobel_kernel(2)
    with pytest.raises(ValueError, match=r"`size` must be a positive int or 2 positive ints"):
        mean_kernel(0)
    with pytest.raises(ValueError, match=r"`size` must be a positive int or 2 positive ints"):
        identity_kernel(2.5)
    with pytest.raises(ValueError, match=r"`ndim` must be 1, 2 or 3, got 4"):
        laplacian_kernel(ndim=4)
    with pytest.raises(ValueError, match=r"`name` must be one of 'identity'"):
        make_kernel("gabor")
    with pytest.raises(ValueError, match=r"`first` and `second` must have the same number"):
        combine_kernels(np.ones(3), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"`kind` must be one of 'sobel', 'prewitt'"):
        gradient_magnitude(image, kind="canny")
    with pytest.raises(ValueError, match=r"`histories` must contain at least one loss curve"):
        plot_loss_curves({})


def test_learning_error_messages():
    x, y = np.zeros((2, 8, 8)), np.zeros((2, 8, 8))
    with pytest.raises(ValueError, match=r"`inputs` and `targets` must have the same shape"):
        learn_kernel(x, y[:1], lr=0.1)
    with pytest.raises(ValueError, match=r"`lr` must be > 0, got 0"):
        learn_kernel(x, y, lr=0)
    with pytest.raises(ValueError, match=r"`steps` must be a positive int, got 0"):
        learn_kernel(x, y, lr=0.1, steps=0)
    with pytest.raises(ValueError, match=r"`loss` must be one of 'mse', 'mae', got 'l2'"):
        learn_kernel(x, y, lr=0.1, loss="l2")
    with pytest.raises(ValueError, match=r"`inputs` must contain only finite values, got 1 NaN"):
        learn_kernel(np.where(np.arange(128).reshape(2, 8, 8) == 3, np.nan, 0.0), y, lr=0.1)
    with pytest.raises(ValueError, match=r"`targets` must be a 2D or 3D array"):
        loss_gradient(x, np.zeros(8), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"`device` must be 'cpu', 'cuda'"):
        learn_kernel(x, y, lr=0.1, device="tpu")
