"""Synthetic multi-dimensional images: channels, z-stacks and time series, with their axes.

Notebook 01. A microscopy image often has several *channels* (C), optical sections (Z) or
frames (T). These functions return a :class:`SyntheticImage`: the array, its axes string
(``"CYX"``, ``"ZYX"``, ``"TYX"``), physical sizes and exact labels, ready for
``write_tiff(path, image.data, **image.metadata)`` (:func:`bioimage_course.io.write_tiff`).
Shared options: ``preset``, ``rng`` and nuclei ``params`` as in
:func:`bioimage_course.data.make_nuclei`.

>>> cells = make_nuclei_channels((64, 64), rng=0)
>>> cells.data.shape, cells.axes, cells.channel_names
((2, 64, 64), 'CYX', ('nuclei', 'membrane'))
>>> sorted(cells.metadata)
['axes', 'channel_names', 'pixel_size_um']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import expand_labels, find_boundaries

from .._validate import as_rng, check_in_range
from ..labels import relabel_sequential
from .synthetic.params import NucleiParams
from .synthetic.raster import rasterize
from .synthetic.render import (
    camera,
    expected_photons,
    illumination_field,
    nuclear_signal,
    render_nuclei,
    texture_field,
)
from .synthetic.scene import check_shape, make_scene

__all__ = [
    "SyntheticImage",
    "make_nuclei_channels",
    "make_nuclei_zstack",
    "make_nuclei_timelapse",
]


@dataclass
class SyntheticImage:
    """A synthetic multi-dimensional image with its axes, physical sizes and exact labels.

    ``labels`` cover the spatial axes (and Z or T where ``data`` has them); in a time series a
    nucleus keeps its label in every frame (a track). ``cell_labels``: whole cells, same ids.
    """

    data: np.ndarray
    labels: np.ndarray
    axes: str
    pixel_size_um: float
    z_step_um: float | None = None
    time_interval_s: float | None = None
    channel_names: tuple[str, ...] | None = None
    cell_labels: np.ndarray | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        """Keyword arguments for :func:`bioimage_course.io.write_tiff` (axes and sizes)."""
        out: dict[str, Any] = {"axes": self.axes, "pixel_size_um": self.pixel_size_um}
        for name in ("z_step_um", "time_interval_s", "channel_names"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def make_nuclei_channels(
    shape: tuple[int, int] = (256, 256),
    *,
    preset: str | None = None,
    rng: Any = None,
    cell_radius_um: float = 7.0,
    membrane_brightness: float = 0.6,
    **params: Any,
) -> SyntheticImage:
    """Two channels of the same cells: nuclei (DAPI-like) and cell membranes (``"CYX"``).

    Each cell grows from its nucleus until it meets a neighbour or reaches ``cell_radius_um``
    beyond the nucleus edge; the membrane channel (``membrane_brightness`` relative to the
    nuclei) shows outlines brightly and cytoplasm faintly. ``cell_labels`` share the nucleus ids.

    >>> img = make_nuclei_channels((96, 96), rng=1)
    >>> bool(((img.labels > 0) <= (img.cell_labels > 0)).all())  # nuclei lie inside cells
    True
    >>> bool(np.array_equal(np.unique(img.labels), np.unique(img.cell_labels)))
    True
    """
    grow = check_in_range(cell_radius_um, "cell_radius_um", 0)
    brightness = check_in_range(membrane_brightness, "membrane_brightness", 0)
    rng = as_rng(rng)
    scene = make_scene(shape, preset=preset, rng=rng, **params)
    p = scene.params
    nuclei, labels = render_nuclei(scene, rng=rng)
    cells = expand_labels(labels, distance=grow / p.pixel_size_um).astype(np.int32)
    # membrane channel: bright outlines, faint cytoplasm, cell-to-cell brightness differences
    n = int(cells.max())
    cell_brightness = np.concatenate([[0.0], np.exp(0.3 * rng.standard_normal(n))])
    outline = find_boundaries(cells, mode="inner")
    signal = np.where(outline, 1.0, 0.15 * (cells > 0)) * cell_brightness[cells]
    sigma = p.psf_sigma_um / p.pixel_size_um
    signal = ndi.gaussian_filter(signal, sigma) if sigma > 0 else signal
    rows_um = (np.arange(shape[0]) + 0.5) * p.pixel_size_um
    cols_um = (np.arange(shape[1]) + 0.5) * p.pixel_size_um
    expected = illumination_field(scene, rows_um, cols_um, p.shading) * (
        brightness * p.signal_photons * signal + p.background_photons
    )
    membrane = camera(expected, p, rng)
    return SyntheticImage(
        data=np.stack([nuclei, membrane]),
        labels=labels,
        axes="CYX",
        pixel_size_um=p.pixel_size_um,
        channel_names=("nuclei", "membrane"),
        cell_labels=cells,
    )


def make_nuclei_zstack(
    shape: tuple[int, int, int] = (16, 128, 128),
    *,
    preset: str | None = None,
    rng: Any = None,
    z_step_um: float = 1.0,
    thickness: float = 0.45,
    psf_sigma_z_um: float = 1.5,
    **params: Any,
) -> SyntheticImage:
    """A z-stack ``(slices, rows, columns)`` of optical sections through flattened nuclei.

    Nuclei are ellipsoids ``thickness`` times as thick as wide, at slightly different heights;
    the axial blur ``psf_sigma_z_um`` is longer than the lateral one, so nuclei fade in and out
    of focus over several slices (it replaces ``haze`` and ``dome``).

    >>> stack = make_nuclei_zstack((8, 64, 64), rng=0, z_step_um=1.5)
    >>> stack.data.shape, stack.axes, stack.z_step_um
    ((8, 64, 64), 'ZYX', 1.5)
    """
    shape = check_shape(shape, "shape", ndim=3)
    dz = check_in_range(z_step_um, "z_step_um", 0, low_inclusive=False)
    ratio = check_in_range(thickness, "thickness", 0, 1, low_inclusive=False)
    sigma_z = check_in_range(psf_sigma_z_um, "psf_sigma_z_um", 0)
    rng = as_rng(rng)
    scene = make_scene(shape[1:], preset=preset, rng=rng, **params)
    p = scene.params
    if p.stain != "nuclear":
        raise ValueError(f"`stain` must be 'nuclear' for a z-stack, got {p.stain!r}")
    px = p.pixel_size_um
    n, depth = len(scene), shape[0] * dz
    z_center = rng.uniform(0.3 * depth, 0.7 * depth, size=n)
    half = 0.5 * ratio * scene.diameter_um
    z_um = (np.arange(shape[0]) + 0.5) * dz
    # cross-section of nucleus i in slice z: its outline scaled by sqrt(1 - ((z - zc) / h)^2)
    rel = (z_um[:, None] - z_center[None, :]) / half[None, :]
    plane, obj = np.nonzero(np.abs(rel) < 1.0)
    scale = np.sqrt(1.0 - rel[plane, obj] ** 2)
    raster = rasterize(
        shape,
        scene.centers_um[obj] / px - 0.5,
        scene.radii_um[obj] * scale[:, None] / px,
        plane=plane,
        ids=obj + 1,
    )
    # the chromatin texture changes slowly along z: two fields mixed with a z-dependent phase
    rows_um = (np.arange(shape[1]) + 0.5) * px
    cols_um = (np.arange(shape[2]) + 0.5) * px
    second = scene.waves.copy()
    second[:, 2] = rng.uniform(0.0, 2.0 * np.pi, len(second))
    t1 = texture_field(scene.waves, rows_um, cols_um, px)
    t2 = texture_field(second, rows_um, cols_um, px)
    omega = np.pi / (2.0 * p.texture_scale_um)
    texture = np.cos(omega * z_um)[:, None, None] * t1 + np.sin(omega * z_um)[:, None, None] * t2
    # raster.obj numbers the cross-sections; the nucleus of cross-section k is obj[k]
    per_nucleus = dataclasses.replace(raster, obj=obj[raster.obj])
    signal = nuclear_signal(scene, per_nucleus, texture.size, px, texture, dome=False)
    signal = signal.reshape(shape)
    sigmas = (sigma_z / dz, p.psf_sigma_um / px, p.psf_sigma_um / px)
    if any(sigmas):
        signal = ndi.gaussian_filter(signal, sigmas)
    light = illumination_field(scene, rows_um, cols_um, p.shading)
    expected = light[None] * (p.signal_photons * signal + p.background_photons)
    image = camera(expected, p, rng)
    return SyntheticImage(
        data=image,
        labels=relabel_sequential(raster.labels)[0].astype(np.int32),
        axes="ZYX",
        pixel_size_um=px,
        z_step_um=dz,
    )


def make_nuclei_timelapse(
    shape: tuple[int, int, int] = (8, 128, 128),
    *,
    preset: str | None = None,
    rng: Any = None,
    time_interval_s: float = 60.0,
    motion_um: float = 0.8,
    drift_um: tuple[float, float] = (0.0, 0.0),
    bleaching: float = 0.03,
    **params: Any,
) -> SyntheticImage:
    """A time series ``(frames, rows, columns)`` of moving nuclei whose labels keep their id.

    Each nucleus steps randomly every frame (``motion_um`` per axis), the field drifts by
    ``drift_um`` per frame, and the dye loses ``bleaching`` of its signal per frame; a nucleus'
    texture moves with it.

    >>> movie = make_nuclei_timelapse((4, 64, 64), rng=0)
    >>> movie.data.shape, movie.axes, movie.time_interval_s
    ((4, 64, 64), 'TYX', 60.0)
    """
    shape = check_shape(shape, "shape", ndim=3)
    dt = check_in_range(time_interval_s, "time_interval_s", 0, low_inclusive=False)
    motion = check_in_range(motion_um, "motion_um", 0)
    bleach = check_in_range(bleaching, "bleaching", 0, 1, high_inclusive=False)
    try:
        drift = np.array([float(d) for d in drift_um])
    except (TypeError, ValueError):
        raise TypeError(f"`drift_um` must be a (rows, columns) pair, got {drift_um!r}") from None
    if drift.shape != (2,):
        raise ValueError(f"`drift_um` must be a (rows, columns) pair, got {drift_um!r}")
    rng = as_rng(rng)
    scene = make_scene(shape[1:], preset=preset, rng=rng, **params)
    p: NucleiParams = scene.params
    n = len(scene)
    steps = motion * rng.standard_normal((shape[0], n, 2)) + drift
    steps[0] = 0.0
    paths = scene.centers_um[None] + np.cumsum(steps, axis=0)
    frames, labels = [], []
    for t in range(shape[0]):
        moved = dataclasses.replace(
            scene, centers_um=paths[t], brightness=scene.brightness * (1.0 - bleach) ** t
        )
        expected, lab = expected_photons(moved, p, shape[1:], texture_shift_um=paths[t] - paths[0])
        frames.append(camera(expected, p, rng))
        labels.append(lab)
    return SyntheticImage(
        data=np.stack(frames),
        labels=relabel_sequential(np.stack(labels))[0].astype(np.int32),
        axes="TYX",
        pixel_size_um=p.pixel_size_um,
        time_interval_s=dt,
    )
