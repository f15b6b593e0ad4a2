"""The acquisition: optics, illumination and camera turn a scene into an image (notebook 01).

:func:`render_nuclei` blurs the sample (a Gaussian point spread function plus out-of-focus
haze), shades it (uneven illumination), draws photons (Poisson shot noise), adds read noise
and an offset, and rounds to the camera's bit depth; :func:`make_nuclei` does both steps.

>>> image, labels = make_nuclei((64, 64), preset="easy", rng=0)
>>> image.dtype, int(labels.max()) > 0
(dtype('uint16'), True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..._validate import as_rng
from ...labels import relabel_sequential
from .params import ACQUISITION_FIELDS, MAX_NUCLEOLI, NucleiParams, check_param_names
from .raster import Raster, rasterize
from .scene import NucleiScene, check_shape, make_scene


def texture_field(
    waves: np.ndarray, rows_um: np.ndarray, cols_um: np.ndarray, pixel_um: float
) -> np.ndarray:
    """Sum of plane waves on a grid, averaged over each pixel (no aliasing), via one matmul.

    ``cos(ky y + kx x + p) = cos(ky y + p) cos(kx x) - sin(ky y + p) sin(kx x)``: the field is
    ``A @ B``, ``A`` (rows x 2K), ``B`` (2K x columns). Averaging over a pixel of width ``a``
    multiplies a wave by ``sinc(k a / 2 pi)`` along each axis.
    """
    ky, kx, phase, amp = waves.T
    amp = amp * np.sinc(ky * pixel_um / (2 * np.pi)) * np.sinc(kx * pixel_um / (2 * np.pi))
    arg_y = rows_um[:, None] * ky[None, :] + phase[None, :]
    arg_x = cols_um[:, None] * kx[None, :]
    a = np.concatenate([np.cos(arg_y) * amp, -np.sin(arg_y) * amp], axis=1)
    b = np.concatenate([np.cos(arg_x), np.sin(arg_x)], axis=1).T
    return a @ b


def nuclear_signal(
    scene: NucleiScene,
    raster: Raster,
    n_cells: int,
    px: float,
    texture_map: np.ndarray,
    texture_index: np.ndarray | None = None,
    dome: bool = True,
) -> np.ndarray:
    """Relative brightness (1 = average nucleus) of every grid cell, before blur."""
    obj = raster.obj
    value = scene.brightness[obj].copy()
    if dome:
        d = scene.dome[obj]
        value *= 1.0 - d * (1.0 - np.sqrt(np.maximum(1.0 - raster.depth**2, 0.0)))
    tex = texture_map.ravel()[raster.flat if texture_index is None else texture_index]
    value *= np.maximum(1.0 + scene.texture[obj] * tex, 0.05)
    for k in range(MAX_NUCLEOLI):  # dark nucleoli, only where a nucleus has one in slot k
        sel = np.flatnonzero(scene.nucleoli[obj, k, 3] > 0)
        if sel.size == 0:
            continue
        oy, ox, sigma, depth_k = (scene.nucleoli[obj[sel], k, i] for i in range(4))
        r2 = (raster.dy[sel] - oy / px) ** 2 + (raster.dx[sel] - ox / px) ** 2
        value[sel] *= 1.0 - depth_k * np.exp(-0.5 * r2 / (sigma / px) ** 2)
    signal = np.zeros(n_cells, np.float64)
    signal[raster.flat] = value
    return signal


def _envelope_signal(
    scene: NucleiScene, labels: np.ndarray, px: float, rim_um: float
) -> np.ndarray:
    """Relative brightness of an envelope stain, before blur: a rim inside each outline.

    A pixel of nucleus ``i`` is on the rim when the nearest pixel centre outside it (not the
    image border) is at most ``rim_um + px / 2`` away: a distance transform of each nucleus in
    its bounding box grown by one pixel, a ring that is outside the nucleus.
    """
    reach = rim_um / px + 0.5  # in pixels
    signal = np.zeros(labels.shape, np.float64)
    for index, box in enumerate(ndi.find_objects(labels)):
        if box is None:
            continue
        grown = tuple(
            slice(max(b.start - 1, 0), min(b.stop + 1, n))
            for b, n in zip(box, labels.shape, strict=True)
        )
        inside = labels[grown] == index + 1
        if inside.all():  # the nucleus fills the whole image: no outline in view
            continue
        rim = inside & (ndi.distance_transform_edt(inside) <= reach)
        signal[grown][rim] = scene.brightness[index]
    return signal


def camera(expected: np.ndarray, p: NucleiParams, rng: np.random.Generator) -> np.ndarray:
    """Photon arrival (Poisson), read noise (Gaussian), gain, offset, rounding and saturation.

    Expected counts are rounded to 1/1024 photon first, so that last-bit floating-point
    differences between machines do not change the random draws.
    """
    expected = np.round(expected * 1024.0) / 1024.0
    electrons = rng.poisson(expected).astype(np.float32)
    if p.read_noise > 0:
        electrons += np.float32(p.read_noise) * rng.standard_normal(expected.shape, np.float32)
    counts = np.rint(np.float32(p.gain) * electrons + np.float32(p.offset))
    top = 2**p.bit_depth - 1
    return np.clip(counts, 0, top).astype(p.dtype)


def illumination_field(
    scene: NucleiScene, rows_um: np.ndarray, cols_um: np.ndarray, shading: float
) -> np.ndarray:
    """Smooth illumination field: 1 at its brightest, ``1 - shading`` at the far corner."""
    if shading == 0:
        return np.ones((rows_um.size, cols_um.size))
    yc, xc, ty, tx = scene.illumination
    h, w = scene.fov_um
    ry = (rows_um - yc)[:, None] / max(h, w)
    rx = (cols_um - xc)[None, :] / max(h, w)
    falloff = ry**2 + rx**2 + 0.3 * np.abs(ty * ry + tx * rx)
    return 1.0 - shading * falloff / falloff.max()


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    h, w = image.shape
    return image.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _upsample_matrix(n_out: int, factor: int, n_in: int) -> np.ndarray:
    """Linear interpolation from ``n_in`` block centres to ``n_out`` pixel centres."""
    pos = np.clip((np.arange(n_out) + 0.5) / factor - 0.5, 0.0, n_in - 1.0)
    i0 = np.minimum(pos.astype(np.intp), max(n_in - 2, 0))
    frac = pos - i0
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    m[rows, i0] = 1.0 - frac
    if n_in > 1:
        m[rows, i0 + 1] += frac
    return m


def _blur_and_haze(signal: np.ndarray, p: NucleiParams, px: float) -> np.ndarray:
    """Point spread function plus out-of-focus haze (a wide blur, on a coarser grid)."""
    out = (
        ndi.gaussian_filter(signal, p.psf_sigma_um / px, mode="reflect")
        if p.psf_sigma_um
        else signal
    )
    if p.haze > 0:
        sigma_px = p.haze_sigma_um / px
        h, w = signal.shape
        f = max(1, min(int(sigma_px // 2), h, w))
        hp, wp = -(-h // f) * f, -(-w // f) * f
        padded = np.pad(signal, ((0, hp - h), (0, wp - w)), mode="reflect")
        small = ndi.gaussian_filter(_block_mean(padded, f), sigma_px / f, mode="reflect")
        up_y = _upsample_matrix(h, f, small.shape[0])
        up_x = _upsample_matrix(w, f, small.shape[1])
        out = out + p.haze * (up_y @ small @ up_x.T)
    return out


def _fine_factor(
    scene: NucleiScene, px: float, shape: tuple[int, int], rim_um: float | None = None
) -> int:
    """Oversampling so that the smallest nucleus spans ~8 grid cells (a rim at least 2)."""
    dmin = float(scene.diameter_um.min()) if len(scene) else scene.params.diameter_um[0]
    cell_um = dmin / 8.0 if rim_um is None else min(dmin / 8.0, rim_um / 2.0)
    factor = math.ceil(px / cell_um - 1e-9)
    return int(max(1, min(factor, 4096 // max(shape), 64)))


def render_nuclei(
    scene: NucleiScene,
    *,
    rng: Any = None,
    shape: tuple[int, int] | None = None,
    relabel: bool = True,
    **acquisition: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Image a scene: blur, illumination, photon and camera noise, digitisation.

    ``acquisition`` changes acquisition parameters only (:data:`ACQUISITION_FIELDS`); the sample
    is fixed by the scene. ``shape`` samples the same field of view with that many pixels instead
    of a ``pixel_size_um``. Labels are sampled at pixel centres, numbered 1..N (``relabel=False``:
    nucleus ``i`` is ``i + 1`` at every pixel size). The image integrates the light over each
    pixel: small nuclei are drawn on a finer grid and averaged, as large camera pixels (binning)
    would. ``photons`` is per camera pixel, so the SNR does not change with the pixel size.

    >>> scene = make_scene((96, 96), rng=0)
    >>> sharp, lab = render_nuclei(scene, rng=1)
    >>> rims, lab_rims = render_nuclei(scene, stain="envelope", rng=1)
    >>> bool((lab == lab_rims).all())
    True
    >>> blurred, lab2 = render_nuclei(scene, psf_sigma_um=2.0, rng=1)
    >>> bool((lab == lab2).all()), bool(blurred.std() < sharp.std())
    (True, True)
    >>> tiny, tiny_labels = render_nuclei(scene, shape=(8, 8), rng=1)
    >>> tiny.shape
    (8, 8)
    """
    if not isinstance(scene, NucleiScene):
        raise TypeError(
            f"`scene` must be a NucleiScene from make_scene, got {type(scene).__name__}"
        )
    sample = [k for k in acquisition if k not in ACQUISITION_FIELDS]
    if sample:
        check_param_names({k: None for k in sample})
        raise ValueError(
            f"{sample[0]!r} describes the sample and cannot change at render time; make a new "
            f"scene with make_scene(..., {sample[0]}=...)"
        )
    if shape is not None:
        shape = check_shape(shape)
        if "pixel_size_um" in acquisition:
            raise ValueError("give either `shape` or `pixel_size_um`, not both")
        px = scene.fov_um[0] / shape[0]
        if abs(scene.fov_um[1] / px - shape[1]) > 0.5 + 1e-9:
            raise ValueError(
                f"`shape` {shape} does not match the field of view's aspect ratio "
                f"{scene.fov_um[0]:g} x {scene.fov_um[1]:g} um (square pixels)"
            )
        acquisition["pixel_size_um"] = px
    if "photons" in acquisition and "snr" not in acquisition:
        acquisition["snr"] = None  # an explicit brightness replaces the scene's SNR
    p = scene.params.replace(**acquisition) if acquisition else scene.params
    out_shape = shape if shape is not None else scene.shape_at(p.pixel_size_um)
    expected, labels = expected_photons(scene, p, out_shape)
    image = camera(expected, p, as_rng(rng))
    if relabel:
        labels = relabel_sequential(labels)[0].astype(np.int32)
    return image, labels


