"""TIFF/OME-TIFF reading and writing: round trips, metadata, refusals that leave files untouched."""

import os
import re
import stat
import warnings

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
        pytest.approx(px, rel=1e-6),  # square pixels: the same size along Y
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


# ---------------------------------------------------------------------------------------------
# Damaged files: an error naming the file and what is missing, never a different-looking image
# ---------------------------------------------------------------------------------------------
def two_channel_file(folder):
    data = np.arange(2 * 32 * 32, dtype=np.uint16).reshape(2, 32, 32)
    return write_tiff(folder / "two.ome.tif", data, axes="CYX", channel_names=["DAPI", "GFP"])


@pytest.mark.parametrize("cut", [10, 1500, 3000])
def test_truncated_ome_tiff_is_an_error_not_another_image(tmp_path, cut):
    # before: cutting 10 bytes read the two channels as a z-stack, 1500 bytes as one plane
    whole = two_channel_file(tmp_path).read_bytes()
    cut_file = tmp_path / "cut.ome.tif"
    cut_file.write_bytes(whole[:-cut])
    with pytest.raises(ValueError) as err:
        read_tiff(cut_file)
    message = str(err.value)
    assert message.startswith(f"`path` {str(cut_file)!r} is damaged or truncated: ")
    assert re.search(r"the ImageDescription tag of page 0 .* beyond the end of the file", message)
    assert cut_file.read_bytes() == whole[:-cut]  # reading never modifies


def test_truncated_bigtiff_and_multi_image_files(tmp_path):
    path = tmp_path / "big.ome.tif"
    data = np.zeros((2, 16, 16), np.uint16)
    tifffile.imwrite(path, data, bigtiff=True, ome=True, metadata={"axes": "CYX"})
    assert read_tiff(path)[0].shape == (2, 16, 16)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="damaged or truncated: the ImageDescription tag of page"):
        read_tiff(path)
    path = tmp_path / "two.ome.tif"  # two images: the pages of both are counted
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(np.zeros((3, 8, 8), np.uint8), photometric="minisblack", metadata={"axes": "ZYX"})
        tif.write(np.zeros((2, 4, 4), np.uint8), photometric="minisblack", metadata={"axes": "CYX"})
    assert read_tiff(path)[0].shape == (3, 8, 8)


def test_missing_pages_and_pixel_data_are_named(tmp_path):
    # a plain TIFF cut short: the second page's directory is gone
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((2, 64, 64), np.uint8), metadata=None)
    whole = path.read_bytes()
    path.write_bytes(whole[:-100])
    with pytest.raises(ValueError, match=r"damaged or truncated: the .* of page 1 .* beyond the"):
        read_tiff(path)
    # pixel data that would run past the end of the file
    path.write_bytes(whole)
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags["StripByteCounts"].overwrite(len(whole))
    with pytest.raises(ValueError, match=r"the pixel data of page 0 end at byte \d+, beyond the"):
        read_tiff(path)


def ome_xml(pixels_attributes="", *, size_c=1, size_z=1, planes=None, channel=""):
    """A minimal OME-XML description of a uint8 image of 4 rows and 5 columns."""
    channels = "".join(
        f'<Channel ID="Channel:0:{i}" SamplesPerPixel="1"{channel}/>' for i in range(size_c)
    )
    n = size_c * size_z if planes is None else planes
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" '
        f'SizeX="5" SizeY="4" SizeC="{size_c}" SizeZ="{size_z}" SizeT="1" {pixels_attributes}>'
        f'{channels}<TiffData IFD="0" PlaneCount="{n}"/></Pixels></Image></OME>'
    )


def write_ome(path, xml, n_pages=1, shape=(4, 5)):
    tifffile.imwrite(
        path, np.zeros((n_pages, *shape), np.uint8), description=xml.encode(), metadata=None
    )
    return path


def test_fewer_pages_than_the_ome_description_declares(tmp_path):
    # before: tifffile filled the missing third channel with zeros and said nothing
    path = write_ome(tmp_path / "short.ome.tif", ome_xml(size_c=3), n_pages=2)
    with pytest.raises(
        ValueError,
        match=rf"^`path` {re.escape(repr(str(path)))} is damaged or truncated: its OME "
        r"description declares 3 image planes but the file holds only 2 pages$",
    ):
        read_tiff(path)
    path = write_ome(tmp_path / "wide.ome.tif", ome_xml(), shape=(4, 6))
    with pytest.raises(ValueError, match=r"declares planes of 4 x 5 pixels but .* has 4 x 6"):
        read_tiff(path)


