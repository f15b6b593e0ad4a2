"""Reading and writing microscopy images as TIFF/OME-TIFF, with axes and physical pixel size.

Introduced in notebook 01 (digital images). A microscopy image is more than its pixels: the
*metadata* say what each axis means (``"TZCYX"``: time, depth, channel, rows, columns) and how
large a pixel is in micrometres. Without the pixel size, no measurement can be given in um.

Files are written as OME-TIFF, the open format that Fiji/Bio-Formats, napari, QuPath and
OMERO read, with the pixel size also in the TIFF resolution tags for simpler readers.
Reading never modifies a file; writing refuses to replace a file unless ``overwrite=True`` and
goes through a temporary file, so an interrupted write never leaves a half-written image.

Examples
--------
>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "nuclei.ome.tif")
>>> _ = write_tiff(path, np.zeros((2, 32, 48), np.uint16), axes="CYX", pixel_size_um=0.65,
...                channel_names=["DAPI", "GFP"])
>>> image, meta = read_tiff(path)
>>> image.shape, meta.axes, meta.pixel_size_um, meta.channel_names
((2, 32, 48), 'CYX', 0.65, ('DAPI', 'GFP'))
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from ._validate import check_array, check_in_range

AXES = "TZCYXS"  # the axis letters of OME-TIFF (S: samples of an RGB pixel)


@dataclass(frozen=True)
class ImageMetadata:
    """What a microscopy file says about its pixels.

    Attributes
    ----------
    axes : str
        One letter per array axis, e.g. ``"YX"``, ``"CYX"``, ``"TZCYX"``.
    pixel_size_um : float or None
        Size of a pixel along X and Y in micrometres (square pixels), None when unknown.
    z_step_um : float or None
        Distance between z-slices in micrometres.
    time_interval_s : float or None
        Time between frames in seconds.
    channel_names : tuple of str or None
        One name per channel (``"DAPI"``, ``"GFP"``).
    """

    axes: str
    pixel_size_um: float | None = None
    z_step_um: float | None = None
    time_interval_s: float | None = None
    channel_names: tuple[str, ...] | None = None


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
    """Write ``data`` to an OME-TIFF file with its axes and physical sizes.

    Parameters
    ----------
    path : str or path-like
        Destination; ``.ome.tif`` is the conventional suffix.
    data : ndarray
        The image, any numeric dtype that TIFF stores (uint8, uint16, float32, ...).
    axes : str
        One letter per dimension of ``data``, ending in ``"YX"``, e.g. ``"ZCYX"``.
    pixel_size_um, z_step_um, time_interval_s : float, optional
        Physical sizes: pixel size in X and Y, z-step (um) and frame interval (s).
    channel_names : sequence of str, optional
        One name per channel; requires a ``"C"`` axis.
    overwrite : bool
        Replace an existing file. Without it an existing file raises ``FileExistsError``
        and is left untouched.

    Returns
    -------
    pathlib.Path
        The path written.
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
        if "C" not in axes:
            raise ValueError(f"`channel_names` needs a 'C' axis, got axes {axes!r}")
        n_channels = data.shape[axes.index("C")]
        if len(channel_names) != n_channels:
            raise ValueError(
                f"`channel_names` must have one name per channel ({n_channels}), "
                f"got {len(channel_names)}"
            )
        metadata["Channel"] = {"Name": [str(n) for n in channel_names]}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
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


def _ome_metadata(xml: str) -> dict:
    """Physical sizes and channel names from an OME-XML string."""
    root = ET.fromstring(xml)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    pixels = root.find(f"{ns}Image/{ns}Pixels")
    if pixels is None:
        return {}
    scale = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "m": 1e6}
    tscale = {"s": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0}
    out: dict = {}
    for key, attr in (("pixel_size_um", "PhysicalSizeX"), ("z_step_um", "PhysicalSizeZ")):
        if attr in pixels.attrib:
            unit = pixels.attrib.get(attr + "Unit", "µm")
            out[key] = float(pixels.attrib[attr]) * scale.get(unit, 1.0)
    if "TimeIncrement" in pixels.attrib:
        unit = pixels.attrib.get("TimeIncrementUnit", "s")
        out["time_interval_s"] = float(pixels.attrib["TimeIncrement"]) * tscale.get(unit, 1.0)
    names = [c.attrib.get("Name") for c in pixels.findall(f"{ns}Channel")]
    if names and all(names):
        out["channel_names"] = tuple(names)
    return out


def _resolution_um(page: tifffile.TiffPage) -> float | None:
    """Pixel size from the TIFF resolution tags (pixels per unit), if they carry a real unit."""
    tags = page.tags
    if "XResolution" not in tags or "ResolutionUnit" not in tags:
        return None
    unit = tags["ResolutionUnit"].value
    num, den = tags["XResolution"].value
    if num == 0:
        return None
    per_unit_um = {2: 25400.0, 3: 10000.0}.get(int(unit))  # inch, centimetre
    return None if per_unit_um is None else per_unit_um * den / num


def read_tiff(path: str | os.PathLike) -> tuple[np.ndarray, ImageMetadata]:
    """Read a TIFF, OME-TIFF or ImageJ TIFF and its metadata; the file is never modified.

    Parameters
    ----------
    path : str or path-like
        The file to read.

    Returns
    -------
    image : ndarray
        The pixels, in the file's dtype.
    metadata : ImageMetadata
        Axes, pixel size (um), z-step (um), frame interval (s) and channel names, where the
        file records them (None otherwise).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a TIFF file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} does not exist or is not a file")
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            image = series.asarray()
            axes = series.axes.upper().replace("Q", "").replace("I", "Z")
            info: dict = {}
            if tif.is_ome and tif.ome_metadata:
                info = _ome_metadata(tif.ome_metadata)
            elif tif.is_imagej and tif.imagej_metadata:
                ij = tif.imagej_metadata
                if "spacing" in ij and "Z" in axes:
                    info["z_step_um"] = float(ij["spacing"])
                if "finterval" in ij and "T" in axes:
                    info["time_interval_s"] = float(ij["finterval"])
                tag = tif.pages[0].tags.get("XResolution")
                if tag and tag.value[0] and ij.get("unit") in ("micron", "um", "µm", "\\u00B5m"):
                    num, den = tag.value  # pixels per unit, as a fraction
                    info["pixel_size_um"] = den / num
            if "pixel_size_um" not in info:
                px_um = _resolution_um(tif.pages[0])
                if px_um is not None:
                    info["pixel_size_um"] = px_um
    except tifffile.TiffFileError as err:
        raise ValueError(f"`path` {str(path)!r} is not a TIFF file ({err})") from None
    if len(axes) != image.ndim:  # unusual layouts: fall back to generic names
        axes = AXES[-image.ndim - 1 : -1] if image.ndim <= 5 else "Q" * image.ndim
    if "pixel_size_um" in info:
        info["pixel_size_um"] = float(np.round(info["pixel_size_um"], 9))
    return image, ImageMetadata(axes=axes, **info)
