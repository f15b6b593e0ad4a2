"""Reading and writing microscopy images as TIFF/OME-TIFF, with axes and physical pixel size.

Notebook 01. A microscopy image is more than its pixels: the *metadata* say what each axis
means (``"TZCYX"``: time, depth, channel, rows, columns) and how large a pixel is in
micrometres; without it, no measurement can be given in um. Files are written as OME-TIFF
(read by Fiji/Bio-Formats, napari, QuPath, OMERO), the pixel size also in the TIFF resolution
tags. Reading never modifies a file and refuses a truncated one; writing never replaces a
file unless asked and goes through a temporary file, so no half-written image is left.

>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "nuclei.ome.tif")
>>> _ = write_tiff(path, np.zeros((2, 32, 48), np.uint16), axes="CYX", pixel_size_um=0.65,
...                channel_names=["DAPI", "GFP"])
>>> image, meta = read_tiff(path)
>>> image.shape, meta.axes, meta.pixel_size_um, meta.channel_names
((2, 32, 48), 'CYX', 0.65, ('DAPI', 'GFP'))
"""

from __future__ import annotations

import math
import os
import struct
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from ._files import temporary_file
from ._validate import check_array, check_in_range, check_strings

AXES = "TZCYXS"  # the axis letters of OME-TIFF (S: samples of an RGB pixel)


@dataclass(frozen=True)
class ImageMetadata:
    """What a microscopy file says about its pixels; None where it does not say.

    ``axes`` has one letter per array axis (``"YX"``, ``"CYX"``, ``"TZCYX"``); ``pixel_size_um``
    is the size along X (columns), ``pixel_size_y_um`` along Y, which differs only for pixels
    that are not square; ``z_step_um`` and ``time_interval_s`` separate slices and frames.
    """

    axes: str
    pixel_size_um: float | None = None
    z_step_um: float | None = None
    time_interval_s: float | None = None
    channel_names: tuple[str, ...] | None = None
    pixel_size_y_um: float | None = None


def _check_axes(axes: str, shape: tuple[int, ...]) -> str:
    if not isinstance(axes, str):
        raise TypeError(f"`axes` must be a string such as 'ZCYX', got {type(axes).__name__}")
    axes = axes.upper()
    if len(axes) != len(shape):
        raise ValueError(
            f"`axes` must have one letter per array dimension: {len(shape)} for shape {shape}, "
            f"got {axes!r}"
        )
    bad = [a for a in axes if a not in AXES]
    if bad or len(set(axes)) != len(axes):
        raise ValueError(f"`axes` must use each of the letters {AXES!r} at most once, got {axes!r}")
    if not axes.endswith(("YX", "YXS")):
        raise ValueError(f"`axes` must end with 'YX' (rows, columns), got {axes!r}")
    return axes