def test_malformed_ome_xml_is_an_error(tmp_path):
    path = write_ome(tmp_path / "bad.ome.tif", ome_xml()[:-20] + "<OME>")
    with pytest.raises(ValueError, match="OME metadata are not valid XML"):
        read_tiff(path)


# ---------------------------------------------------------------------------------------------
# OME units: every unit of length converted to um; nonsense refused
# ---------------------------------------------------------------------------------------------
INCH_M = 0.0254
# OME's UnitsLength enumeration with each unit's length in metres (from the unit definitions).
OME_LENGTHS_M = {
    "Ym": 1e24, "Zm": 1e21, "Em": 1e18, "Pm": 1e15, "Tm": 1e12, "Gm": 1e9, "Mm": 1e6,
    "km": 1e3, "hm": 1e2, "dam": 1e1, "m": 1.0, "dm": 1e-1, "cm": 1e-2, "mm": 1e-3,
    "\u00b5m": 1e-6, "nm": 1e-9, "pm": 1e-12, "fm": 1e-15, "am": 1e-18, "zm": 1e-21,
    "ym": 1e-24, "\u00c5": 1e-10, "thou": INCH_M / 1000, "li": INCH_M / 12, "in": INCH_M,
    "ft": 0.3048, "yd": 0.9144, "mi": 1609.344, "ua": 1.495978707e11,
    "ly": 9.4607304725808e15, "pc": 3.0856775814913673e16, "pt": INCH_M / 72,
}  # fmt: skip


@pytest.mark.parametrize(("unit", "metres"), sorted(OME_LENGTHS_M.items()))
def test_every_ome_length_unit_is_converted_to_um(tmp_path, unit, metres):
    # before: the unit was ignored unless it was um, nm, mm or m (5000 pm read as 5000 um)
    xml = ome_xml(
        f'PhysicalSizeX="2.5" PhysicalSizeXUnit="{unit}" '
        f'PhysicalSizeY="2.5" PhysicalSizeYUnit="{unit}" '
        f'PhysicalSizeZ="0.5" PhysicalSizeZUnit="{unit}"',
        size_z=2,
    )
    _, meta = read_tiff(write_ome(tmp_path / "u.ome.tif", xml, n_pages=2))
    assert meta.pixel_size_um == pytest.approx(2.5 * metres * 1e6, rel=1e-9)
    assert meta.pixel_size_y_um == meta.pixel_size_um
    assert meta.z_step_um == pytest.approx(0.5 * metres * 1e6, rel=1e-9)


@pytest.mark.parametrize(
    ("value", "unit", "expected_um"),
    [
        ("5000", "pm", 0.005),  # the examples that read wrongly before
        ("0.5", "cm", 5000.0),
        ("0.65", "\u03bcm", 0.65),  # Greek mu instead of the micro sign
        ("0.65", "um", 0.65),
        ("3", "\u212b", 3e-4),  # the angstrom sign, another spelling of the OME unit
    ],
)
def test_unit_spellings_and_the_examples_that_read_wrongly(tmp_path, value, unit, expected_um):
    xml = ome_xml(f'PhysicalSizeX="{value}" PhysicalSizeXUnit="{unit}"')
    _, meta = read_tiff(write_ome(tmp_path / "u.ome.tif", xml))
    assert meta.pixel_size_um == pytest.approx(expected_um, rel=1e-9)


@pytest.mark.parametrize("unit", ["pixel", "reference frame"])
def test_non_physical_units_read_as_unknown_with_a_warning(tmp_path, unit):
    # before: unit "pixel" read as 1 um
    xml = ome_xml(f'PhysicalSizeX="1" PhysicalSizeXUnit="{unit}"')
    path = write_ome(tmp_path / "p.ome.tif", xml)
    with pytest.warns(UserWarning, match=f"PhysicalSizeX is given in '{unit}', not a physical"):
        _, meta = read_tiff(path)
    assert meta.pixel_size_um is None


