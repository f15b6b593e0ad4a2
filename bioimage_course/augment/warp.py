"""Geometry on coordinates: where each output pixel reads the input, and the reading itself.

Notebook 04. Rotation, zoom, shear, translation and an elastic deformation all become one
coordinate map (:func:`warp_coordinates`); the image is interpolated once along it
(:func:`resample`), the labels by nearest neighbour (:func:`resample_labels`), so no label
value is ever invented. :func:`valid_box` is the region computed from real pixels only.

>>> import numpy as np
>>> coords = warp_coordinates((4, 4), rotation_deg=90)
>>> resample_labels(np.arange(16).reshape(4, 4), coords)[0]  # the last column, upwards
array([ 3,  7, 11, 15])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .._validate import as_rng, check_array, check_choice, check_in_range, check_labels
from .base import from_planes, restore_dtype, to_planes, work_dtype

BORDER_MODES = {"reflect": "reflect", "constant": "grid-constant", "nearest": "nearest"}


TORCH_PADDING = {"reflect": "reflection", "constant": "zeros", "nearest": "border"}


# Coordinate maps: the heart of every geometric transform


def inverse_affine(rotation_deg: float, zoom: float, shear_deg: float) -> np.ndarray:
    """2x2 matrix mapping output (row, col) offsets to input offsets.

    The forward transform zooms, shears the columns in proportion to the row, then rotates
    counter-clockwise as displayed (``R @ S @ zoom``); sampling needs its inverse, written out so
    that zero parameters give exactly the identity.
    """
    a = math.radians(rotation_deg)
    # Rounded so that multiples of 90 degrees give exact zeros and ones.
    cos, sin, tan = (
        round(v, 12) for v in (math.cos(a), math.sin(a), math.tan(math.radians(shear_deg)))
    )
    r_inv = np.array([[cos, sin], [-sin, cos]])
    s_inv = np.array([[1.0, 0.0], [-tan, 1.0]])
    return (s_inv @ r_inv) / zoom


def _linear_upsampling(n: int, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Linear interpolation from a grid of spacing ``step`` to the positions 0..n-1.

    Returns ``(lower, upper, frac, k)``: ``x`` lies between coarse points ``lower`` and ``upper``
    at fraction ``frac``; ``k`` is the number of coarse points.
    """
    k = math.ceil((n - 1) / step) + 1 if n > 1 else 1
    u = np.arange(n) / step
    lower = np.minimum(np.floor(u).astype(np.int64), k - 1)
    upper = np.minimum(lower + 1, k - 1)
    return lower, upper, (u - lower).astype(np.float32), k


def _elastic_step(smoothness_px: float) -> float:
    # The coarse grid samples the smooth field four times per smoothness length: linear
    # interpolation between its points then differs from the full-resolution field by < 1 %.
    return max(smoothness_px / 4.0, 1.0)


def _gaussian_noise_std(sigma: float) -> float:
    """Standard deviation of unit white noise after scipy's Gaussian filter (per axis factor)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    return float(np.sqrt((kernel**2).sum()))


def draw_coarse_field(
    shape: tuple[int, int], magnitude_px: float, smoothness_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Random smooth displacement field on a coarse grid, shape ``(2, k_rows, k_cols)``."""
    step = _elastic_step(smoothness_px)
    coarse_shape = tuple(_linear_upsampling(n, step)[3] for n in shape)
    sigma = smoothness_px / step
    noise = rng.standard_normal((2,) + coarse_shape)
    smooth = ndi.gaussian_filter(noise, (0, sigma, sigma), mode="reflect")
    # Scale so that each component has standard deviation `magnitude_px`.
    smooth *= magnitude_px / _gaussian_noise_std(sigma) ** 2
    return smooth.astype(np.float32)


def upsample_field(
    coarse: Any, shape: tuple[int, int], smoothness_px: float, to_array: Any = np.asarray
) -> Any:
    """Interpolate a coarse ``(2, k_rows, k_cols)`` field to ``(2, *shape)``: cols, then rows.

    Numpy arrays, or torch tensors with ``to_array`` making tensors on their device.
    """
    step = _elastic_step(smoothness_px)
    lower, upper, frac = (to_array(a) for a in _linear_upsampling(shape[1], step)[:3])
    field = coarse[:, :, lower] * (1 - frac) + coarse[:, :, upper] * frac  # (2, k_rows, cols)
    lower, upper, frac = (to_array(a) for a in _linear_upsampling(shape[0], step)[:3])
    frac = frac[:, None]
    return field[:, lower] * (1 - frac) + field[:, upper] * frac


