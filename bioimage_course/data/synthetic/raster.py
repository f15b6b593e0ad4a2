"""Drawing outlines on a pixel grid: which pixel belongs to which nucleus.

Introduced in notebook 01 (digital images). Pixel ``(r, c)`` belongs to nucleus ``i`` when the
centre of that pixel lies inside the nucleus' outline; where two nuclei press against each
other it goes to the one whose outline it lies deeper inside, and every label is kept as one
4-connected piece.

Examples
--------
Two round nuclei of radius 2 pixels whose outlines overlap; the pixels they share go to the
one they lie deeper inside:

>>> import numpy as np
>>> centers = np.array([[3.0, 2.5], [3.0, 6.0]])
>>> radii = np.full((2, N_ANGLES), 2.0)
>>> print(rasterize((1, 7, 9), centers, radii).labels[0])
[[0 0 0 0 0 0 0 0 0]
 [0 0 0 0 0 0 0 0 0]
 [0 1 1 1 1 2 2 2 0]
 [0 1 1 1 1 2 2 2 0]
 [0 1 1 1 1 2 2 2 0]
 [0 0 0 0 0 0 0 0 0]
 [0 0 0 0 0 0 0 0 0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.measure import label as connected_components

from .params import N_ANGLES


@dataclass
class Raster:
    """Result of rasterising outlines on a pixel grid (planes x rows x columns)."""

    labels: np.ndarray  # (P, H, W) int32, object index + 1
    flat: np.ndarray  # flat pixel index of every foreground pixel
    obj: np.ndarray  # its object index
    depth: np.ndarray  # its normalised distance from the centre (0 centre, 1 edge)
    dy: np.ndarray  # offset from the centre, pixels
    dx: np.ndarray


def rasterize(
    grid: tuple[int, int, int],
    centers: np.ndarray,
    radii: np.ndarray,
    plane: np.ndarray | None = None,
    ids: np.ndarray | None = None,
) -> Raster:
    """Draw star-shaped outlines (centres and radii in pixel units) on a (P, H, W) grid.

    A pixel belongs to the object it lies deepest inside (smallest distance from the centre
    relative to the outline's radius in that direction); each object keeps only its largest
    4-connected piece. ``ids[i]`` is the label of object ``i`` (default ``i + 1``).
    """
    n_planes, h, w = grid
    n = len(centers)
    ids = np.arange(1, n + 1) if ids is None else np.asarray(ids)
    plane = np.zeros(n, np.intp) if plane is None else np.asarray(plane, np.intp)
    cy, cx = centers[:, 0], centers[:, 1]
    rmax = radii.max(1) if n else np.zeros(0)
    # the rows each object's bounding circle spans ...
    y0 = np.clip(np.ceil(cy - rmax), 0, h).astype(np.intp)
    y1 = np.clip(np.floor(cy + rmax) + 1, 0, h).astype(np.intp)
    n_rows = np.maximum(y1 - y0, 0)
    row_obj = np.repeat(np.arange(n), n_rows)
    row = y0[row_obj] + np.arange(row_obj.size) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    # ... and in each row, the columns inside the circle: every candidate pixel, as one flat list
    half = np.sqrt(np.maximum(rmax[row_obj] ** 2 - (row - cy[row_obj]) ** 2, 0.0))
    x0 = np.clip(np.ceil(cx[row_obj] - half), 0, w).astype(np.intp)
    x1 = np.clip(np.floor(cx[row_obj] + half) + 1, 0, w).astype(np.intp)
    n_cols = np.maximum(x1 - x0, 0)
    pix_row = np.repeat(np.arange(row_obj.size), n_cols)
    cols = x0[pix_row] + np.arange(pix_row.size) - np.repeat(np.cumsum(n_cols) - n_cols, n_cols)
    obj = row_obj[pix_row]
    dy = (row - cy[row_obj])[pix_row]
    dx = cols - cx[obj]
    t = np.arctan2(dy, dx)
    t *= N_ANGLES / (2.0 * np.pi)
    t %= N_ANGLES
    i0 = np.minimum(t.astype(np.intp), N_ANGLES - 1)
    frac = t - i0
    at = obj * N_ANGLES + i0
    flat_radii = radii.ravel()
    edge = flat_radii[at] * (1.0 - frac)
    at += 1
    at[i0 == N_ANGLES - 1] -= N_ANGLES
    edge += flat_radii[at] * frac
    depth = np.hypot(dy, dx)
    depth /= edge
    inside = np.flatnonzero(depth < 1.0)
    row_start = (plane[row_obj] * h + row) * w  # flat index of each row's first pixel
    flat = row_start[pix_row[inside]] + cols[inside]
    obj, depth, dy, dx = obj[inside], depth[inside], dy[inside], dx[inside]
    # competition: the smallest relative depth wins the pixel
    best = np.full(n_planes * h * w, np.inf)
    np.minimum.at(best, flat, depth)
    labels = np.zeros(n_planes * h * w, np.int32)
    win = depth == best[flat]
    labels[flat[win]] = ids[obj[win]]
    labels = labels.reshape(grid)
    for z in range(n_planes):
        labels[z] = _largest_pieces(labels[z])
    mine = labels.ravel()[flat] == ids[obj]
    return Raster(labels, flat[mine], obj[mine], depth[mine], dy[mine], dx[mine])


def _largest_pieces(labels: np.ndarray) -> np.ndarray:
    """Keep, for every label, only its largest 4-connected piece (the rest becomes 0)."""
    pieces = connected_components(labels, background=0, connectivity=1)
    n_pieces = int(pieces.max())
    n_labels = int(np.count_nonzero(np.bincount(labels.ravel())[1:]))
    if n_pieces == n_labels:
        return labels
    owner = np.zeros(n_pieces + 1, np.int64)
    owner[pieces.ravel()] = labels.ravel()
    size = np.bincount(pieces.ravel(), minlength=n_pieces + 1)
    order = np.lexsort((-size[1:], owner[1:])) + 1  # by owner, largest piece first
    first = np.ones(order.size, bool)
    first[1:] = owner[order[1:]] != owner[order[:-1]]
    keep = np.zeros(n_pieces + 1, bool)
    keep[order[first]] = True
    out = labels.copy()
    out[~keep[pieces]] = 0
    return out
