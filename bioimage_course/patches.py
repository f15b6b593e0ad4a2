"""Patches: random crops for training, overlapping tiles for prediction, and stitching them back.

Notebook 04 crops training patches (:func:`random_patch`, biased towards foreground when
objects are sparse); notebook 05 predicts large images tile by tile (:func:`tile_slices`,
:func:`stitch`, used by :func:`bioimage_course.predict.predict_tiled`).

One rule sets the overlap: near a tile's inner edge the network sees zero padding, and that
reaches ``margin`` pixels inwards (half the receptive field,
:func:`bioimage_course.receptive_field.context_margin`). ``stitch(..., blend="smooth",
margin=margin)`` gives those pixels no weight, so neighbouring tiles must overlap by at least
``2 * margin``, about the whole receptive field
(:func:`bioimage_course.receptive_field.recommended_overlap`); then stitching equals predicting
the whole image at once. Windows are tuples of slices over the spatial axes.

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
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._validate import (
    as_rng,
    check_array,
    check_choice,
    check_in_range,
    check_int,
    check_labels,
    check_sizes,
)

__all__ = [
    "BLEND_MODES",
    "blend_profile",
    "center_crop",
    "random_patch",
    "stitch",
    "tile_slices",
    "window_starts",
]

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


def random_patch(
    shape: Sequence[int],
    patch_size: int | Sequence[int],
    *,
    rng: Any = None,
    labels: Any = None,
    foreground_prob: float = 0.0,
) -> tuple[slice, ...]:
    """Choose a random patch inside an image of spatial shape ``shape``; returns its slices.

    With probability ``foreground_prob`` the patch is centred on a random pixel of
    ``labels > 0`` (shifted to stay inside the image) instead of placed uniformly: with sparse
    objects most uniform patches are empty and a network learns to predict "nothing". Keep it
    below 1 so that empty regions are still learned as empty.

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
    size = check_sizes(patch_size, "patch_size", len(shape))
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


def window_starts(length: int, tile: int, overlap: int = 0) -> list[int]:
    """Start positions of windows of size ``tile`` along an axis of ``length`` pixels.

    Windows advance by ``tile - overlap``; the last one is moved back to end flush with the
    border. One window covers an axis no longer than the tile.

    >>> window_starts(10, 4, 1)
    [0, 3, 6]
    >>> window_starts(3, 4)
    [0]
    """
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
    """Overlapping windows of size ``tile`` that together cover an image of spatial shape ``shape``.

    Along each axis, :func:`window_starts`; the windows come in row-major order. ``overlap`` is
    the minimum overlap (``0 <= overlap < tile``); an axis shorter than the tile gets one window.

    >>> [(s[0].start, s[0].stop) for s in tile_slices((10, 4), 4, 1)]
    [(0, 4), (3, 7), (6, 10)]
    >>> tile_slices((5,), 8)
    [(slice(0, 5, None),)]
    """
    shape = _as_shape(shape)
    tile = check_sizes(tile, "tile", len(shape))
    overlap = check_sizes(overlap, "overlap", len(shape), low=0)
    for t, o in zip(tile, overlap, strict=True):
        if o >= t:
            raise ValueError(f"`overlap` must be smaller than `tile`, got {o} and {t}")
    per_axis = [
        [slice(a, min(a + t, n)) for a in window_starts(n, t, o)]
        for n, t, o in zip(shape, tile, overlap, strict=True)
    ]
    grids = np.meshgrid(*[np.arange(len(p)) for p in per_axis], indexing="ij")
    order = zip(*[g.ravel() for g in grids], strict=True)
    return [tuple(per_axis[ax][i] for ax, i in enumerate(idx)) for idx in order]


