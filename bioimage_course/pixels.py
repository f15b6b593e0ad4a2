"""Pixel values: data types, bit depth, quantization and the display lookup table (notebook 01).

A camera turns photons into integers; its *bit depth* says how many: 8 bits give 256 grey
levels, 12 bits 4096 (stored in ``uint16``), 16 bits 65536. Light brighter than the largest
level is *saturated*: recorded as that level, its real value lost. A screen then maps values
between two *contrast limits* to brightness (a LUT): that changes the picture, never the data.

>>> import numpy as np
>>> integer_range(np.uint8), integer_range(np.uint16), levels(12)
((0, 255), (0, 65535), 4096)
>>> quantize(np.array([0.0, 0.49, 0.51, 1.0]), bits=1)
array([0, 0, 1, 1], dtype=uint8)
"""

from __future__ import annotations

import numpy as np

from ._validate import check_array, check_in_range, check_int


def integer_range(dtype) -> tuple[int, int]:
    """The smallest and largest value an integer (or boolean) dtype can hold.

    >>> integer_range("int8")
    (-128, 127)
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return 0, 1
    if dtype.kind not in "iu":
        raise TypeError(f"`dtype` must be an integer dtype, got {dtype}")
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def levels(bits: int) -> int:
    """Number of distinct grey levels of a ``bits``-bit detector: ``2 ** bits``.

    >>> levels(8)
    256
    """
    check_int(bits, "bits", 1, 32)
    return 2 ** int(bits)


def quantize(
    image,
    bits: int,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """Map ``image`` linearly onto the ``2**bits`` levels (1 to 16 bits) of an ideal detector.

    ``vmin`` and below become 0, ``vmax`` and above ``2**bits - 1`` (saturation; defaults: the
    image's min and max); in between, each value is rounded to the nearest level.

    >>> quantize(np.linspace(0, 1, 5), bits=2)
    array([0, 1, 2, 2, 3], dtype=uint8)
    """
    image = check_array(image, "image", finite=True)
    check_int(bits, "bits", 1, 16)
    lo = float(image.min()) if vmin is None else float(vmin)
    hi = float(image.max()) if vmax is None else float(vmax)
    if not hi > lo:
        raise ValueError(f"`vmax` must be greater than `vmin`, got vmin={lo} and vmax={hi}")
    top = levels(bits) - 1
    scaled = (image.astype(np.float64) - lo) / (hi - lo) * top
    out = np.clip(np.rint(scaled), 0, top)
    return out.astype(np.uint8 if bits <= 8 else np.uint16)


def dequantize(levels_image, bits: int, *, vmin: float, vmax: float) -> np.ndarray:
    """The intensity each level stands for: the inverse of :func:`quantize` (up to rounding).

    >>> dequantize(np.array([0, 1, 3]), bits=2, vmin=0.0, vmax=1.0)
    array([0.        , 0.33333333, 1.        ])
    """
    levels_image = check_array(levels_image, "levels_image")
    top = levels(bits) - 1
    return vmin + levels_image.astype(np.float64) / top * (vmax - vmin)


def apply_lut(image, vmin: float, vmax: float, *, gamma: float = 1.0) -> np.ndarray:
    """What a display shows: values between the contrast limits mapped to brightness in [0, 1].

    Below ``vmin`` is black, above ``vmax`` white (display saturation); ``gamma`` < 1
    brightens dim values, > 1 darkens them. The input is not modified.

    Examples
    --------
    >>> apply_lut(np.array([0, 50, 100, 200]), vmin=0, vmax=100)
    array([0. , 0.5, 1. , 1. ])
    """
    image = check_array(image, "image", finite=True)
    if not vmax > vmin:
        raise ValueError(f"`vmax` must be greater than `vmin`, got vmin={vmin} and vmax={vmax}")
    gamma = check_in_range(gamma, "gamma", 0, low_inclusive=False)
    scaled = np.clip((image.astype(np.float64) - vmin) / (vmax - vmin), 0.0, 1.0)
    return scaled**gamma


def saturated_fraction(image, *, bits: int | None = None) -> float:
    """Fraction of pixels at the largest recordable value (saturated: true value unknown).

    ``bits`` when the detector has fewer than its dtype (a 12-bit camera in ``uint16``).

    >>> saturated_fraction(np.array([0, 4095, 4095, 12], np.uint16), bits=12)
    0.5
    """
    image = check_array(image, "image")
    if image.dtype.kind not in "iu":
        raise TypeError(f"`image` must hold raw integer detector values, got dtype {image.dtype}")
    top = integer_range(image.dtype)[1] if bits is None else levels(bits) - 1
    return float(np.mean(image >= top))