def write_tiff(
    path: str | os.PathLike,
    data: np.ndarray,
    *,
    axes: str,
    pixel_size_um: float | None = None,
    z_step_um: float | None = None,
    time_interval_s: float | None = None,
    channel_names: list[str] | tuple[str, ...] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``data`` to an OME-TIFF file with its axes and physical sizes; returns the path.

    ``axes`` has one letter per dimension, ending in ``"YX"`` (``"ZCYX"``); ``channel_names``
    needs a ``"C"`` axis, ``z_step_um`` a ``"Z"``, ``time_interval_s`` a ``"T"``. An existing
    file raises ``FileExistsError`` and stays untouched unless ``overwrite``.
    """
    path = Path(path)
    data = check_array(data, "data", nonempty=True)
    axes = _check_axes(axes, data.shape)
    if path.exists() and not overwrite:
        raise FileExistsError(f"`path` {str(path)!r} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"`path`: folder {str(path.parent)!r} does not exist")
    metadata: dict = {"axes": axes}
    kwargs: dict = {}
    if pixel_size_um is not None:
        px = check_in_range(pixel_size_um, "pixel_size_um", 0, low_inclusive=False)
        metadata.update(
            PhysicalSizeX=px, PhysicalSizeXUnit="µm", PhysicalSizeY=px, PhysicalSizeYUnit="µm"
        )
        pixels_per_cm = 1e4 / px
        kwargs.update(resolution=(pixels_per_cm, pixels_per_cm), resolutionunit="CENTIMETER")
    if z_step_um is not None:
        if "Z" not in axes:
            raise ValueError(f"`z_step_um` needs a 'Z' axis, got axes {axes!r}")
        dz = check_in_range(z_step_um, "z_step_um", 0, low_inclusive=False)
        metadata.update(PhysicalSizeZ=dz, PhysicalSizeZUnit="µm")
    if time_interval_s is not None:
        if "T" not in axes:
            raise ValueError(f"`time_interval_s` needs a 'T' axis, got axes {axes!r}")
        dt = check_in_range(time_interval_s, "time_interval_s", 0, low_inclusive=False)
        metadata.update(TimeIncrement=dt, TimeIncrementUnit="s")
    if channel_names is not None:
        names = check_strings(channel_names, "channel_names", example="['DAPI', 'GFP']")
        if "C" not in axes:
            raise ValueError(f"`channel_names` needs a 'C' axis, got axes {axes!r}")
        n_channels = data.shape[axes.index("C")]
        if len(names) != n_channels:
            raise ValueError(
                f"`channel_names` must have one name per channel ({n_channels}), got {len(names)}"
            )
        metadata["Channel"] = {"Name": list(names)}
    tmp = temporary_file(path.parent, path.name)  # readable as the umask allows, like open()
    try:
        tifffile.imwrite(
            tmp,
            data,
            ome=True,
            photometric="minisblack" if "S" not in axes else "rgb",
            metadata=metadata,
            **kwargs,
        )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# ---------------------------------------------------------------------------------------------
# Physical units
# ---------------------------------------------------------------------------------------------
# Every unit of length that OME-XML allows (its UnitsLength enumeration), as micrometres per
# unit. Keys are in Unicode NFKC form, in which the micro sign becomes the Greek letter mu.
_SI_EXPONENTS = {
    "Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3, "h": 2, "da": 1,
    "": 0, "d": -1, "c": -2, "m": -3, "\u03bc": -6, "n": -9, "p": -12, "f": -15, "a": -18,
    "z": -21, "y": -24,
}  # fmt: skip
_INCH_UM = 25_400.0
_AU_UM = 149_597_870_700 * 1e6  # the astronomical unit, in um
LENGTH_UNITS_UM: dict[str, float] = {
    **{prefix + "m": 10.0 ** (exp + 6) for prefix, exp in _SI_EXPONENTS.items()},
    "um": 1.0,  # the common ASCII spelling of um
    "\u00c5": 1e-4,  # angstrom
    "thou": _INCH_UM / 1000,
    "li": _INCH_UM / 12,  # line
    "in": _INCH_UM,
    "ft": 12 * _INCH_UM,
    "yd": 36 * _INCH_UM,
    "mi": 63_360 * _INCH_UM,
    "pt": _INCH_UM / 72,  # typographic point
    "ua": _AU_UM,
    "ly": 9_460_730_472_580_800 * 1e6,  # light year (Julian year)
    "pc": 648_000 / math.pi * _AU_UM,  # parsec
}
# OME units of length that are not physical: a size in them says nothing about micrometres.
NON_PHYSICAL_UNITS = ("pixel", "reference frame", "referenceframe")  # the last: OMERO's spelling
# Every unit of time that OME-XML allows (UnitsTime), as seconds per unit.
TIME_UNITS_S: dict[str, float] = {
    **{prefix + "s": 10.0**exp for prefix, exp in _SI_EXPONENTS.items()},
    "us": 1e-6,
    "min": 60.0,
    "h": 3600.0,
    "d": 86_400.0,
}


def _unit_key(unit: str) -> str:
    return unicodedata.normalize("NFKC", unit).strip()


def _physical_size(
    attrib: dict, attr: str, units: dict[str, float], default_unit: str, where: str
) -> float | None:
    """The value of OME attribute ``attr`` converted with ``units``; None where it is absent.

    A non-physical unit (``pixel``) gives None with a warning. An unknown unit, or a size that
    is not a finite number > 0, is an error: guessing would give every measurement a wrong
    scale without anyone noticing.
    """
    if attr not in attrib:
        return None
    text = attrib[attr]
    unit = attrib.get(attr + "Unit", default_unit)
    if _unit_key(unit).lower() in NON_PHYSICAL_UNITS:
        warnings.warn(
            f"{where}: {attr} is given in {unit!r}, not a physical unit; it is read as unknown "
            "(None)",
            stacklevel=4,  # the caller of read_tiff
        )
        return None
    if _unit_key(unit) not in units:
        kind = "length such as 'µm', 'nm', 'mm'" if units is LENGTH_UNITS_UM else "time"
        raise ValueError(f"{where}: {attr}Unit must be an OME unit of {kind}, got {unit!r}")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {attr} must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {attr} must be a finite number > 0, got {text!r}")
    return value * units[_unit_key(unit)]


# ---------------------------------------------------------------------------------------------
# Is the file complete? (checked before trusting what tifffile reads)
# ---------------------------------------------------------------------------------------------
# Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ..., IFD8).
_TIFF_TYPE_SIZES = {
    1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4,
    16: 8, 17: 8, 18: 8,
}  # fmt: skip


def _directory_damage(path: Path) -> str | None:
    """What in the chain of image directories of a TIFF file lies beyond its end (None: nothing).

    A TIFF file is a header that points to the first image file directory (IFD, one per page);
    each directory lists the page's tags, whose longer values are stored elsewhere in the file,
    and points to the next directory. In a file cut short these pointers lead past the end.
    tifffile then skips what it cannot read and returns what is left, which can look like a
    different, valid image (two channels read as a z-stack), so the chain is checked first.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(16)
        order = {b"II": "<", b"MM": ">"}.get(header[:2])
        if order is None or len(header) < 8:
            return None  # not a TIFF at all: tifffile says so
        version = struct.unpack_from(order + "H", header, 2)[0]
        if version == 42:  # classic TIFF: 32-bit offsets
            count_fmt, entry_fmt, next_fmt, inline = "H", "HHII", "I", 4
            offset = struct.unpack_from(order + "I", header, 4)[0]
        elif version == 43 and len(header) == 16:  # BigTIFF: 64-bit offsets
            count_fmt, entry_fmt, next_fmt, inline = "Q", "HHQQ", "Q", 8
            offset = struct.unpack_from(order + "Q", header, 8)[0]
        else:
            return None
        count_size = struct.calcsize(count_fmt)
        entry_size = struct.calcsize(order + entry_fmt)
        next_size = struct.calcsize(next_fmt)
        seen: set[int] = set()
        page = 0
        while offset:  # ends: every offset is visited at most once
            if offset in seen:
                return f"the directory of page {page} points back to an earlier one"
            seen.add(offset)
            beyond = f"beyond the end of the file ({size} bytes)"
            if offset + count_size > size:
                return f"page {page} should start at byte {offset}, {beyond}"
            f.seek(offset)
            (n_tags,) = struct.unpack(order + count_fmt, f.read(count_size))
            table = f.read(n_tags * entry_size + next_size)
            if len(table) < n_tags * entry_size + next_size:
                return f"the directory of page {page} (at byte {offset}) runs {beyond}"
            for k in range(n_tags):
                code, kind, count, value = struct.unpack_from(
                    order + entry_fmt, table, k * entry_size
                )
                nbytes = count * _TIFF_TYPE_SIZES.get(kind, 1)
                if nbytes > inline and value + nbytes > size:
                    tag = tifffile.TIFF.TAGS.get(code, f"number {code}")
                    return (
                        f"the {tag} tag of page {page} is stored at bytes {value}-"
                        f"{value + nbytes}, {beyond}"
                    )
            (offset,) = struct.unpack_from(order + next_fmt, table, n_tags * entry_size)
            page += 1
    return None


def _pixel_data_damage(tif: tifffile.TiffFile, size: int) -> str | None:
    """Which page's pixel data lie beyond the end of the file (None: all are inside)."""
    for page, ifd in enumerate(tif.pages):
        for offset, count in zip(ifd.dataoffsets, ifd.databytecounts, strict=True):
            if offset + count > size:
                return (
                    f"the pixel data of page {page} end at byte {offset + count}, beyond the "
                    f"end of the file ({size} bytes)"
                )
    return None


# ---------------------------------------------------------------------------------------------
# OME-XML
# ---------------------------------------------------------------------------------------------
def _ome_pixels(xml: str, where: str) -> tuple[list[ET.Element], str]:
    """The ``Pixels`` element of every ``Image`` in an OME-XML string, and the namespace."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as err:
        raise ValueError(f"{where}: its OME metadata are not valid XML ({err})") from None
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    return [p for p in root.iterfind(f"{ns}Image/{ns}Pixels")], ns


def _ome_shape_problem(
    all_pixels: list[ET.Element], ns: str, tif: tifffile.TiffFile, file_name: str
) -> str | None:
    """How the pages of ``tif`` fall short of the shape its OME description declares."""
    planes = 0
    declared = []  # (rows, columns) of the planes of each image
    for pixels in all_pixels:
        for data in pixels.iterfind(f"{ns}TiffData"):
            uuid = data.find(f"{ns}UUID")
            if uuid is not None and uuid.attrib.get("FileName", file_name) != file_name:
                return None  # planes in other files: this file alone cannot be checked
        a = pixels.attrib
        channel = pixels.find(f"{ns}Channel")
        try:
            sizes = {k: int(a.get("Size" + k, 1)) for k in "XYCZT"}
            samples = int(channel.attrib.get("SamplesPerPixel", 1)) if channel is not None else 1
        except ValueError:
            return f"its OME sizes are not whole numbers: {dict(a)}"
        planes += sizes["Z"] * sizes["T"] * max(sizes["C"] // max(samples, 1), 1)
        declared.append((sizes["Y"], sizes["X"]))
    n_pages = len(tif.pages)
    if n_pages < planes:
        return (
            f"its OME description declares {planes} image planes but the file holds only "
            f"{n_pages} page{'s' if n_pages != 1 else ''}"
        )
    page = tif.pages.first
    if (page.imagelength, page.imagewidth) != declared[0]:
        return (
            f"its OME description declares planes of {declared[0][0]} x {declared[0][1]} pixels "
            f"but the first page has {page.imagelength} x {page.imagewidth}"
        )
    return None


def _ome_metadata(pixels: ET.Element, ns: str, where: str) -> dict:
    """Physical sizes (converted to um and s) and channel names of one OME ``Pixels`` element."""
    a = pixels.attrib
    sizes = (
        ("pixel_size_um", "PhysicalSizeX", LENGTH_UNITS_UM, "µm"),
        ("pixel_size_y_um", "PhysicalSizeY", LENGTH_UNITS_UM, "µm"),
        ("z_step_um", "PhysicalSizeZ", LENGTH_UNITS_UM, "µm"),
        ("time_interval_s", "TimeIncrement", TIME_UNITS_S, "s"),
    )
    out: dict = {}  # a key is present when the file records the size (None: not physical)
    for key, attr, units, default_unit in sizes:
        if attr in a:
            out[key] = _physical_size(a, attr, units, default_unit, where)
    names = [c.attrib.get("Name") for c in pixels.iterfind(f"{ns}Channel")]
    if names and all(names):
        out["channel_names"] = tuple(names)
    return out


# ---------------------------------------------------------------------------------------------
# TIFF resolution tags and ImageJ metadata
# ---------------------------------------------------------------------------------------------
def _resolution_um(page: tifffile.TiffPage, tag: str) -> float | None:
    """Pixel size from a TIFF resolution tag (pixels per unit), if it carries a real unit."""
    tags = page.tags
    if tag not in tags or "ResolutionUnit" not in tags:
        return None
    num, den = tags[tag].value
    per_unit_um = {2: _INCH_UM, 3: 10_000.0}.get(int(tags["ResolutionUnit"].value))
    if num == 0 or den == 0 or per_unit_um is None:
        return None
    return per_unit_um * den / num


def _imagej_metadata(tif: tifffile.TiffFile, axes: str, where: str) -> dict:
    """Sizes from ImageJ's metadata, whose ``unit`` applies to pixel size and z-spacing."""
    ij = tif.imagej_metadata
    out: dict = {}
    if "finterval" in ij and "T" in axes:
        out["time_interval_s"] = float(ij["finterval"])
    unit = str(ij.get("unit", "pixel"))
    key = {"micron": "um", "microns": "um", "inch": "in", "\\u00B5m": "um"}.get(unit, unit)
    if _unit_key(key).lower() in ("pixel", "pixels"):  # ImageJ's word for "not calibrated"
        return out
    if _unit_key(key) not in LENGTH_UNITS_UM:
        warnings.warn(
            f"{where}: its ImageJ unit {unit!r} is not a known unit of length; the pixel size "
            "is read as unknown (None)",
            stacklevel=3,
        )
        return out
    scale = LENGTH_UNITS_UM[_unit_key(key)]
    if "spacing" in ij and "Z" in axes:
        out["z_step_um"] = float(ij["spacing"]) * scale
    page = tif.pages.first
    for key, tag in (("pixel_size_um", "XResolution"), ("pixel_size_y_um", "YResolution")):
        value = page.tags.get(tag)
        if value is not None and value.value[0] and value.value[1]:
            num, den = value.value  # pixels per unit, as a fraction
            out[key] = den / num * scale
    return out


def read_tiff(path: str | os.PathLike) -> tuple[np.ndarray, ImageMetadata]:
    """Read a TIFF, OME-TIFF or ImageJ TIFF and its metadata; the file is never modified.

    Returns the pixels in the file's dtype and an :class:`ImageMetadata`. OME sizes in any unit
    of length are converted to um; a size in ``pixel`` units is read as unknown, and pixels that
    are not square are read, each with a warning. ``ValueError`` for a file that is not a TIFF, is
    damaged or truncated (beyond its end, fewer pages than its OME description declares), or
    records a size in an unknown unit or not > 0.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} does not exist or is not a file")
    where = f"`path` {str(path)!r}"
    damage = _directory_damage(path)
    if damage is not None:
        raise ValueError(f"{where} is damaged or truncated: {damage}")
    try:
        with tifffile.TiffFile(path) as tif:
            damage = _pixel_data_damage(tif, path.stat().st_size)
            info: dict = {}
            series = tif.series[0]
            axes = series.axes.upper().replace("Q", "").replace("I", "Z")
            if tif.is_ome and tif.ome_metadata:
                all_pixels, ns = _ome_pixels(tif.ome_metadata, where)
                if all_pixels:
                    damage = damage or _ome_shape_problem(all_pixels, ns, tif, path.name)
                    if damage is None:
                        info = _ome_metadata(all_pixels[0], ns, where)
            elif tif.is_imagej and tif.imagej_metadata:
                info = _imagej_metadata(tif, axes, where)
            if damage is not None:
                raise ValueError(f"{where} is damaged or truncated: {damage}")
            if "pixel_size_um" not in info:
                info["pixel_size_um"] = _resolution_um(tif.pages.first, "XResolution")
                info["pixel_size_y_um"] = _resolution_um(tif.pages.first, "YResolution")
            image = series.asarray()
    except tifffile.TiffFileError as err:
        raise ValueError(f"{where} is not a TIFF file ({err})") from None
    if len(axes) != image.ndim:  # unusual layouts: fall back to generic names
        axes = AXES[-image.ndim - 1 : -1] if image.ndim <= 5 else "Q" * image.ndim
    for key in ("pixel_size_um", "pixel_size_y_um"):
        if info.get(key) is not None:  # 9 significant digits: 0.65, not 0.6499999999 (a ratio)
            info[key] = float(f"{info[key]:.9g}")
    px, py = info.get("pixel_size_um"), info.get("pixel_size_y_um")
    if px is not None and py is not None and not math.isclose(px, py, rel_tol=1e-6):
        warnings.warn(
            f"{where}: its pixels are not square ({py} um along Y, {px} um along X); "
            "metadata.pixel_size_um is the size along X, pixel_size_y_um along Y",
            stacklevel=2,
        )
    return image, ImageMetadata(axes=axes, **info)
