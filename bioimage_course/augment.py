"""Data augmentation of (image, labels) pairs: geometry applied to both, intensity to the image.

Introduced in notebook 04 (augmentation).

Two rules from microscopy guide the design:

1. **The ground truth is transformed exactly like the image.** Every geometric transform draws
   its parameters once and applies them to both arrays. Images are interpolated (linear or
   cubic); labels only ever use nearest neighbour, so no new label value can appear and
   instance ids stay the ones given (bilinear interpolation of labels would invent ids on the
   border between two objects).
2. **The meaning of the data is preserved.** Flips, rotations, small zooms, shear, elastic
   deformation, noise, blur and contrast changes all produce images a microscope could have
   recorded; intensity transforms never touch the labels.

Every transform is a callable ``t(image, labels=None, *, rng=None, channel_axis=None)`` that
returns ``(image, labels)`` (``labels`` is None when none were given) and never modifies its
inputs. Randomness comes only from ``rng`` (None, an int or a ``numpy.random.Generator``): a
seeded pipeline is reproducible, and DataLoader workers with different generators differ.
Each transform is applied with probability ``p`` (default 1); internally it first *draws*
its parameters (:meth:`Transform.draw`) and then *applies* them (:meth:`Transform.apply`).

Geometric transforms
    :class:`RandomFlip`, :class:`RandomRot90` (exact, no interpolation) and :class:`RandomWarp`
    (rotation, translation, zoom, shear and elastic deformation combined into *one* coordinate
    map, so the image is interpolated only once). :class:`RandomAffine` and
    :class:`RandomElastic` are :class:`RandomWarp` with only those parameters.
Intensity transforms (image only)
    :class:`GaussianNoise`, :class:`PoissonNoise`, :class:`BrightnessContrast`,
    :class:`RandomGamma`, :class:`GaussianBlur`, :class:`CutOut`.
Composition and patches
    :class:`Compose` chains transforms; :func:`augmented_patch` augments a region with a margin
    and crops the patch afterwards, so that borders created by rotations never reach the patch.
On the GPU
    :meth:`RandomWarp.batch_torch` applies the same warps to a batch of tensors on any device
    with ``torch.nn.functional.grid_sample``.

Conventions
-----------
- Axes are (row, col) for 2D images, (plane, row, col) for 3D stacks, plus an optional
  ``channel_axis``. Geometric warps, rotations and blur act in the (row, col) plane and
  identically on every plane of a stack (microscopy stacks are usually sampled more coarsely
  in z); flips may also flip z.
- Borders: where a warp looks outside the image, images are *reflected* (no black corners that
  a network could learn to expect) and labels are *background* (0): a reflected copy of an
  object would carry the same instance id twice. Reflected image content without labels is
  itself an artifact; ``crop_to_valid=True`` crops the output to the region computed from real
  pixels only, and :func:`augmented_patch` avoids the problem for training patches.
- dtypes are preserved. Integer images are rounded and clipped to their dtype's range after
  interpolation or intensity changes; use float images (e.g. after
  :func:`bioimage_course.normalize.normalize_percentile`) to avoid clipping.

Examples
--------
>>> import numpy as np
>>> image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
>>> labels = np.zeros((64, 64), dtype=np.int32)
>>> labels[10:30, 20:40] = 7
>>> pipeline = Compose([RandomFlip(), RandomWarp(rotation_deg=180, elastic_magnitude_px=3),
...                     GaussianNoise(std=0.05)])
>>> aug_image, aug_labels = pipeline(image, labels, rng=0)
>>> aug_image.shape, aug_image.dtype, set(np.unique(aug_labels)) <= {0, 7}
((64, 64), dtype('float32'), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from ._validate import as_rng, check_array, check_choice, check_in_range, check_labels
from .device import get_device
from .patches import center_crop, random_patch

__all__ = [
    "Transform",
    "Compose",
    "RandomFlip",
    "RandomRot90",
    "RandomWarp",
    "RandomAffine",
    "RandomElastic",
    "GaussianNoise",
    "PoissonNoise",
    "BrightnessContrast",
    "RandomGamma",
    "GaussianBlur",
    "CutOut",
    "warp_coordinates",
    "elastic_field",
    "resample",
    "resample_labels",
    "valid_box",
    "augmented_patch",
    "make_transform",
    "show_augmentations",
    "explore",
    "TRANSFORM_KINDS",
]

BORDER_MODES = {"reflect": "reflect", "constant": "grid-constant", "nearest": "nearest"}
TORCH_PADDING = {"reflect": "reflection", "constant": "zeros", "nearest": "border"}

# ---------------------------------------------------------------------------------------------
# Parameter ranges: how a user writes "how much", and how it is drawn.


def _pair(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number or a (low, high) pair, got {value!r}") from None
    if not lo <= hi:
        raise ValueError(f"`{name}` must be a (low, high) pair with low <= high, got {value!r}")
    return lo, hi


def _symmetric_range(value: Any, name: str) -> tuple[float, float]:
    """A number ``x`` stands for ``(-x, x)``; a pair is the range itself."""
    if np.isscalar(value):
        x = check_in_range(value, name, 0)
        return -x, x
    return _pair(value, name)


def _factor_range(value: Any, name: str) -> tuple[float, float]:
    """A number ``x`` stands for factors ``(1 / (1 + x), 1 + x)``; a pair is the range itself."""
    if np.isscalar(value):
        x = check_in_range(value, name, 0)
        return 1 / (1 + x), 1 + x
    lo, hi = _pair(value, name)
    check_in_range(lo, name, 0, low_inclusive=False)
    return lo, hi


def _positive_range(value: Any, name: str) -> tuple[float, float]:
    """A number ``x`` stands for ``(0, x)``; a pair is the range itself (non-negative)."""
    if np.isscalar(value):
        return 0.0, check_in_range(value, name, 0)
    lo, hi = _pair(value, name)
    check_in_range(lo, name, 0)
    return lo, hi


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return lo if lo == hi else float(rng.uniform(lo, hi))


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Factors are drawn uniformly on a log scale, so x2 and x0.5 are equally likely."""
    lo, hi = bounds
    return lo if lo == hi else float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# ---------------------------------------------------------------------------------------------
# Input checks and per-plane handling


def _check_inputs(
    image: Any, labels: Any, channel_axis: int | None
) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """Validate an (image, labels) pair; return arrays and the non-negative channel axis."""
    if channel_axis is None:
        image = check_array(image, "image", ndim=(2, 3), finite=True)
        spatial = image.shape
    else:
        image = check_array(image, "image", ndim=(3, 4), finite=True)
        if not -image.ndim <= channel_axis < image.ndim:
            raise ValueError(
                f"`channel_axis` must be an axis of `image` (shape {image.shape}), "
                f"got {channel_axis}"
            )
        channel_axis %= image.ndim
        spatial = image.shape[:channel_axis] + image.shape[channel_axis + 1 :]
    if labels is not None:
        labels = check_labels(labels, "labels")
        if labels.shape != spatial:
            what = "shape" if channel_axis is None else "spatial shape"
            raise ValueError(
                f"`labels` must have the {what} of `image` {spatial}, got shape {labels.shape}"
            )
    return image, labels, channel_axis