def elastic_field(
    shape: Sequence[int],
    magnitude_px: float,
    smoothness_px: float,
    *,
    rng: Any = None,
) -> np.ndarray:
    """A random, smooth displacement field ``(2, rows, cols)`` for elastic deformation (float32).

    White noise smoothed with a Gaussian of ``smoothness_px`` (the correlation length), scaled so
    each component has standard deviation ``magnitude_px`` (unlike Simard et al.'s ``alpha``,
    independent of the smoothness). Being smooth, it is drawn on a grid four times coarser than
    ``smoothness_px`` and interpolated linearly: many times faster, statistically the same.

    >>> field = elastic_field((256, 256), 4.0, 16.0, rng=0)
    >>> field.shape
    (2, 256, 256)
    >>> 2.0 < float(field.std()) < 6.0
    True
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 2:
        raise ValueError(f"`shape` must be (rows, cols), got {shape}")
    magnitude_px = check_in_range(magnitude_px, "magnitude_px", 0)
    smoothness_px = check_in_range(smoothness_px, "smoothness_px", 0, low_inclusive=False)
    coarse = draw_coarse_field(shape, magnitude_px, smoothness_px, as_rng(rng))
    return upsample_field(coarse, shape, smoothness_px)


def affine_coordinates(
    shape, out_shape, rotation_deg, translation_px, zoom, shear_deg, to_array=np.asarray
) -> Any:
    """Affine part of :func:`warp_coordinates`, float32 of shape ``(2, *out_shape)``.

    ``M (y - c_out - t) + c_in`` is a term along the output rows plus one along the columns;
    their full-size sum is made where ``to_array`` puts them (torch tensors on a device).
    """
    matrix = inverse_affine(rotation_deg, zoom, shear_deg)
    rows = np.arange(out_shape[0]) - (out_shape[0] - 1) / 2 - translation_px[0]
    cols = np.arange(out_shape[1]) - (out_shape[1] - 1) / 2 - translation_px[1]
    c_in = np.array([(shape[0] - 1) / 2, (shape[1] - 1) / 2])
    from_rows = (matrix[:, :1] * rows).astype(np.float32)  # (2, out_rows)
    from_cols = (matrix[:, 1:] * cols + c_in[:, None]).astype(np.float32)  # (2, out_cols)
    return to_array(from_rows)[:, :, None] + to_array(from_cols)[:, None, :]


def warp_coordinates(
    shape: Sequence[int],
    *,
    rotation_deg: float = 0.0,
    translation_px: Sequence[float] = (0.0, 0.0),
    zoom: float = 1.0,
    shear_deg: float = 0.0,
    displacement: np.ndarray | None = None,
    output_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """Input coordinates that every output pixel samples, for a rotation/zoom/shear/shift + field.

    ``coords[:, r, c]`` is the (row, col) in the input that output pixel (r, c) reads. Warping
    runs "backwards" (for each output pixel, where does it come from?), which leaves no holes:
    the inverse ``M (y - c_out - t) + c_in`` of the forward ``R S Z (x - c_in) + c_out + t``, plus
    ``displacement`` (:func:`elastic_field`). Rotation is counter-clockwise as displayed, about
    the centre; ``zoom=2`` makes objects twice as large; ``output_shape`` defaults to ``shape``.

    >>> coords = warp_coordinates((3, 3), rotation_deg=90)
    >>> coords[:, 0, 0]  # the top-left output pixel comes from the top-right input pixel
    array([0., 2.], dtype=float32)
    """
    shape = tuple(int(n) for n in shape)
    out_shape = shape if output_shape is None else tuple(int(n) for n in output_shape)
    coords = affine_coordinates(shape, out_shape, rotation_deg, translation_px, zoom, shear_deg)
    if displacement is not None:
        if displacement.shape != (2,) + out_shape:
            raise ValueError(
                f"`displacement` must have shape {(2,) + out_shape}, got {displacement.shape}"
            )
        coords += displacement
    return coords


def resample(
    image: Any,
    coords: np.ndarray,
    *,
    order: int = 1,
    mode: str = "reflect",
    channel_axis: int | None = None,
) -> np.ndarray:
    """Interpolate ``image`` at ``coords`` (in its (row, col) plane): the image half of a warp.

    ``order`` 0 nearest, 1 linear, 3 cubic; ``mode`` fills outside the image by mirroring about
    the pixel edge (as ``grid_sample`` with ``align_corners=False``, so the torch path agrees),
    with 0, or with the border pixel. Integer images need ``order=0``: interpolating them
    invents values (for labels, ids that never existed; use :func:`resample_labels`).

    >>> import numpy as np
    >>> image = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> resample(image, np.array([[[0.5]], [[0.5]]]))  # between all four pixels
    array([[1.5]])
    """
    image = check_array(image, "image", ndim=range(2, 6), finite=True)
    check_choice(order, "order", (0, 1, 3))
    check_choice(mode, "mode", tuple(BORDER_MODES))
    if order > 0 and image.dtype.kind in "iub":
        raise ValueError(
            f"`image` must be a float array for order={order}, got dtype {image.dtype}: "
            "interpolating integers invents values (for labels, ids that never existed); "
            "use resample_labels for a label image, or convert an intensity image to float"
        )
    planes, lead = to_planes(image, channel_axis)
    work = work_dtype(image.dtype)
    out = np.empty((planes.shape[0],) + coords.shape[1:], dtype=work)
    for i, plane in enumerate(planes):
        ndi.map_coordinates(
            plane.astype(work, copy=False),
            coords,
            output=out[i],
            order=order,
            mode=BORDER_MODES[mode],
            prefilter=order > 1,
        )
    return restore_dtype(from_planes(out, lead, channel_axis), image.dtype)


def resample_labels(labels: Any, coords: np.ndarray) -> np.ndarray:
    """Nearest-neighbour lookup of ``labels`` at ``coords``; 0 (background) outside.

    Rounding copies a label, it never mixes two: no new id can appear. A pixel covers the unit
    square around its centre, so coordinates up to half a pixel outside still see it.

    >>> import numpy as np
    >>> labels = np.array([[1, 2], [3, 4]])
    >>> resample_labels(labels, np.array([[[0.4, 0.6, 5.0]], [[0.6, 0.4, 0.0]]]))
    array([[2, 3, 0]])
    """
    labels = check_labels(labels, "labels", ndim=(2, 3))
    rows, cols = labels.shape[-2:]
    r = np.rint(coords[0]).astype(np.int32)
    c = np.rint(coords[1]).astype(np.int32)
    outside = (r < 0) | (r >= rows) | (c < 0) | (c >= cols)
    flat = r * cols + c
    flat[outside] = 0
    planes = labels.reshape((-1, rows * cols))
    out = np.stack([plane.take(flat) for plane in planes])
    out[:, outside] = 0
    return out.reshape(labels.shape[:-2] + coords.shape[1:])


def valid_box(coords: np.ndarray, shape: Sequence[int]) -> tuple[slice, slice]:
    """The largest centred box of the output (same aspect ratio) read from real pixels only.

    >>> box = valid_box(warp_coordinates((100, 100), rotation_deg=45), (100, 100))
    >>> [s.stop - s.start for s in box]  # a 45-degree turn leaves the central 1/sqrt(2)
    [70, 70]
    """
    rows, cols = coords.shape[1:]
    inside = (coords[0] >= 0) & (coords[0] <= shape[0] - 1)
    inside &= (coords[1] >= 0) & (coords[1] <= shape[1] - 1)
    if inside.all():
        return slice(0, rows), slice(0, cols)
    # Distance of each output pixel from the centre in units of the half-size (box "radius").
    dr = np.abs(np.arange(rows) - (rows - 1) / 2) / (rows / 2)
    dc = np.abs(np.arange(cols) - (cols - 1) / 2) / (cols / 2)
    radius = np.maximum(dr[:, None], dc[None, :])
    limit = radius[~inside].min()  # every pixel strictly closer to the centre is valid
    keep_r = np.flatnonzero(dr < limit)
    keep_c = np.flatnonzero(dc < limit)
    if keep_r.size == 0 or keep_c.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(int(keep_r[0]), int(keep_r[-1]) + 1), slice(int(keep_c[0]), int(keep_c[-1]) + 1)
