"""Patches: random crops for training, overlapping tiles for prediction, and stitching them back.

Introduced in notebook 04 (augmentation); used again in notebook 05 (training and tiled
prediction of large images).

Microscopy images are often larger than what fits through a network at once, and a dataset
of a few images becomes many training examples when it is cut into patches. Three tools:

- :func:`random_patch` picks where to crop a training patch, optionally biased towards
  foreground, so that sparse objects are not drowned by empty background patches;
- :func:`tile_slices` covers a whole image with overlapping windows (the last window of each
  row and column ends flush with the border, so every window has the full tile size);
- :func:`stitch` puts per-tile results back together, averaging the overlaps with uniform or
  smooth weights, or taking each pixel from the tile in which it lies most central.

Every function returns or takes *slices* over the spatial axes: ``image[slices]`` is the patch,
``image[(slice(None),) + slices]`` the patch of a channels-first image.

Examples
--------
>>> import numpy as np
>>> image = np.arange(100.0).reshape(10, 10)
>>> tiles = tile_slices(image.shape, 6, 2)
>>> len(tiles)
4
>>> np.array_equal(stitch([image[s] for s in tiles], tiles, image.shape), image)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validate import as_rng, check_array, check_choice, check_in_range, check_labels

__all__ = ["random_patch", "tile_slices", "stitch", "center_crop", "BLEND_MODES"]

BLEND_MODES = ("uniform", "smooth", "center")


def _as_shape(shape: Any, name: str = "shape") -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints (1 to 3 spatial axes)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"`{name}` must be a tuple of ints, got {shape!r}") from None
    if not 1 <= len(out) <= 3 or any(s < 1 for s in out):
        raise ValueError(f"`{name}` must be 1 to 3 positive sizes, got {tuple(shape)!r}")
    return out


def _per_axis(value: Any, ndim: int, name: str, *, low: int = 1) -> tuple[int, ...]:
    """Broadcast an int (or a sequence with one int per axis) to ``ndim`` ints >= ``low``."""
    values = [value] * ndim if np.isscalar(value) else list(value)
    if len(values) != ndim:
        raise ValueError(f"`{name}` must be an int or {ndim} ints, got {value!r}")
    out = []
    for v in values:
        if not float(v).is_integer():
            raise ValueError(f"`{name}` must be whole numbers of pixels, got {value!r}")
        out.append(int(check_in_range(v, name, low)))
    return tuple(out)


def random_patch(
    shape: Sequence[int],
    patch_size: int | Sequence[int],
    *,
    rng: Any = None,
    labels: Any = None,
    foreground_prob: float = 0.0,
) -> tuple[slice, ...]:
    """Choose a random patch inside an image of spatial shape ``shape``.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of the image, e.g. ``image.shape`` for a grayscale image or
        ``image.shape[1:]`` for a channels-first one.
    patch_size : int or tuple of int
        Size of the patch, one value for all axes or one per axis. Must fit in ``shape``.
    rng : None, int or numpy.random.Generator
        Source of randomness.
    labels : array of int, optional
        Label image of shape ``shape`` (0 = background). Needed for ``foreground_prob > 0``.
    foreground_prob : float
        Probability in [0, 1] that the patch is centred on a randomly chosen foreground pixel
        (``labels > 0``) instead of being placed uniformly. Near the border the patch is shifted
        to stay inside the image, so the chosen pixel is then not exactly central. An image
        without foreground falls back to uniform placement.

    Returns
    -------
    tuple of slice
        One slice per spatial axis: ``image[patch]`` is the patch.

    Notes
    -----
    Uniform sampling gives every valid patch position the same chance. When objects are sparse
    most such patches show only background and a network learns to predict "nothing";
    ``foreground_prob`` makes sure a fraction of the patches contain objects. It biases the
    class balance the network sees, which is the point, but keep it below 1 so that empty
    regions are still learned as empty.

    Examples
    --------
    >>> import numpy as np
    >>> patch = random_patch((100, 80), 32, rng=0)
    >>> [s.stop - s.start for s in patch]
    [32, 32]
    >>> labels = np.zeros((100, 80), dtype=int)
    >>> labels[90:95, 5:10] = 1
    >>> patch = random_patch(labels.shape, 16, rng=1, labels=labels, foreground_prob=1.0)
    >>> bool(labels[patch].any())
    True
    """
    shape = _as_shape(shape)
    size = _per_axis(patch_size, len(shape), "patch_size")
    if any(p > s for p, s in zip(size, shape, strict=True)):
        raise ValueError(f"`patch_size` {size} does not fit in an image of shape {shape}")
    foreground_prob = check_in_range(foreground_prob, "foreground_prob", 0, 1)
    rng = as_rng(rng)
    if labels is not None:
        labels = check_labels(labels, "labels")
        if labels.shape != shape:
            raise ValueError(
                f"`labels` must have the spatial shape {shape}, got shape {labels.shape}"
            )
    elif foreground_prob > 0:
        raise ValueError("`foreground_prob` > 0 needs `labels` to know where the foreground is")

    starts = None
    if foreground_prob > 0 and rng.random() < foreground_prob:
        foreground = np.flatnonzero(labels)
        if foreground.size:
            centre = np.unravel_index(foreground[rng.integers(foreground.size)], shape)
            starts = [
                min(max(int(c) - p // 2, 0), s - p)
                for c, p, s in zip(centre, size, shape, strict=True)
            ]
    if starts is None:
        starts = [int(rng.integers(s - p + 1)) for p, s in zip(size, shape, strict=True)]
    return tuple(slice(a, a + p) for a, p in zip(starts, size, strict=True))


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start positions of windows of size ``tile`` along an axis of ``length`` pixels."""
    if tile >= length:
        return [0]
    step = tile - overlap
    n = math.ceil((length - tile) / step) + 1
    return [min(i * step, length - tile) for i in range(n)]