def _spatial_axes(ndim: int, channel_axis: int | None) -> list[int]:
    """Axes of an ``ndim``-dimensional image that are not the channel axis."""
    if channel_axis is None:
        return list(range(ndim))
    return [a for a in range(ndim) if a != channel_axis % ndim]


def _spatial_shape(image: np.ndarray, channel_axis: int | None) -> tuple[int, ...]:
    return tuple(image.shape[a] for a in _spatial_axes(image.ndim, channel_axis))


def _plane_index(ndim: int, channel_axis: int | None, rows: slice, cols: slice) -> tuple:
    """Index selecting ``rows, cols`` in the (row, col) plane and everything along other axes."""
    spatial = _spatial_axes(ndim, channel_axis)
    index = [slice(None)] * ndim
    index[spatial[-2]], index[spatial[-1]] = rows, cols
    return tuple(index)


def _to_planes(image: np.ndarray, channel_axis: int | None) -> tuple[np.ndarray, tuple]:
    """Reshape to ``(n_planes, rows, cols)``; return it and the leading shape to restore."""
    stack = image[None] if channel_axis is None else np.moveaxis(image, channel_axis, 0)
    lead = stack.shape[:-2]
    return stack.reshape((-1,) + stack.shape[-2:]), lead


def _from_planes(planes: np.ndarray, lead: tuple, channel_axis: int | None) -> np.ndarray:
    stack = planes.reshape(lead + planes.shape[-2:])
    return stack[0] if channel_axis is None else np.moveaxis(stack, 0, channel_axis)


def _restore_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Bring float results back to the input dtype (integers rounded and clipped)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    if dtype.kind == "b":
        return values > 0.5
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def _work_dtype(dtype: np.dtype) -> type:
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


# ---------------------------------------------------------------------------------------------
# Coordinate maps: the heart of every geometric transform