@pytest.mark.parametrize(
    ("attributes", "match"),
    [
        ('PhysicalSizeX="1" PhysicalSizeXUnit="furlong"', "PhysicalSizeXUnit must be an OME "
         "unit of length such as 'µm', 'nm', 'mm', got 'furlong'"),
        ('PhysicalSizeX="1" PhysicalSizeXUnit="s"', "PhysicalSizeXUnit must be an OME unit of "
         "length"),
        ('PhysicalSizeY="0.2" PhysicalSizeYUnit="kg"', "PhysicalSizeYUnit must be an OME unit"),
        ('PhysicalSizeX="0"', "PhysicalSizeX must be a finite number > 0, got '0'"),
        ('PhysicalSizeX="-0.5"', "PhysicalSizeX must be a finite number > 0, got '-0.5'"),
        ('PhysicalSizeX="NaN"', "PhysicalSizeX must be a finite number > 0, got 'NaN'"),
        ('PhysicalSizeX="INF"', "PhysicalSizeX must be a finite number > 0, got 'INF'"),
        ('PhysicalSizeX="wide"', "PhysicalSizeX must be a number, got 'wide'"),
        ('PhysicalSizeZ="0"', "PhysicalSizeZ must be a finite number > 0"),
        ('TimeIncrement="2" TimeIncrementUnit="fortnight"', "TimeIncrementUnit must be an OME "
         "unit of time, got 'fortnight'"),
    ],
)  # fmt: skip
def test_unknown_units_and_impossible_sizes_are_errors(tmp_path, attributes, match):
    path = write_ome(tmp_path / "bad.ome.tif", ome_xml(attributes))
    with pytest.raises(ValueError, match=re.escape(f"`path` {str(path)!r}: {match}")):
        read_tiff(path)


def test_time_units_are_converted_to_seconds(tmp_path):
    xml = ome_xml('TimeIncrement="250" TimeIncrementUnit="ms"')
    _, meta = read_tiff(write_ome(tmp_path / "t.ome.tif", xml))
    assert meta.time_interval_s == pytest.approx(0.25)


def test_pixel_size_y_is_read_and_non_square_pixels_are_announced(tmp_path):
    xml = ome_xml('PhysicalSizeX="0.5" PhysicalSizeY="0.6" PhysicalSizeYUnit="µm"')
    path = write_ome(tmp_path / "rect.ome.tif", xml)
    with pytest.warns(UserWarning, match=r"not square \(0\.6 um along Y, 0\.5 um along X\)"):
        _, meta = read_tiff(path)
    assert (meta.pixel_size_um, meta.pixel_size_y_um) == (0.5, 0.6)
    # square pixels: no warning
    write_tiff(tmp_path / "square.ome.tif", np.zeros((4, 4), np.uint8), axes="YX",
               pixel_size_um=0.5)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, meta = read_tiff(tmp_path / "square.ome.tif")
    assert (meta.pixel_size_um, meta.pixel_size_y_um) == (0.5, 0.5)


def test_imagej_units_are_converted(tmp_path):
    data = np.zeros((3, 8, 8), np.uint8)
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path, data, imagej=True, resolution=(1 / 200, 1 / 250),
        metadata={"axes": "ZYX", "spacing": 800, "unit": "nm"},
    )  # fmt: skip
    with pytest.warns(UserWarning, match="not square"):
        _, meta = read_tiff(path)
    assert meta.pixel_size_um == pytest.approx(0.2) and meta.pixel_size_y_um == pytest.approx(0.25)
    assert meta.z_step_um == pytest.approx(0.8)
    tifffile.imwrite(path, data, imagej=True, resolution=(2, 2),
                     metadata={"axes": "ZYX", "unit": "parsnip"})  # fmt: skip
    with pytest.warns(UserWarning, match="ImageJ unit 'parsnip' is not a known unit of length"):
        _, meta = read_tiff(path)
    assert meta.pixel_size_um is None


# ---------------------------------------------------------------------------------------------
# Channel names: a single string is not a list of names
# ---------------------------------------------------------------------------------------------
def test_a_single_string_is_not_a_list_of_channel_names(tmp_path):
    # before: "DAPI" became the four channels D, A, P, I
    data = np.zeros((4, 8, 8), np.uint8)
    with pytest.raises(TypeError, match="`channel_names` must be a list or tuple of strings "
                       "such as \\['DAPI', 'GFP'\\], got the string 'DAPI'"):  # fmt: skip
        write_tiff(tmp_path / "x.ome.tif", data, axes="CYX", channel_names="DAPI")
    with pytest.raises(TypeError, match="`channel_names` must contain only strings, got 3"):
        write_tiff(tmp_path / "x.ome.tif", data, axes="CYX", channel_names=["a", "b", "c", 3])
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Permissions: written files follow the umask, as files made by ordinary tools do
# ---------------------------------------------------------------------------------------------
def test_written_tiffs_honour_the_umask(tmp_path, umask):
    # before: 0600 whatever the umask (the temporary file's mode survived the rename)
    path = write_tiff(tmp_path / "x.ome.tif", np.zeros((4, 4), np.uint8), axes="YX")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    write_tiff(path, np.ones((4, 4), np.uint8), axes="YX", overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert read_tiff(path)[0].max() == 1
