"""Bit depth, quantization and the display LUT, against written-out definitions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bioimage_course import pixels


def test_integer_ranges_match_numpy():
    for dtype in (np.uint8, np.uint16, np.int16, np.uint32):
        info = np.iinfo(dtype)
        assert pixels.integer_range(dtype) == (info.min, info.max)
    with pytest.raises(TypeError, match="integer dtype, got float32"):
        pixels.integer_range(np.float32)


@settings(max_examples=50, deadline=None)
@given(
    image=arrays(np.float64, (6, 7), elements=st.floats(-1e3, 1e3)),
    bits=st.integers(1, 16),
)
def test_quantize_is_nearest_level(image, bits):
    if np.ptp(image) == 0:
        return
    lo, hi = image.min(), image.max()
    q = pixels.quantize(image, bits)
    assert q.dtype == (np.uint8 if bits <= 8 else np.uint16)
    assert q.min() == 0 and q.max() == 2**bits - 1
    back = pixels.dequantize(q, bits, vmin=lo, vmax=hi)
    step = (hi - lo) / (2**bits - 1)
    assert np.all(np.abs(back - image) <= step / 2 + 1e-9 * max(1, abs(hi)))


def test_fewer_bits_fewer_levels_and_saturation():
    ramp = np.linspace(0, 1, 10_000)
    assert [len(np.unique(pixels.quantize(ramp, b))) for b in (1, 2, 4, 8)] == [2, 4, 16, 256]
    q = pixels.quantize(ramp, 8, vmin=0, vmax=0.5)  # half of the ramp is brighter than vmax
    assert pixels.saturated_fraction(q) == pytest.approx(0.5, abs=2e-3)


def test_lut_changes_display_not_data():
    image = np.array([[0, 100], [1000, 4095]], np.uint16)
    before = image.copy()
    shown = pixels.apply_lut(image, 0, 1000)
    np.testing.assert_allclose(shown, [[0, 0.1], [1, 1]])
    np.testing.assert_array_equal(image, before)
    np.testing.assert_allclose(pixels.apply_lut(image, 0, 1000, gamma=0.5), np.sqrt(shown))


def test_saturation_respects_detector_bit_depth():
    image = np.array([4095, 4095, 100, 65535], np.uint16)
    assert pixels.saturated_fraction(image, bits=12) == 0.75
    assert pixels.saturated_fraction(image) == 0.25
    with pytest.raises(TypeError, match="raw integer detector values"):
        pixels.saturated_fraction(image.astype(float))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bits": 0}, ValueError, r"`bits` must be an int in \[1, 16\], got 0"),
        ({"bits": 2.5}, TypeError, "`bits` must be an int, got 2.5"),
        ({"bits": 8, "vmin": 1, "vmax": 1}, ValueError, "greater than `vmin`"),
    ],
)
def test_quantize_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        pixels.quantize(np.arange(4.0), **kwargs)
    with pytest.raises(ValueError, match="finite"):
        pixels.quantize(np.array([0.0, np.nan]), 8)