def expected_photons(
    scene: NucleiScene,
    p: NucleiParams,
    out_shape: tuple[int, int],
    texture_shift_um: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean photons per camera pixel (before noise) and labels (nucleus i -> i + 1).

    ``texture_shift_um`` (N, 2) moves each nucleus' texture with it (time-lapse).
    """
    px = p.pixel_size_um
    envelope = p.stain == "envelope"
    factor = _fine_factor(scene, px, out_shape, p.rim_um if envelope else None)
    fine_px = px / factor
    fine_shape = (out_shape[0] * factor, out_shape[1] * factor)

    def draw(grid_shape, cell_um):
        centers = scene.centers_um / cell_um - 0.5
        return rasterize((1, *grid_shape), centers, scene.radii_um / cell_um)

    fine = draw(fine_shape, fine_px)
    rows_um = (np.arange(fine_shape[0]) + 0.5) * fine_px
    cols_um = (np.arange(fine_shape[1]) + 0.5) * fine_px
    tex_index = None
    if envelope:
        tex = None
    elif not scene.texture.any():
        tex = np.zeros(fine_shape)
    elif texture_shift_um is None:
        tex = texture_field(scene.waves, rows_um, cols_um, fine_px)
    else:
        shift = np.rint(np.asarray(texture_shift_um) / fine_px).astype(np.intp)
        m = int(np.abs(shift).max(initial=0))
        pad_rows = (np.arange(-m, fine_shape[0] + m) + 0.5) * fine_px
        pad_cols = (np.arange(-m, fine_shape[1] + m) + 0.5) * fine_px
        tex = texture_field(scene.waves, pad_rows, pad_cols, fine_px)
        r, c = np.divmod(fine.flat, fine_shape[1])
        tex_index = (r - shift[fine.obj, 0] + m) * pad_cols.size + (c - shift[fine.obj, 1] + m)
    if envelope:
        signal = _envelope_signal(scene, fine.labels[0], fine_px, p.rim_um)
    else:
        signal = nuclear_signal(
            scene, fine, fine_shape[0] * fine_shape[1], fine_px, tex, tex_index
        ).reshape(fine_shape)
    signal = _blur_and_haze(signal, p, fine_px)
    expected = illumination_field(scene, rows_um, cols_um, p.shading) * (
        p.signal_photons * signal + p.background_photons
    )
    if factor > 1:
        return _block_mean(expected, factor), draw(out_shape, px).labels[0]
    return expected, fine.labels[0]


def make_nuclei(
    shape: tuple[int, int] = (256, 256),
    *,
    preset: str | None = None,
    rng: Any = None,
    **params: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic fluorescence image of nuclei (camera counts) and its exact instance labels.

    ``params``: any :class:`NucleiParams` field in physical units (``pixel_size_um=0.3``,
    ``snr=4``, ``bit_depth=8``); ``preset`` one of :data:`PRESETS`. The two steps are
    :func:`make_scene` and :func:`render_nuclei`, to image one sample several ways.

    >>> image, labels = make_nuclei((64, 64), rng=0, n_nuclei=3, touching=0, diameter_um=(8, 10))
    >>> int(labels.max())
    3
    >>> image, _ = make_nuclei((32, 32), preset="low_snr", rng=0, bit_depth=8)
    >>> image.dtype
    dtype('uint8')
    """
    rng = as_rng(rng)
    scene = make_scene(shape, preset=preset, rng=rng, **params)
    return render_nuclei(scene, rng=rng)