def _inverse_affine(rotation_deg: float, zoom: float, shear_deg: float) -> np.ndarray:
    """2x2 matrix mapping output (row, col) offsets to input offsets.

    The forward transform is ``R @ S @ (zoom * I)``: zoom, then shear the columns in proportion
    to the row, then rotate counter-clockwise as displayed (rows point down). Sampling needs the
    inverse, written out here so that zero parameters give exactly the identity.
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

    Returns ``(lower, upper, frac, k)``: position ``x`` lies between coarse points ``lower``
    and ``upper`` at fraction ``frac``; ``k`` is the number of coarse points.
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


def _draw_coarse_field(
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


def _upsample_field(
    coarse: Any, shape: tuple[int, int], smoothness_px: float, to_array: Any = np.asarray
) -> Any:
    """Interpolate a coarse ``(2, k_rows, k_cols)`` field to ``(2, *shape)``: cols, then rows.

    Works on numpy arrays and, with ``to_array`` making tensors on their device, torch tensors.
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
    """A random, smooth displacement field for elastic deformation.

    Parameters
    ----------
    shape : (int, int)
        Shape (rows, cols) of the field.
    magnitude_px : float
        Standard deviation of each displacement component, in pixels.
    smoothness_px : float
        Correlation length in pixels: the standard deviation of the Gaussian that smooths white
        noise into the field. Larger means broader, gentler bends.
    rng : None, int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray of float32, shape (2, rows, cols)
        Row and column displacement of every pixel.

    Notes
    -----
    The classic recipe (Simard et al. 2003) smooths white noise with a Gaussian at full
    resolution. Because the result is smooth, it is computed here on a grid four times coarser
    than ``smoothness_px`` and interpolated linearly, which is many times faster and
    statistically the same. Unlike the classic ``alpha`` scaling, ``magnitude_px`` is the
    displacement itself, independent of the smoothness.

    Examples
    --------
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
    coarse = _draw_coarse_field(shape, magnitude_px, smoothness_px, as_rng(rng))
    return _upsample_field(coarse, shape, smoothness_px)


def _affine_coordinates(
    shape, out_shape, rotation_deg, translation_px, zoom, shear_deg, to_array=np.asarray
) -> Any:
    """Affine part of :func:`warp_coordinates`, float32 of shape ``(2, *out_shape)``.

    ``M (y - c_out - t) + c_in`` is a term that varies along the output rows plus one along
    the columns; their full-size sum is computed where ``to_array`` puts them (torch tensors
    on a device, for :meth:`RandomWarp.batch_torch`).
    """
    matrix = _inverse_affine(rotation_deg, zoom, shear_deg)
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

    Parameters
    ----------
    shape : (int, int)
        Shape (rows, cols) of the input image.
    rotation_deg : float
        Counter-clockwise rotation (as displayed) about the image centre, in degrees.
    translation_px : (float, float)
        Shift of the content (rows, cols) in output pixels.
    zoom : float
        Magnification: 2 makes objects look twice as large.
    shear_deg : float
        Shear angle: columns shift in proportion to the row.
    displacement : array of shape (2, *output_shape), optional
        Elastic displacement (from :func:`elastic_field`) added to the coordinates.
    output_shape : (int, int), optional
        Shape of the output grid, centred on the input's centre. Default ``shape``.

    Returns
    -------
    numpy.ndarray of float32, shape (2, *output_shape)
        ``coords[:, r, c]`` is the (row, col) position in the input that output pixel (r, c)
        takes its value from; :func:`resample` and :func:`resample_labels` read it.

    Notes
    -----
    Warping is done "backwards": for every output pixel we ask where it comes from, which
    leaves no holes. The forward transform maps input offsets from the centre ``c_in`` to
    output offsets ``R S Z (x - c_in) + c_out + t``; the coordinates are its inverse
    ``M (y - c_out - t) + c_in`` with ``M = (R S Z)^-1``, plus the displacement.

    Examples
    --------
    >>> coords = warp_coordinates((3, 3), rotation_deg=90)
    >>> coords[:, 0, 0]  # the top-left output pixel comes from the top-right input pixel
    array([0., 2.], dtype=float32)
    """
    shape = tuple(int(n) for n in shape)
    out_shape = shape if output_shape is None else tuple(int(n) for n in output_shape)
    coords = _affine_coordinates(shape, out_shape, rotation_deg, translation_px, zoom, shear_deg)
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

    Parameters
    ----------
    image : numpy.ndarray
        2D image or 3D stack, with an optional channel axis.
    coords : array of shape (2, rows_out, cols_out)
        Input (row, col) positions, e.g. from :func:`warp_coordinates`.
    order : {0, 1, 3}
        0 nearest neighbour, 1 linear, 3 cubic spline.
    mode : {"reflect", "constant", "nearest"}
        Value outside the image: mirrored about the border, 0, or the closest border pixel.
    channel_axis : int, optional
        Axis of ``image`` holding channels (each is warped the same way).

    Returns
    -------
    numpy.ndarray
        Same dtype as ``image``; its (row, col) shape is ``coords.shape[1:]``.

    Notes
    -----
    Uses :func:`scipy.ndimage.map_coordinates`. ``"reflect"`` mirrors about the pixel edge
    (``d c b a | a b c d``), the convention of ``torch.nn.functional.grid_sample`` with
    ``align_corners=False``, so that the torch path gives the same result.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> resample(image, np.array([[[0.5]], [[0.5]]]))  # between all four pixels
    array([[1.5]])
    """
    image = check_array(image, "image", finite=True)
    check_choice(order, "order", (0, 1, 3))
    check_choice(mode, "mode", tuple(BORDER_MODES))
    planes, lead = _to_planes(image, channel_axis)
    work = _work_dtype(image.dtype)
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
    return _restore_dtype(_from_planes(out, lead, channel_axis), image.dtype)


def resample_labels(labels: Any, coords: np.ndarray) -> np.ndarray:
    """Nearest-neighbour lookup of ``labels`` at ``coords``; 0 (background) outside.

    Parameters
    ----------
    labels : array of int
        2D label image or 3D stack of them (0 = background).
    coords : array of shape (2, rows_out, cols_out)
        Input (row, col) positions, e.g. from :func:`warp_coordinates`.

    Returns
    -------
    numpy.ndarray
        Same dtype as ``labels``; every value is one of the input's values or 0.

    Notes
    -----
    Rounding to the nearest pixel copies a label, it never mixes two: the output cannot
    contain an id that was not in the input. A pixel covers the square of side 1 around its
    centre, so coordinates within half a pixel outside the image still see it.

    Examples
    --------
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
    """The largest centred box of the output whose coordinates all lie inside the input.

    Parameters
    ----------
    coords : array of shape (2, rows_out, cols_out)
        Coordinates from :func:`warp_coordinates`.
    shape : (int, int)
        Shape of the input image.

    Returns
    -------
    (slice, slice)
        Rows and columns of the output computed from real pixels only (no border filling).
        The box keeps the output's aspect ratio.

    Examples
    --------
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


# ---------------------------------------------------------------------------------------------
# Transforms


def _unchanged(image: np.ndarray, labels: np.ndarray | None) -> tuple:
    return image.copy(), None if labels is None else labels.copy()


def _run(transform: Any, image, labels, rng: np.random.Generator, channel_axis: int | None):
    """Apply a :class:`Transform` (without re-validating) or any other callable transform."""
    if isinstance(transform, Transform):
        return transform._augment(image, labels, rng, channel_axis)
    return transform(image, labels, rng=rng)


class Transform:
    """Base class: draw random parameters once, then apply them to image and labels.

    Subclasses implement :meth:`draw` (all randomness) and :meth:`apply` (deterministic).

    Parameters
    ----------
    p : float
        Probability in [0, 1] that the transform is applied at all.
    """

    def __init__(self, *, p: float = 1.0):
        self.p = check_in_range(p, "p", 0, 1)

    def __call__(
        self,
        image: Any,
        labels: Any = None,
        *,
        rng: Any = None,
        channel_axis: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Augment ``image`` (and ``labels``); return new arrays ``(image, labels)``."""
        image, labels, channel_axis = _check_inputs(image, labels, channel_axis)
        return self._augment(image, labels, as_rng(rng), channel_axis)

    def _augment(self, image, labels, rng, channel_axis):
        """:meth:`__call__` on validated arrays and a Generator (no checks repeated)."""
        if rng.random() >= self.p:
            return _unchanged(image, labels)
        params = self.draw(rng, _spatial_shape(image, channel_axis))
        return self.apply(image, labels, params, channel_axis=channel_axis)

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        """Draw the random parameters for an image of spatial shape ``shape``."""
        return {}

    def apply(
        self,
        image: np.ndarray,
        labels: np.ndarray | None,
        params: dict,
        *,
        channel_axis: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply drawn ``params`` to validated arrays (no randomness here)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms one after the other, with one random generator for all of them.

    Parameters
    ----------
    transforms : sequence of callables
        :class:`Transform` objects or any callable ``t(image, labels, *, rng)`` returning
        ``(image, labels)``.
    p : float
        Probability of applying the whole chain.

    Notes
    -----
    Each geometric transform interpolates once, and every interpolation blurs a little: put
    rotation, zoom, shear, shift and elastic deformation into a single :class:`RandomWarp`.

    Examples
    --------
    >>> import numpy as np
    >>> t = Compose([RandomFlip(), RandomRot90()])
    >>> image = np.arange(16.0).reshape(4, 4)
    >>> np.array_equal(t(image, rng=3)[0], t(image, rng=3)[0])  # seeded: reproducible
    True
    """

    def __init__(self, transforms: Sequence[Any], *, p: float = 1.0):
        super().__init__(p=p)
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"`transforms[{i}]` must be callable, got {type(t).__name__}")

    def _augment(self, image, labels, rng, channel_axis):
        if rng.random() >= self.p:
            return _unchanged(image, labels)
        for t in self.transforms:
            image, labels = _run(t, image, labels, rng, channel_axis)
        return image, labels


class RandomFlip(Transform):
    """Mirror along each spatial axis with probability 1/2 (exact, no interpolation).

    Parameters
    ----------
    axes : sequence of int, optional
        Spatial axes that may be flipped (0 = rows, 1 = cols; for stacks 0 = planes). Default all.
    p : float
        Probability of applying the transform.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[1, 2], [3, 4]])
    >>> t = RandomFlip(axes=(1,))
    >>> t.apply(image, None, {"flip": (1,)})[0]
    array([[2, 1],
           [4, 3]])
    """

    def __init__(self, axes: Sequence[int] | None = None, *, p: float = 1.0):
        super().__init__(p=p)
        self.axes = None if axes is None else tuple(int(a) for a in axes)
        if self.axes is not None and any(a < 0 for a in self.axes):
            raise ValueError(f"`axes` must be non-negative spatial axes, got {self.axes}")

    def draw(self, rng, shape):
        axes = range(len(shape)) if self.axes is None else self.axes
        for a in axes:
            if not 0 <= a < len(shape):
                raise ValueError(f"`axes` must be spatial axes 0..{len(shape) - 1}, got {a}")
        return {"flip": tuple(a for a in axes if rng.random() < 0.5)}

    def apply(self, image, labels, params, *, channel_axis=None):
        spatial = _spatial_axes(image.ndim, channel_axis)
        image_axes = tuple(spatial[a] for a in params["flip"])
        image = np.flip(image, image_axes).copy()
        if labels is not None:
            labels = np.flip(labels, params["flip"]).copy()
        return image, labels


class RandomRot90(Transform):
    """Rotate by a random multiple of 90 degrees in the (row, col) plane (exact).

    Non-square images are only turned by 0 or 180 degrees, so that shapes are preserved
    (a batch of patches must keep one shape).

    Examples
    --------
    >>> import numpy as np
    >>> RandomRot90().apply(np.array([[1, 2], [3, 4]]), None, {"k": 1})[0]
    array([[2, 4],
           [1, 3]])
    """

    def draw(self, rng, shape):
        square = shape[-1] == shape[-2]
        return {"k": int(rng.integers(4)) if square else 2 * int(rng.integers(2))}

    def apply(self, image, labels, params, *, channel_axis=None):
        spatial = _spatial_axes(image.ndim, channel_axis)
        image = np.rot90(image, params["k"], axes=(spatial[-2], spatial[-1])).copy()
        if labels is not None:
            labels = np.rot90(labels, params["k"], axes=(-2, -1)).copy()
        return image, labels


class RandomWarp(Transform):
    """Rotation, translation, zoom, shear and elastic deformation, with a single interpolation.

    Parameters
    ----------
    rotation_deg : float or (float, float)
        Rotation angle in degrees; ``x`` draws from ``(-x, x)``. 180 gives all orientations.
    translation_px : float or (float, float)
        Shift in pixels along each axis; ``x`` draws from ``(-x, x)``.
    zoom : float or (float, float)
        Magnification factor, drawn log-uniformly; ``x`` means ``(1 / (1 + x), 1 + x)``.
        Keep it small for microscopy: zoom changes the apparent size of nuclei, which is a
        physical property of the sample (see notebook 06).
    shear_deg : float or (float, float)
        Shear angle in degrees; ``x`` draws from ``(-x, x)``.
    elastic_magnitude_px : float
        Standard deviation of the elastic displacement in pixels (0: no elastic deformation).
    elastic_smoothness_px : float
        Correlation length of the displacement field in pixels (see :func:`elastic_field`).
    order : {0, 1, 3}
        Interpolation of the image: nearest, linear or cubic. Labels always use nearest.
    mode : {"reflect", "constant", "nearest"}
        Border handling of the image. Labels are always 0 (background) outside.
    output_shape : (int, int), optional
        Shape of the output (rows, cols), centred on the input. Smaller than the input, it
        crops a margin in the same step (see :func:`augmented_patch`).
    crop_to_valid : bool
        Crop the output to the largest centred box computed from real pixels only.
        The output shape then varies from draw to draw.
    p : float
        Probability of applying the transform.

    Notes
    -----
    All parts are combined into one coordinate map (:func:`warp_coordinates`) and the image
    is interpolated once (:func:`resample`), the labels looked up once
    (:func:`resample_labels`). Chaining separate rotation and elastic transforms would blur
    the image twice and cost twice the time.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(9.0).reshape(3, 3)
    >>> t = RandomWarp(rotation_deg=(90, 90))
    >>> np.allclose(t(image)[0], np.rot90(image))
    True
    """

    def __init__(
        self,
        *,
        rotation_deg: float | Sequence[float] = 0.0,
        translation_px: float | Sequence[float] = 0.0,
        zoom: float | Sequence[float] = 0.0,
        shear_deg: float | Sequence[float] = 0.0,
        elastic_magnitude_px: float = 0.0,
        elastic_smoothness_px: float = 16.0,
        order: int = 1,
        mode: str = "reflect",
        output_shape: Sequence[int] | None = None,
        crop_to_valid: bool = False,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.rotation_deg = _symmetric_range(rotation_deg, "rotation_deg")
        self.translation_px = _symmetric_range(translation_px, "translation_px")
        self.zoom = _factor_range(zoom, "zoom")
        self.shear_deg = _symmetric_range(shear_deg, "shear_deg")
        if not -90 < self.shear_deg[0] <= self.shear_deg[1] < 90:
            raise ValueError(f"`shear_deg` must lie in (-90, 90), got {shear_deg!r}")
        self.elastic_magnitude_px = check_in_range(elastic_magnitude_px, "elastic_magnitude_px", 0)
        self.elastic_smoothness_px = check_in_range(
            elastic_smoothness_px, "elastic_smoothness_px", 0, low_inclusive=False
        )
        self.order = check_choice(order, "order", (0, 1, 3))
        self.mode = check_choice(mode, "mode", tuple(BORDER_MODES))
        self.output_shape = None if output_shape is None else tuple(int(n) for n in output_shape)
        if self.output_shape is not None and (
            len(self.output_shape) != 2 or min(self.output_shape) < 1
        ):
            raise ValueError(f"`output_shape` must be two positive sizes, got {output_shape!r}")
        self.crop_to_valid = bool(crop_to_valid)

    def draw(self, rng, shape):
        out_shape = self.output_shape or tuple(shape[-2:])
        params = {
            "rotation_deg": _uniform(rng, self.rotation_deg),
            "zoom": _log_uniform(rng, self.zoom),
            "shear_deg": _uniform(rng, self.shear_deg),
            "translation_px": (
                _uniform(rng, self.translation_px),
                _uniform(rng, self.translation_px),
            ),
            "coarse_field": None,
        }
        if self.elastic_magnitude_px > 0:
            params["coarse_field"] = _draw_coarse_field(
                out_shape, self.elastic_magnitude_px, self.elastic_smoothness_px, rng
            )
        return params

    def coordinates(self, params: dict, shape: Sequence[int]) -> np.ndarray:
        """Coordinate map of drawn ``params`` for an input of (row, col) shape ``shape``."""
        shape = tuple(shape[-2:])
        out_shape = self.output_shape or shape
        field = params["coarse_field"]
        if field is not None:
            field = _upsample_field(field, out_shape, self.elastic_smoothness_px)
        return warp_coordinates(
            shape,
            rotation_deg=params["rotation_deg"],
            translation_px=params["translation_px"],
            zoom=params["zoom"],
            shear_deg=params["shear_deg"],
            displacement=field,
            output_shape=out_shape,
        )

    def apply(self, image, labels, params, *, channel_axis=None):
        shape = _spatial_shape(image, channel_axis)
        coords = self.coordinates(params, shape)
        image = resample(image, coords, order=self.order, mode=self.mode, channel_axis=channel_axis)
        if labels is not None:
            labels = resample_labels(labels, coords)
        if self.crop_to_valid:
            box = valid_box(coords, shape[-2:])
            image = image[_plane_index(image.ndim, channel_axis, *box)].copy()
            if labels is not None:
                labels = labels[(Ellipsis,) + box].copy()
        return image, labels

    def margin_px(self, patch_shape: Sequence[int]) -> int:
        """Margin (pixels on every side) that a patch needs so the warp never looks outside.

        Computed for the worst case of the parameter ranges; for the elastic field four
        standard deviations are added (exceeded with negligible probability).

        Examples
        --------
        >>> RandomWarp(rotation_deg=45).margin_px((100, 100))  # 50 * (sqrt(2) - 1) = 20.7
        21
        """
        half = np.array([(n - 1) / 2 for n in patch_shape[-2:]])
        corners = np.array([[sr * half[0], sc * half[1]] for sr in (-1, 1) for sc in (-1, 1)])
        lo, hi = self.rotation_deg
        angles = np.unique(np.concatenate([np.linspace(lo, hi, 181), np.arange(-360, 361, 45)]))
        angles = angles[(angles >= lo) & (angles <= hi)]
        t = max(abs(v) for v in self.translation_px)
        zoom = self.zoom[0]  # the smallest zoom shows the largest input region
        reach = np.zeros(2)
        for angle in angles:
            for shear in set(self.shear_deg):
                matrix = _inverse_affine(angle, zoom, shear)
                for shift in ([-t, -t], [-t, t], [t, -t], [t, t]):
                    offsets = (corners - np.array(shift)) @ matrix.T
                    reach = np.maximum(reach, np.abs(offsets).max(axis=0))
        margin = reach - half + 4 * self.elastic_magnitude_px
        return int(math.ceil(max(margin.max(), 0.0) - 1e-9))

    # -- the same warp on a batch of tensors, on any device ------------------------------------

    def batch_torch(
        self,
        images: Any,
        labels: Any = None,
        *,
        rng: Any = None,
        device: str | torch.device | None = None,
        params: Sequence[dict] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Warp a batch ``(B, C, H, W)`` (and labels ``(B, H, W)``) on ``device``.

        Each sample gets its own parameters, drawn with the same rules as the numpy path;
        the interpolation runs with ``torch.nn.functional.grid_sample`` (bilinear or bicubic
        for images; labels are looked up at the rounded coordinates, exactly like
        :func:`resample_labels`).

        Parameters
        ----------
        images : tensor or array, shape (B, C, H, W)
            Float images.
        labels : tensor or array of int, shape (B, H, W) or (B, 1, H, W), optional
            Label images.
        rng : None, int or numpy.random.Generator
            Source of randomness for drawing the parameters (drawn on the CPU).
        device : str or torch.device, optional
            Where to compute (see :func:`bioimage_course.device.get_device`).
        params : list of dict, optional
            Parameters from :meth:`draw`, one per sample, instead of drawing them (``None``
            entries leave that sample unchanged).

        Returns
        -------
        (torch.Tensor, torch.Tensor or None)
            Warped images and labels on ``device``. ``crop_to_valid`` is not supported here.

        Notes
        -----
        Cubic interpolation differs slightly between the paths: grid_sample's bicubic uses
        the cubic convolution kernel (a = -0.75), scipy's ``order=3`` a cubic B-spline.

        Examples
        --------
        >>> import torch
        >>> images = torch.rand(2, 1, 32, 32)
        >>> out, _ = RandomWarp(rotation_deg=180).batch_torch(images, rng=0, device="cpu")
        >>> tuple(out.shape)
        (2, 1, 32, 32)
        """
        device = get_device(device)
        images = torch.as_tensor(images).to(device)
        if images.ndim != 4 or not images.is_floating_point():
            raise ValueError(
                f"`images` must be a float (B, C, H, W) batch, got shape {tuple(images.shape)} "
                f"and dtype {images.dtype}"
            )
        if not torch.isfinite(images).all():
            raise ValueError("`images` must contain only finite values")
        batch, _, rows, cols = images.shape
        if labels is not None:
            labels = torch.as_tensor(labels).to(device)
            label_shape = tuple(labels.shape)
            if labels.is_floating_point() or labels.is_complex():
                raise TypeError(
                    f"`labels` must be an integer label batch, got dtype {labels.dtype}"
                )
            if labels.ndim == 4 and labels.shape[1] == 1:
                labels = labels[:, 0]
            if tuple(labels.shape) != (batch, rows, cols):
                raise ValueError(
                    f"`labels` must have shape {(batch, rows, cols)} or {(batch, 1, rows, cols)}, "
                    f"got {label_shape}"
                )
        if self.crop_to_valid:
            raise ValueError("`crop_to_valid` is not supported by batch_torch")
        if params is None:
            rng = as_rng(rng)
            params = [
                self.draw(rng, (rows, cols)) if rng.random() < self.p else None
                for _ in range(batch)
            ]
        if len(params) != batch:
            raise ValueError(f"`params` must hold {batch} entries, got {len(params)}")
        coords = torch.stack(
            [self._coordinates_torch(prm, (rows, cols), device) for prm in params]
        )  # (B, 2, H_out, W_out)

        # grid_sample wants (x, y) = (col, row) normalised to [-1, 1] at the image's outer
        # pixel edges (align_corners=False): pixel i has its centre at (2 i + 1) / n - 1.
        grid = torch.stack(
            [(2 * coords[:, 1] + 1) / cols - 1, (2 * coords[:, 0] + 1) / rows - 1], dim=-1
        )
        mode = {0: "nearest", 1: "bilinear", 3: "bicubic"}[self.order]
        out = F.grid_sample(
            images,
            grid.to(images.dtype),
            mode=mode,
            padding_mode=TORCH_PADDING[self.mode],
            align_corners=False,
        )
        out_labels = None
        if labels is not None:
            r = torch.round(coords[:, 0]).long()
            c = torch.round(coords[:, 1]).long()
            outside = (r < 0) | (r >= rows) | (c < 0) | (c >= cols)
            flat = torch.where(outside, torch.zeros_like(r), r * cols + c).flatten(1)
            looked_up = torch.gather(labels.flatten(1), 1, flat).view_as(r)
            out_labels = torch.where(outside, torch.zeros_like(looked_up), looked_up)
            if len(label_shape) == 4:
                out_labels = out_labels[:, None]
        return out, out_labels

    def _coordinates_torch(self, params, shape, device) -> torch.Tensor:
        """Torch twin of :meth:`coordinates`: same formula, computed on ``device``."""
        out_shape = self.output_shape or tuple(shape)
        if params is None:  # not applied: identity map
            params = _IDENTITY_WARP

        def to_device(a):
            return torch.as_tensor(a, device=device)

        affine = (
            params["rotation_deg"],
            params["translation_px"],
            params["zoom"],
            params["shear_deg"],
        )
        coords = _affine_coordinates(shape, out_shape, *affine, to_device)
        if params["coarse_field"] is not None:
            field = _upsample_field(
                to_device(params["coarse_field"]), out_shape, self.elastic_smoothness_px, to_device
            )
            coords = coords + field
        return coords