def blend_profile(n: int, *, left: bool, right: bool, margin: int = 0) -> np.ndarray:
    """The 1D weight of ``blend="smooth"`` across a tile of ``n`` pixels.

    Zero for the ``margin`` pixels next to an inner edge (``left``/``right`` say which edges lie
    inside the image), then a raised cosine ``sin(pi/2 * t)**2`` rising to 1 at the tile's
    centre. Edges on the image border keep weight 1: no other tile can do better there.

    Examples
    --------
    >>> blend_profile(8, left=True, right=False, margin=1).round(2)
    array([0.  , 0.15, 0.5 , 0.85, 1.  , 1.  , 1.  , 1.  ])
    """
    ramp = max(n // 2 - margin, 1)
    k = np.arange(n, dtype=np.float64)

    def rise(distance: np.ndarray) -> np.ndarray:
        t = np.clip((distance - margin + 1) / (ramp + 1), 0.0, 1.0)
        return np.where(distance < margin, 0.0, np.sin(0.5 * np.pi * t) ** 2)

    weight = np.ones(n)
    if left:
        weight *= rise(k)
    if right:
        weight *= rise(n - 1 - k)
    return weight


def _axis_profile(window: slice, length: int, blend: str, margin: int) -> np.ndarray:
    """The weight along one axis of a window (``blend`` "uniform" or "smooth")."""
    n = window.stop - window.start
    if blend == "uniform":
        return np.ones(n)
    return blend_profile(n, left=window.start > 0, right=window.stop < length, margin=margin)


def _tile_weight(slices: tuple[slice, ...], shape: tuple[int, ...], blend: str, margin: int):
    """Weight of every pixel of one tile (see :func:`stitch`)."""
    if blend != "center":  # a product of per-axis profiles
        weight = np.ones(())
        for s, n in zip(slices, shape, strict=True):
            weight = np.multiply.outer(weight, _axis_profile(s, n, blend, margin))
        return weight
    # "center": how far inside the tile the pixel is (in pixels, >= 0.5), along its worst
    # axis; window edges on the image border do not count
    dists = []
    for s, n in zip(slices, shape, strict=True):
        pos = np.arange(s.stop - s.start) + 0.5
        left = pos if s.start > 0 else np.full(pos.size, np.inf)
        right = pos[::-1] if s.stop < n else np.full(pos.size, np.inf)
        dists.append(np.minimum(left, right))
    return np.minimum.reduce(np.meshgrid(*dists, indexing="ij"))


def _grid_totals(slices, shape: tuple[int, ...], blend: str, margin: int):
    """Per-axis sums of the weights when the windows form a full grid; None otherwise.

    Weights are products of per-axis profiles, so on a grid their sum at ``(r, c)`` is
    ``totals[0][r] * totals[1][c]``: tiles are normalised as they come, with no full-size sum.
    """
    per_axis = [sorted({(w[a].start, w[a].stop) for w in slices}) for a in range(len(shape))]
    distinct = {tuple((w.start, w.stop) for w in window) for window in slices}
    if len(distinct) != len(slices) or len(slices) != math.prod(len(p) for p in per_axis):
        return None
    totals = []
    for axis, windows in enumerate(per_axis):
        total = np.zeros(shape[axis])
        for start, stop in windows:
            total[start:stop] += _axis_profile(slice(start, stop), shape[axis], blend, margin)
        totals.append(total)
    return totals


def stitch(
    tiles: Iterable[Any],
    slices: Sequence[tuple[slice, ...]],
    shape: Sequence[int],
    *,
    blend: str = "uniform",
    margin: int = 0,
) -> np.ndarray:
    """Assemble per-tile arrays into one image, the inverse of cutting it with :func:`tile_slices`.

    Each tile's last ``len(shape)`` axes match its window; leading axes (channels) are kept.
    Tiles are read one at a time, so a generator of predictions never holds more than one.
    ``blend``:

    - ``"uniform"``: plain average of all tiles covering a pixel.
    - ``"smooth"``: weighted average with :func:`blend_profile`, zero within ``margin`` pixels
      of inner edges: no seams.
    - ``"center"``: each pixel from the tile where it lies farthest from an inner edge; the only
      choice for labels (averaging ids would invent new ones).

    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((3, 20, 30))  # channels first
    >>> windows = tile_slices(image.shape[1:], 8, 4)
    >>> tiles = (image[(slice(None),) + w] for w in windows)
    >>> out = stitch(tiles, windows, image.shape[1:], blend="smooth", margin=2)
    >>> out.shape, bool(np.allclose(out, image))
    ((3, 20, 30), True)
    """
    shape = _as_shape(shape)
    check_choice(blend, "blend", BLEND_MODES)
    margin = check_int(margin, "margin", 0)
    if len(slices) == 0:
        raise ValueError("`tiles` must contain at least one tile")
    _check_windows(slices, shape)
    totals = None if blend == "center" else _grid_totals(slices, shape, blend, margin)
    out = best = total = None
    tiles = iter(tiles)
    for i, window in enumerate(slices):
        tile = next(tiles, None)
        if tile is None:
            raise ValueError(
                f"`tiles` and `slices` must have the same length, got {i} and {len(slices)}"
            )
        tile = _check_tile(tile, i, window, shape)
        if out is None:
            lead, dtype = tile.shape[: tile.ndim - len(shape)], tile.dtype
            if dtype.kind in "biu" and blend != "center":
                raise ValueError(
                    f"integer tiles (dtype {dtype}) cannot be averaged without inventing new "
                    "values; use blend='center'"
                )
            work = dtype if blend == "center" else np.result_type(dtype, np.float32)
            out = np.zeros(lead + shape, dtype=work)
            best = np.full(shape, -np.inf) if blend == "center" else None
            total = np.zeros(shape) if blend != "center" and totals is None else None
        elif tile.shape[: len(lead)] != lead or tile.ndim != len(lead) + len(shape):
            raise ValueError(f"`tiles[{i}]` must have leading axes {lead}, got shape {tile.shape}")
        weight = _tile_weight(window, shape, blend, margin)
        if blend == "center":
            better = weight > best[window]
            best[window] = np.where(better, weight, best[window])
            out[(Ellipsis, *window)] = np.where(better, tile, out[(Ellipsis, *window)])
        elif totals is not None:  # normalised now: the weights of a pixel sum to 1
            sums = np.ones(())
            for axis, s in enumerate(window):
                sums = np.multiply.outer(sums, totals[axis][s])
            out[(Ellipsis, *window)] += tile * np.divide(weight, sums, where=sums > 0, out=sums)
        else:
            out[(Ellipsis, *window)] += tile * weight
            total[window] += weight
    if next(tiles, None) is not None:
        raise ValueError(f"`tiles` must have the same length as `slices` ({len(slices)}), got more")
    if totals is not None:  # on a grid, a pixel has weight if its row and its column have
        n_uncovered = math.prod(shape) - math.prod(int((t > 0).sum()) for t in totals)
    else:
        n_uncovered = int((best == -np.inf).sum() if blend == "center" else (total == 0).sum())
    if n_uncovered:
        raise ValueError(
            f"the tiles leave {n_uncovered} pixel(s) of `shape` uncovered (or without weight: "
            "tiles must overlap by at least 2 * `margin`)"
        )
    if total is not None:
        out /= total
    return out.astype(dtype, copy=False)


def _check_windows(slices, shape: tuple[int, ...]) -> None:
    for i, window in enumerate(slices):
        if len(window) != len(shape):
            raise ValueError(f"`slices[{i}]` must have {len(shape)} slices, got {len(window)}")
        if any(s.stop > n or s.start < 0 for s, n in zip(window, shape, strict=True)):
            raise ValueError(f"`slices[{i}]` {window} lies outside an image of shape {shape}")


def _check_tile(tile: Any, i: int, window: tuple[slice, ...], shape: tuple[int, ...]):
    tile = check_array(tile, "tiles")
    spatial = tuple(s.stop - s.start for s in window)
    if tile.shape[tile.ndim - len(shape) :] != spatial:
        raise ValueError(f"`tiles[{i}]` must have spatial shape {spatial}, got {tile.shape}")
    return tile


def center_crop(array: Any, size: int | Sequence[int]) -> np.ndarray:
    """Crop the centre of the last ``len(size)`` axes of ``array`` (an int: the last two); a view.

    Cuts a training patch out of a region augmented with a margin, so that rotations and
    elastic deformations never show their borders.

    >>> import numpy as np
    >>> center_crop(np.arange(25).reshape(5, 5), 3)[0]
    array([6, 7, 8])
    """
    array = check_array(array, "array", numeric=False)
    size = (size, size) if np.isscalar(size) else tuple(size)
    if len(size) > array.ndim:
        raise ValueError(f"`size` {size} has more axes than `array` of shape {array.shape}")
    size = check_sizes(size, "size", len(size))
    spatial = array.shape[array.ndim - len(size) :]
    if any(c > n for c, n in zip(size, spatial, strict=True)):
        raise ValueError(f"`size` {size} is larger than the array's last axes {spatial}")
    starts = [(n - c) // 2 for c, n in zip(size, spatial, strict=True)]
    return array[(Ellipsis,) + tuple(slice(a, a + c) for a, c in zip(starts, size, strict=True))]