def tile_slices(
    shape: Sequence[int],
    tile: int | Sequence[int],
    overlap: int | Sequence[int] = 0,
) -> list[tuple[slice, ...]]:
    """Overlapping windows that together cover an image of spatial shape ``shape``.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of the image.
    tile : int or tuple of int
        Window size, one value for all axes or one per axis. Axes shorter than the tile get a
        single window spanning the whole axis.
    overlap : int or tuple of int
        Minimum overlap of neighbouring windows in pixels, ``0 <= overlap < tile``. Windows
        advance by ``tile - overlap``; the last one along each axis is moved back to end flush
        with the border, so it may overlap its neighbour by more.

    Returns
    -------
    list of tuple of slice
        Windows in row-major order (the last axis varies fastest).

    Notes
    -----
    For tiled prediction the overlap should be at least the distance over which the network's
    output is affected by the tile border (about half its receptive field, notebook 06); the
    border band of every tile is then discarded or down-weighted by :func:`stitch`.

    Examples
    --------
    >>> [(s[0].start, s[0].stop) for s in tile_slices((10, 4), 4, 1)]
    [(0, 4), (3, 7), (6, 10)]
    >>> tile_slices((5,), 8)
    [(slice(0, 5, None),)]
    """
    shape = _as_shape(shape)
    tile = _per_axis(tile, len(shape), "tile")
    overlap = _per_axis(overlap, len(shape), "overlap", low=0)
    for t, o in zip(tile, overlap, strict=True):
        if o >= t:
            raise ValueError(f"`overlap` must be smaller than `tile`, got {o} and {t}")
    per_axis = [
        [slice(a, min(a + t, n)) for a in _tile_starts(n, t, o)]
        for n, t, o in zip(shape, tile, overlap, strict=True)
    ]
    grids = np.meshgrid(*[np.arange(len(p)) for p in per_axis], indexing="ij")
    order = zip(*[g.ravel() for g in grids], strict=True)
    return [tuple(per_axis[ax][i] for ax, i in enumerate(idx)) for idx in order]


def _edge_distance(slc: slice, length: int) -> np.ndarray:
    """Distance (in pixels, >= 0.5) of each pixel of a window to its nearest *inner* edge.

    Window edges lying on the image border do not count: no other tile can do better there.
    """
    n = slc.stop - slc.start
    pos = np.arange(n) + 0.5
    left = pos if slc.start > 0 else np.full(n, np.inf)
    right = n - pos if slc.stop < length else np.full(n, np.inf)
    return np.minimum(left, right)


def _tile_weight(slices: tuple[slice, ...], shape: tuple[int, ...], blend: str) -> np.ndarray:
    """Blending weight of every pixel of one tile (see :func:`stitch`)."""
    dists = [_edge_distance(s, n) for s, n in zip(slices, shape, strict=True)]
    if blend == "smooth":
        # Raised cosine rising from ~0 at an inner edge to 1 at half a tile inwards.
        weight = np.ones(1)
        for s, d in zip(slices, dists, strict=True):
            half = max((s.stop - s.start) / 2, 1.0)
            w1 = np.sin(0.5 * np.pi * np.minimum(d / half, 1.0)) ** 2
            weight = np.multiply.outer(weight, w1)
        return weight.reshape([s.stop - s.start for s in slices])
    # "center": how far inside the tile the pixel is, along its worst axis.
    grids = np.meshgrid(*dists, indexing="ij")
    return np.minimum.reduce(grids) if len(grids) > 1 else grids[0]


