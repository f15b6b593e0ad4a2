"""TIFF/OME-TIFF reading and writing: round trips, metadata, refusals that leave files untouched."""

import os

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from bioimage_course.io import ImageMetadata, read_tiff, write_tiff


@pytest.mark.parametrize(
    ("axes", "shape", "dtype"),
    [
        ("YX", (17, 23), np.uint8),
        ("CYX", (2, 16, 16), np.uint16),
        ("ZYX", (4, 8, 9), np.float32),
        ("TZCYX", (2, 3, 2, 8, 8), np.uint16),
        ("TYX", (5, 6, 7), np.int16),
    ],
)
def test_round_trip_pixels_and_axes(tmp_path, axes, shape, dtype):
    rng = np.random.default_rng(0)
    data = (rng.random(shape) * 200).astype(dtype)
    path = write_tiff(tmp_path / "x.ome.tif", data, axes=axes, pixel_size_um=0.325)
    image, meta = read_tiff(path)
    assert image.dtype == data.dtype
    np.testing.assert_array_equal(image, data)
    assert meta.axes == axes
    assert meta.pixel_size_um == pytest.approx(0.325)


@settings(max_examples=25, deadline=None)
@given(px=st.floats(0.01, 50), dz=st.floats(0.05, 20), dt=st.floats(0.01, 3600))
def test_round_trip_physical_sizes(tmp_path_factory, px, dz, dt):
    path = tmp_path_factory.mktemp("rt") / "stack.ome.tif"
    data = np.zeros((2, 3, 2, 4, 5), np.uint8)
    write_tiff(
        path,
        data,
        axes="TZCYX",
        pixel_size_um=px,
        z_step_um=dz,
        time_interval_s=dt,
        channel_names=("DAPI", "membrane"),
    )
    _, meta = read_tiff(path)
    assert meta == ImageMetadata(
        "TZCYX",
        pytest.approx(px, rel=1e-6),
        pytest.approx(dz, rel=1e-6),
        pytest.approx(dt, rel=1e-6),
        ("DAPI", "membrane"),
    )


def test_pixel_size_also_in_resolution_tags(tmp_path):
    path = write_tiff(
        tmp_path / "a.ome.tif", np.zeros((4, 4), np.uint8), axes="YX", pixel_size_um=0.5
    )
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        num, den = tags["XResolution"].value
        assert tags["ResolutionUnit"].value == 3  # centimetre
        assert 1e4 * den / num == pytest.approx(0.5)


def test_reads_imagej_and_plain_tiffs(tmp_path):
    data = np.arange(2 * 3 * 8 * 8, dtype=np.uint16).reshape(2, 3, 8, 8)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={"axes": "ZCYX", "spacing": 1.5, "unit": "um"},
    )
    image, meta = read_tiff(tmp_path / "ij.tif")
    np.testing.assert_array_equal(image, data)
    assert meta.axes == "ZCYX"
    assert meta.pixel_size_um == pytest.approx(0.2)
    assert meta.z_step_um == pytest.approx(1.5)
    tifffile.imwrite(tmp_path / "plain.tif", data[0, 0])
    image, meta = read_tiff(tmp_path / "plain.tif")
    assert meta == ImageMetadata("YX")


def test_refuses_to_overwrite_and_leaves_file_untouched(tmp_path):
    path = tmp_path / "keep.ome.tif"
    write_tiff(path, np.ones((4, 4), np.uint8), axes="YX")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_tiff(path, np.zeros((4, 4), np.uint8), axes="YX")
    assert path.read_bytes() == before
    write_tiff(path, np.zeros((4, 4), np.uint8), axes="YX", overwrite=True)
    assert read_tiff(path)[0].max() == 0


def test_failed_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "x.ome.tif"
    with pytest.raises(ValueError, match="one name per channel"):
        write_tiff(path, np.zeros((2, 4, 4), np.uint8), axes="CYX", channel_names=["a"])
    assert os.listdir(tmp_path) == []
    # an error inside the TIFF writer itself (complex numbers are not numeric here)
    with pytest.raises(TypeError, match="`data` must be a numeric array"):
        write_tiff(path, np.zeros((4, 4), complex), axes="YX")
    assert os.listdir(tmp_path) == []


def test_reading_missing_or_non_tiff_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_tiff(tmp_path / "missing.tif")
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="is not a TIFF file"):
        read_tiff(text)
    assert text.read_text() == "not an image"


@pytest.mark.parametrize(
    ("axes", "kwargs", "match"),
    [
        ("XY", {}, "must end with 'YX'"),
        ("ZYX", {}, "one letter per array dimension"),
        ("YY", {}, "at most once"),
        ("YX", {"pixel_size_um": 0}, "pixel_size_um` must be > 0"),
        ("YX", {"z_step_um": 1.0}, "needs a 'Z' axis"),
        ("YX", {"channel_names": ["a"]}, "'C' axis"),
    ],
)
def test_bad_arguments(tmp_path, axes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_tiff(tmp_path / "x.tif", np.zeros((4, 4), np.uint8), axes=axes, **kwargs)