_IDENTITY_WARP = {
    "rotation_deg": 0.0,
    "zoom": 1.0,
    "shear_deg": 0.0,
    "translation_px": (0.0, 0.0),
    "coarse_field": None,
}


class RandomAffine(RandomWarp):
    """Rotation, translation, zoom and shear (a :class:`RandomWarp` without elastic field).

    Examples
    --------
    >>> import numpy as np
    >>> t = RandomAffine(rotation_deg=30, zoom=0.1, p=0.5)
    >>> t(np.zeros((16, 16)), rng=0)[0].shape
    (16, 16)
    """

    def __init__(
        self,
        *,
        rotation_deg: float | Sequence[float] = 0.0,
        translation_px: float | Sequence[float] = 0.0,
        zoom: float | Sequence[float] = 0.0,
        shear_deg: float | Sequence[float] = 0.0,
        **options: Any,
    ):
        super().__init__(
            rotation_deg=rotation_deg,
            translation_px=translation_px,
            zoom=zoom,
            shear_deg=shear_deg,
            **options,
        )


class RandomElastic(RandomWarp):
    """Elastic deformation: a smooth random displacement field (a :class:`RandomWarp`).

    Parameters
    ----------
    magnitude_px : float
        Standard deviation of the displacement, in pixels.
    smoothness_px : float
        Correlation length of the field, in pixels.
    **options
        ``order``, ``mode``, ``output_shape``, ``crop_to_valid``, ``p`` as for
        :class:`RandomWarp`.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((32, 32), dtype=np.uint8)
    >>> labels[8:24, 8:24] = 5
    >>> _, out = RandomElastic(magnitude_px=2, smoothness_px=8)(np.zeros((32, 32)), labels, rng=0)
    >>> np.unique(out).tolist()
    [0, 5]
    """

    def __init__(self, *, magnitude_px: float = 4.0, smoothness_px: float = 16.0, **options: Any):
        super().__init__(
            elastic_magnitude_px=magnitude_px, elastic_smoothness_px=smoothness_px, **options
        )