def stitch(
    tiles: Sequence[Any],
    slices: Sequence[tuple[slice, ...]],
    shape: Sequence[int],
    *,
    blend: str = "uniform",
) -> np.ndarray:
    """Assemble per-tile arrays into one image, the inverse of cutting it with :func:`tile_slices`.

    Parameters
    ----------
    tiles : sequence of arrays
        One array per window. Its last ``len(shape)`` axes are spatial and match the window;
        leading axes (e.g. channels of a network output ``(C, H, W)``) are kept as they are.
    slices : sequence of tuple of slice
        The windows, e.g. from :func:`tile_slices`.
    shape : tuple of int
        Spatial shape of the full image.
    blend : {"uniform", "smooth", "center"}
        How overlapping tiles are combined.

        - ``"uniform"``: plain average of all tiles covering a pixel.
        - ``"smooth"``: weighted average; a tile's weight falls smoothly (raised cosine) to
          almost zero at its edges inside the image, so seams between tiles disappear.
        - ``"center"``: no averaging; each pixel comes from the tile in which it lies
          farthest from an inner edge. The only choice for label images (averaging ids
          would invent new ones).

    Returns
    -------
    numpy.ndarray
        Array of shape ``leading_axes + shape`` with the tiles' dtype (integer tiles need
        ``blend="center"``).

    Notes
    -----
    Convolutional networks see zero padding near a tile's edge, so their output there is
    less reliable than in the tile's centre. ``"smooth"`` and ``"center"`` both trust the
    centre more; with an overlap of about half the receptive field they give the same result
    as predicting the whole image at once (notebook 05).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((3, 20, 30))  # channels first
    >>> windows = tile_slices(image.shape[1:], 8, 3)
    >>> tiles = [image[(slice(None),) + w] for w in windows]
    >>> out = stitch(tiles, windows, image.shape[1:], blend="smooth")
    >>> out.shape, bool(np.allclose(out, image))
    ((3, 20, 30), True)
    """
    shape = _as_shape(shape)
    check_choice(blend, "blend", BLEND_MODES)
    if len(tiles) != len(slices):
        raise ValueError(
            f"`tiles` and `slices` must have the same length, got {len(tiles)} and {len(slices)}"
        )
    if len(tiles) == 0:
        raise ValueError("`tiles` must contain at least one tile")
    ndim = len(shape)
    arrays = [check_array(t, "tiles") for t in tiles]
    lead = arrays[0].shape[: arrays[0].ndim - ndim]
    dtype = np.result_type(*[a.dtype for a in arrays])
    if dtype.kind in "biu" and blend != "center":
        raise ValueError(
            f"integer tiles (dtype {dtype}) cannot be averaged without inventing new values; "
            "use blend='center'"
        )
    for i, (a, s) in enumerate(zip(arrays, slices, strict=True)):
        if len(s) != ndim:
            raise ValueError(f"`slices[{i}]` must have {ndim} slices, got {len(s)}")
        if any(sl.stop > n or sl.start < 0 for sl, n in zip(s, shape, strict=True)):
            raise ValueError(f"`slices[{i}]` {s} lies outside an image of shape {shape}")
        expected = lead + tuple(sl.stop - sl.start for sl in s)
        if a.shape != expected:
            raise ValueError(f"`tiles[{i}]` must have shape {expected}, got {a.shape}")

    if blend == "center":
        out = np.zeros(lead + shape, dtype=dtype)
        best = np.full(shape, -np.inf)
        for a, s in zip(arrays, slices, strict=True):
            w = _tile_weight(s, shape, blend)
            better = w > best[s]
            best[s] = np.where(better, w, best[s])
            region = out[(Ellipsis,) + s]
            out[(Ellipsis,) + s] = np.where(better, a, region)
        covered = best > -np.inf
    else:
        acc = np.zeros(lead + shape, dtype=np.float64)
        total = np.zeros(shape, dtype=np.float64)
        for a, s in zip(arrays, slices, strict=True):
            w = (
                np.ones([sl.stop - sl.start for sl in s])
                if blend == "uniform"
                else _tile_weight(s, shape, blend)
            )
            acc[(Ellipsis,) + s] += a * w
            total[s] += w
        covered = total > 0
        out = (acc / np.where(covered, total, 1.0)).astype(dtype, copy=False)
    if not covered.all():
        raise ValueError(f"the tiles leave {int((~covered).sum())} pixel(s) of `shape` uncovered")
    return out


def center_crop(array: Any, size: int | Sequence[int]) -> np.ndarray:
    """Crop the centre of the last ``len(size)`` axes of ``array`` (leading axes are kept).

    Used to cut a training patch out of a larger region that was augmented with a margin,
    so that rotations and elastic deformations never show their borders in the patch.

    Parameters
    ----------
    array : numpy.ndarray
        The array to crop.
    size : int or tuple of int
        Output size of the last axes; an int applies to the last two axes.

    Returns
    -------
    numpy.ndarray
        A view of ``array`` (copy it before writing into it).

    Examples
    --------
    >>> import numpy as np
    >>> center_crop(np.arange(25).reshape(5, 5), 3)[0]
    array([6, 7, 8])
    """
    array = check_array(array, "array", numeric=False)
    size = (size, size) if np.isscalar(size) else tuple(size)
    if len(size) > array.ndim:
        raise ValueError(f"`size` {size} has more axes than `array` of shape {array.shape}")
    size = _per_axis(size, len(size), "size")
    spatial = array.shape[array.ndim - len(size) :]
    if any(c > n for c, n in zip(size, spatial, strict=True)):
        raise ValueError(f"`size` {size} is larger than the array's last axes {spatial}")
    starts = [(n - c) // 2 for c, n in zip(size, spatial, strict=True)]
    return array[(Ellipsis,) + tuple(slice(a, a + c) for a, c in zip(starts, size, strict=True))]