# -- intensity transforms (image only) ---------------------------------------------------------


class _IntensityTransform(Transform):
    """Intensity transforms change the image values only; labels are returned unchanged."""

    def apply(self, image, labels, params, *, channel_axis=None):
        work = image.astype(_work_dtype(image.dtype))
        out = self._change(work, params, channel_axis)
        return _restore_dtype(out, image.dtype), None if labels is None else labels.copy()

    def _change(self, image: np.ndarray, params: dict, channel_axis: int | None) -> np.ndarray:
        raise NotImplementedError


class GaussianNoise(_IntensityTransform):
    """Add Gaussian noise (camera read noise) of a random standard deviation.

    Parameters
    ----------
    std : float or (float, float)
        Noise standard deviation in image units; ``x`` draws from ``(0, x)``.
    p : float
        Probability of applying the transform.

    Examples
    --------
    >>> import numpy as np
    >>> out, _ = GaussianNoise(std=(0.1, 0.1))(np.zeros((100, 100)), rng=0)
    >>> round(float(out.std()), 1)
    0.1
    """

    def __init__(self, std: float | Sequence[float] = 0.05, *, p: float = 1.0):
        super().__init__(p=p)
        self.std = _positive_range(std, "std")

    def draw(self, rng, shape):
        return {"std": _uniform(rng, self.std), "seed": int(rng.integers(2**63))}

    def _change(self, image, params, channel_axis):
        noise = np.random.default_rng(params["seed"]).standard_normal(image.shape, image.dtype)
        return image + params["std"] * noise


class PoissonNoise(_IntensityTransform):
    """Add photon shot noise: as if the image had been recorded with fewer photons.

    Parameters
    ----------
    photons : float or (float, float)
        Photons per unit of image intensity, drawn log-uniformly from the range (a number is
        used as is). For an image normalised to [0, 1], 10 photons is very noisy, 1000 mild.
    p : float
        Probability of applying the transform.

    Notes
    -----
    The shot noise of a pixel with ``g * x`` expected photons has variance ``g * x``; in
    image units that is ``x / g``. The noise ``Poisson(g x) / g - x`` is added to the
    positive part of the image only, so negative values (possible after normalisation)
    stay as they are.

    Examples
    --------
    >>> import numpy as np
    >>> out, _ = PoissonNoise(photons=100)(np.full((200, 200), 0.5), rng=0)
    >>> round(float(out.var()), 3)  # x / g = 0.5 / 100
    0.005
    """

    def __init__(self, photons: float | Sequence[float] = (10.0, 1000.0), *, p: float = 1.0):
        super().__init__(p=p)
        if np.isscalar(photons):
            value = check_in_range(photons, "photons", 0, low_inclusive=False)
            self.photons = (value, value)
        else:
            self.photons = _pair(photons, "photons")
            check_in_range(self.photons[0], "photons", 0, low_inclusive=False)

    def draw(self, rng, shape):
        return {"photons": _log_uniform(rng, self.photons), "seed": int(rng.integers(2**63))}

    def _change(self, image, params, channel_axis):
        gain = params["photons"]
        positive = np.maximum(image, 0)
        counts = np.random.default_rng(params["seed"]).poisson(positive * gain)
        return image + (counts / gain - positive).astype(image.dtype)


class BrightnessContrast(_IntensityTransform):
    """Shift the brightness and scale the contrast about the image mean.

    ``out = mean + contrast * (image - mean) + brightness``

    Parameters
    ----------
    brightness : float or (float, float)
        Offset in image units; ``x`` draws from ``(-x, x)``.
    contrast : float or (float, float)
        Contrast factor, drawn log-uniformly; ``x`` means ``(1 / (1 + x), 1 + x)``.
    p : float
        Probability of applying the transform.

    Examples
    --------
    >>> import numpy as np
    >>> t = BrightnessContrast(brightness=(1, 1), contrast=(2, 2))
    >>> t(np.array([[0.0, 2.0]]))[0]
    array([[0., 4.]])
    """

    def __init__(
        self,
        brightness: float | Sequence[float] = 0.1,
        contrast: float | Sequence[float] = 0.2,
        *,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.brightness = _symmetric_range(brightness, "brightness")
        self.contrast = _factor_range(contrast, "contrast")

    def draw(self, rng, shape):
        return {
            "brightness": _uniform(rng, self.brightness),
            "contrast": _log_uniform(rng, self.contrast),
        }

    def _change(self, image, params, channel_axis):
        # mean + c (x - mean) + b, written so that c = 1, b = 0 returns x exactly
        c = params["contrast"]
        return c * image + ((1 - c) * image.mean() + params["brightness"])


class RandomGamma(_IntensityTransform):
    """Non-linear contrast change ``x ** gamma`` that keeps the image's minimum and maximum.

    Parameters
    ----------
    gamma : float or (float, float)
        Exponent, drawn log-uniformly; ``x`` means ``(1 / (1 + x), 1 + x)``. Below 1 it
        brightens dim structures, above 1 it darkens them.
    p : float
        Probability of applying the transform.

    Examples
    --------
    >>> import numpy as np
    >>> RandomGamma(gamma=(2, 2))(np.array([[0.0, 0.5, 1.0]]))[0]
    array([[0.  , 0.25, 1.  ]])
    """

    def __init__(self, gamma: float | Sequence[float] = 0.3, *, p: float = 1.0):
        super().__init__(p=p)
        self.gamma = _factor_range(gamma, "gamma")

    def draw(self, rng, shape):
        return {"gamma": _log_uniform(rng, self.gamma)}

    def _change(self, image, params, channel_axis):
        lo, hi = image.min(), image.max()
        if hi == lo or params["gamma"] == 1:
            return image
        return lo + (hi - lo) * ((image - lo) / (hi - lo)) ** params["gamma"]


class GaussianBlur(_IntensityTransform):
    """Blur in the (row, col) plane with a Gaussian of random width (defocus, a wider PSF).

    Parameters
    ----------
    sigma_px : float or (float, float)
        Standard deviation of the Gaussian in pixels; ``x`` draws from ``(0, x)``.
    p : float
        Probability of applying the transform.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> image = np.random.default_rng(0).random((20, 20))
    >>> out, _ = GaussianBlur(sigma_px=(2, 2))(image)
    >>> np.allclose(out, ndimage.gaussian_filter(image, 2, mode="reflect"))
    True
    """

    def __init__(self, sigma_px: float | Sequence[float] = 1.0, *, p: float = 1.0):
        super().__init__(p=p)
        self.sigma_px = _positive_range(sigma_px, "sigma_px")

    def draw(self, rng, shape):
        return {"sigma_px": _uniform(rng, self.sigma_px)}

    def _change(self, image, params, channel_axis):
        sigma = np.zeros(image.ndim)
        spatial = _spatial_axes(image.ndim, channel_axis)
        sigma[spatial[-2:]] = params["sigma_px"]
        return ndi.gaussian_filter(image, sigma, mode="reflect")


class CutOut(_IntensityTransform):
    """Hide random rectangles of the image (an obstruction: debris, a bubble, a dead region).

    The labels are left unchanged: the objects are still there, only hidden, and the network
    learns to use context.

    Parameters
    ----------
    n_holes : int or (int, int)
        Number of rectangles, drawn uniformly from the range (inclusive).
    size_px : float or (float, float)
        Side lengths of each rectangle in pixels, drawn uniformly from the range.
    fill : float or "mean"
        Value written into the rectangles; ``"mean"`` uses the image mean.
    p : float
        Probability of applying the transform.

    Examples
    --------
    >>> import numpy as np
    >>> out, _ = CutOut(n_holes=1, size_px=(4, 4), fill=-1.0)(np.zeros((10, 10)), rng=0)
    >>> int((out == -1).sum())
    16
    """

    def __init__(
        self,
        n_holes: int | Sequence[int] = (1, 3),
        size_px: float | Sequence[float] = (8.0, 32.0),
        *,
        fill: float | str = "mean",
        p: float = 1.0,
    ):
        super().__init__(p=p)
        holes = (n_holes, n_holes) if np.isscalar(n_holes) else n_holes
        self.n_holes = tuple(int(v) for v in _pair(holes, "n_holes"))
        check_in_range(self.n_holes[0], "n_holes", 0)
        size = (size_px, size_px) if np.isscalar(size_px) else size_px
        self.size_px = _pair(size, "size_px")
        check_in_range(self.size_px[0], "size_px", 0)
        if isinstance(fill, str):
            check_choice(fill, "fill", ("mean",))
        else:
            check_in_range(fill, "fill")
        self.fill = fill

    def draw(self, rng, shape):
        rows, cols = shape[-2:]
        boxes = []
        for _ in range(int(rng.integers(self.n_holes[0], self.n_holes[1] + 1))):
            h, w = (int(round(_uniform(rng, self.size_px))) for _ in range(2))
            r, c = (
                int(rng.integers(-(h // 2), rows - h // 2)),
                int(rng.integers(-(w // 2), cols - w // 2)),
            )
            boxes.append((slice(max(r, 0), max(r + h, 0)), slice(max(c, 0), max(c + w, 0))))
        return {"boxes": boxes}

    def _change(self, image, params, channel_axis):
        value = image.mean() if self.fill == "mean" else self.fill
        out = image.copy()
        for rows, cols in params["boxes"]:
            out[_plane_index(image.ndim, channel_axis, rows, cols)] = value
        return out


# ---------------------------------------------------------------------------------------------
# Training patches without border artifacts


def _margin_of(transform: Any, patch_shape: Sequence[int]) -> int:
    if isinstance(transform, RandomWarp):
        return transform.margin_px(patch_shape)
    if isinstance(transform, Compose):
        return sum(_margin_of(t, patch_shape) for t in transform.transforms)
    return 0


def augmented_patch(
    image: Any,
    labels: Any,
    patch_size: int | Sequence[int],
    *,
    transform: Any,
    rng: Any = None,
    foreground_prob: float = 0.0,
    margin_px: int | None = None,
    channel_axis: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a random training patch, augmenting a larger region first and cropping afterwards.

    A patch that is rotated or deformed on its own must be filled in at its corners from
    nowhere (reflections of its content, or zeros), and the network learns from those
    artificial borders. Cutting a region with a margin, augmenting it and then taking the
    central patch fills the corners with real image content instead.

    Parameters
    ----------
    image : numpy.ndarray
        2D image (optional channel axis).
    labels : numpy.ndarray of int
        Labels of the same spatial shape.
    patch_size : int or (int, int)
        Size of the patch returned.
    transform : callable
        Augmentation ``transform(image, labels, rng=...)``, e.g. a :class:`Compose`.
    rng : None, int or numpy.random.Generator
        Source of randomness (patch position and augmentation).
    foreground_prob : float
        Passed to :func:`bioimage_course.patches.random_patch`.
    margin_px : int, optional
        Margin on every side. Default: what the geometric transforms in ``transform`` need
        (:meth:`RandomWarp.margin_px`). Reduced where the image is too small.
    channel_axis : int, optional
        Channel axis of ``image``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Augmented image patch and label patch.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    >>> labels = (image > 0.9).astype(np.int32)
    >>> t = RandomWarp(rotation_deg=180)
    >>> img, lab = augmented_patch(image, labels, 32, transform=t, rng=0)
    >>> img.shape, lab.shape
    ((32, 32), (32, 32))
    """
    image, labels, channel_axis = _check_inputs(image, labels, channel_axis)
    spatial = _spatial_shape(image, channel_axis)
    if len(spatial) != 2:
        raise ValueError(f"`image` must be 2D (plus channels), got spatial shape {spatial}")
    size = tuple(int(s) for s in ((patch_size,) * 2 if np.isscalar(patch_size) else patch_size))
    rng = as_rng(rng)
    margin = _margin_of(transform, size) if margin_px is None else int(margin_px)
    check_in_range(margin, "margin_px", 0)
    region_size = tuple(min(s + 2 * margin, n) for s, n in zip(size, spatial, strict=True))
    region = random_patch(
        spatial, region_size, rng=rng, labels=labels, foreground_prob=foreground_prob
    )
    image_region = image[_plane_index(image.ndim, channel_axis, *region)]
    aug_image, aug_labels = _run(transform, image_region, labels[region], rng, channel_axis)
    if channel_axis is not None:
        aug_image = np.moveaxis(aug_image, channel_axis, 0)
    aug_image = center_crop(aug_image, size).copy()
    if channel_axis is not None:
        aug_image = np.moveaxis(aug_image, 0, channel_axis)
    return aug_image, center_crop(aug_labels, size).copy()


# ---------------------------------------------------------------------------------------------
# Looking at augmentations (notebook 04)

TRANSFORM_KINDS = (
    "flip",
    "rot90",
    "rotation",
    "translation",
    "zoom",
    "shear",
    "elastic",
    "gaussian_noise",
    "poisson_noise",
    "brightness_contrast",
    "gamma",
    "blur",
    "cutout",
)


def make_transform(kind: str, strength: float = 0.5, *, scale: float = 1.0) -> Transform:
    """A transform of a given ``kind`` at a given ``strength`` in [0, 1] (for exploring).

    The geometric strength is fixed (e.g. rotation by exactly ``180 * strength`` degrees) so
    that a slider shows its effect; positions of noise and elastic fields stay random.

    Parameters
    ----------
    kind : str
        One of :data:`TRANSFORM_KINDS`.
    strength : float
        0 (no change) to 1 (extreme).
    scale : float
        Intensity range of the image (e.g. 1 for normalised images), for intensity transforms.

    Examples
    --------
    >>> make_transform("rotation", 0.25)
    RandomWarp(p=1.0, rotation_deg=(45.0, 45.0), ...)
    """
    check_choice(kind, "kind", TRANSFORM_KINDS)
    s = check_in_range(strength, "strength", 0, 1)
    fixed = {
        "rotation": dict(rotation_deg=(180 * s, 180 * s)),
        "translation": dict(translation_px=(32 * s, 32 * s)),
        "zoom": dict(zoom=(1 + s, 1 + s)),
        "shear": dict(shear_deg=(45 * s, 45 * s)),
        "elastic": dict(elastic_magnitude_px=8 * s, elastic_smoothness_px=12),
    }
    if kind in fixed:
        return RandomWarp(**fixed[kind])
    if kind == "flip":
        return RandomFlip(p=s)
    if kind == "rot90":
        return RandomRot90(p=s)
    if kind == "gaussian_noise":
        return GaussianNoise(std=(0.3 * s * scale, 0.3 * s * scale))
    if kind == "poisson_noise":
        return PoissonNoise(photons=1000.0 ** (1 - s) / scale, p=float(s > 0))
    if kind == "brightness_contrast":
        return BrightnessContrast(brightness=(0.5 * s * scale,) * 2, contrast=(1 + 2 * s,) * 2)
    if kind == "gamma":
        return RandomGamma(gamma=(1 + 2 * s, 1 + 2 * s))
    if kind == "blur":
        return GaussianBlur(sigma_px=(4 * s, 4 * s))
    return CutOut(n_holes=(3, 3), size_px=(40 * s, 40 * s))


def _overlay_row(panels: Sequence[tuple], size: float, **show_kwargs: Any):
    """One row of panels ``(image, labels, title)``, labels outlined on the image."""
    import matplotlib.pyplot as plt

    from .plot import overlay_labels

    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (image, labels, title) in zip(axes[0], panels, strict=True):
        overlay_labels(image, labels, ax=ax, title=title, **show_kwargs)
    fig.tight_layout()
    return fig


def show_augmentations(
    image: Any,
    labels: Any,
    transform: Any,
    *,
    n: int = 3,
    rng: Any = 0,
    size: float = 3.0,
    **show_kwargs: Any,
):
    """Figure: the original pair and ``n`` augmented draws, labels outlined on the image.

    Parameters
    ----------
    image, labels : numpy.ndarray
        2D image and its labels.
    transform : callable
        The augmentation to look at.
    n : int
        Number of augmented draws.
    rng : None, int or numpy.random.Generator
        Source of randomness.
    size : float
        Panel size in inches.
    **show_kwargs
        Passed to :func:`bioimage_course.plot.overlay_labels` (e.g. ``vmin``, ``vmax``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((32, 32), dtype=np.int32)
    >>> labels[8:20, 10:24] = 1
    >>> fig = show_augmentations(labels.astype(float), labels, RandomRot90(), n=2)
    >>> len(fig.axes)
    3
    """
    rng = as_rng(rng)
    panels = [(image, labels, "original")]
    for i in range(1, n + 1):
        panels.append((*transform(image, labels, rng=rng), f"draw {i}"))
    return _overlay_row(panels, size, **show_kwargs)


def explore(
    image: Any,
    labels: Any,
    kind: str = "rotation",
    strength: float = 0.5,
    seed: int = 0,
    *,
    size: float = 3.5,
):
    """Figure: ``image`` before and after :func:`make_transform` ``(kind, strength)``.

    The plotting function behind notebook 04's widget explorer; call it directly to get the
    same picture without widgets.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((32, 32), dtype=np.int32)
    >>> labels[8:20, 10:24] = 1
    >>> fig = explore(labels.astype(np.float32), labels, "elastic", 1.0)
    >>> [ax.get_title() for ax in fig.axes]
    ['original', 'elastic, strength 1.00']
    """
    image, labels, _ = _check_inputs(image, labels, None)
    lo, hi = np.percentile(image, (0.2, 99.8))
    transform = make_transform(kind, strength, scale=float(hi - lo) or 1.0)
    panels = [
        (image, labels, "original"),
        (*transform(image, labels, rng=seed), f"{kind}, strength {strength:.2f}"),
    ]
    return _overlay_row(panels, size, vmin=lo, vmax=hi)
