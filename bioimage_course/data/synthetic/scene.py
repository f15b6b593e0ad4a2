"""The sample: nuclei placed in a field of view measured in micrometres (notebook 01).

:func:`make_scene` draws how many nuclei there are, their sizes and outlines, which ones touch
or divide, where they lie (without overlapping), and how each one looks (brightness,
chromatin texture, nucleoli); nothing about pixels yet.

>>> scene = make_scene((32, 32), n_nuclei=2, touching=0, rng=0)
>>> scene.shape_at(0.65 / 2)
(64, 64)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ..._validate import as_rng, check_in_range
from .params import MAX_NUCLEOLI, N_ANGLES, N_WAVES, NucleiParams, nuclei_params


@dataclass
class NucleiScene:
    """A field of view of nuclei in physical units: what the sample *is*, before imaging.

    Made by :func:`make_scene`, imaged by :func:`render_nuclei`. Arrays have one row per nucleus
    ``i`` (label ``i + 1`` with ``relabel=False``); ``params`` holds the acquisition defaults.

    Attributes
    ----------
    fov_um : (float, float)
        Height and width of the field of view.
    centers_um : ndarray (N, 2)
        Nucleus centres (row, column) from the top-left corner.
    radii_um : ndarray (N, 64)
        Outline: centre-to-edge distance at angles ``2 pi k / 64`` (``k = 0`` along +column,
        increasing towards +row).
    diameter_um, brightness, texture, dome : ndarray (N,)
        Equivalent diameter, relative brightness (1 = average), texture amplitude, dome falloff.
    nucleoli : ndarray (N, 4, 4)
        Row and column offset (um), width (sigma, um) and depth (0 = absent) of up to four.
    kind : ndarray of int (N,)
        0 isolated, 1 pressed against a neighbour, 2 daughter of a dividing nucleus.
    waves : ndarray (48, 4)
        Texture plane waves: wave numbers along rows and columns (rad/um), phase, amplitude.
    illumination : ndarray (4,)
        Centre (row, column, um) of the illumination and its tilt direction.
    """

    params: NucleiParams
    fov_um: tuple[float, float]
    centers_um: np.ndarray
    radii_um: np.ndarray
    diameter_um: np.ndarray
    brightness: np.ndarray
    texture: np.ndarray
    dome: np.ndarray
    nucleoli: np.ndarray
    kind: np.ndarray
    waves: np.ndarray
    illumination: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 0.0]))

    def __len__(self) -> int:
        return len(self.centers_um)

    def shape_at(self, pixel_size_um: float) -> tuple[int, int]:
        """Image shape (rows, columns) of this field of view at ``pixel_size_um``."""
        px = check_in_range(pixel_size_um, "pixel_size_um", 0, low_inclusive=False)
        return tuple(max(1, int(round(f / px))) for f in self.fov_um)  # type: ignore[return-value]


MAX_NUCLEI = 20_000  # a scene of more nuclei takes minutes and gigabytes to draw


def check_shape(shape: Any, name: str = "shape", ndim: int = 2) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"`{name}` must be a tuple of {ndim} ints, got {shape!r}") from None
    if (
        len(out) != ndim
        or any(s < 1 for s in out)
        or any(float(s) != float(t) for s, t in zip(out, shape, strict=True))
    ):
        raise ValueError(f"`{name}` must be {ndim} positive ints, got {tuple(shape)!r}")
    return out


def _outlines(rng: np.random.Generator, diameters: np.ndarray, p: NucleiParams) -> np.ndarray:
    """Radius-versus-angle tables (N, N_ANGLES): an ellipse with a wobble, area = pi (d/2)^2."""
    n = len(diameters)
    phi = np.linspace(0.0, 2.0 * np.pi, N_ANGLES, endpoint=False)
    ecc = rng.uniform(*p.eccentricity, size=n)
    ratio = np.sqrt(1.0 - ecc**2)  # minor / major axis
    theta = rng.uniform(0.0, np.pi, size=n)
    a = 1.0 / np.sqrt(ratio)  # semi-axes of an ellipse of area pi
    b = np.sqrt(ratio)
    rel = phi[None, :] - theta[:, None]
    r = (a * b)[:, None] / np.sqrt(
        (b[:, None] * np.cos(rel)) ** 2 + (a[:, None] * np.sin(rel)) ** 2
    )
    if p.irregularity > 0:
        k = np.arange(2, 7)
        amp = p.irregularity * rng.standard_normal((n, k.size)) / k
        phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, k.size))
        wobble = (amp[:, :, None] * np.cos(k[None, :, None] * phi + phase[:, :, None])).sum(1)
        r = r * np.exp(wobble)
    area = 0.5 * (r**2).sum(1) * (2.0 * np.pi / N_ANGLES)
    return r * (0.5 * diameters / np.sqrt(area / np.pi))[:, None]


def _radius_towards(radii: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Radius of each outline (rows of ``radii``) in the direction ``angle``, interpolated."""
    t = np.mod(angle * (N_ANGLES / (2.0 * np.pi)), N_ANGLES)
    i0 = np.minimum(t.astype(np.intp), N_ANGLES - 1)
    frac = t - i0
    rows = np.arange(len(radii))
    return radii[rows, i0] * (1.0 - frac) + radii[rows, (i0 + 1) % N_ANGLES] * frac


def _density(rng: np.random.Generator, clustering: float):
    """A smooth random density in [1 - clustering, 1] over the field (cells grow in colonies)."""
    wavelength = rng.uniform(80.0, 250.0, size=4)
    direction = rng.uniform(0.0, 2.0 * np.pi, size=4)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=4)
    ky, kx = 2 * np.pi / wavelength * np.sin(direction), 2 * np.pi / wavelength * np.cos(direction)

    def density(points: np.ndarray) -> np.ndarray:
        waves = np.cos(points[:, :1] * ky + points[:, 1:] * kx + phase).sum(1) / 2.0
        return 1.0 - clustering * (1.0 - np.clip(0.5 + 0.5 * waves, 0.0, 1.0))

    return density


def _place(
    rng: np.random.Generator,
    fov: tuple[float, float],
    radii: np.ndarray,
    kind: np.ndarray,
    partner: np.ndarray,
    gap: float,
    clustering: float,
    max_rounds: int = 25,
    patience: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Place nuclei without overlap, in vectorised rounds of random proposals.

    ``kind`` 0: anywhere (more often in dense regions when ``clustering > 0``), at least ``gap``
    from every other nucleus' bounding circle; 1: pressed against a random placed nucleus
    (outlines overlap by 5-20 % of the radii, the overlap is then split between them); 2: second
    daughter of a division, next to its ``partner``. Each round proposes a position for every
    nucleus still waiting and accepts those that clash neither with placed nuclei nor with an
    accepted earlier proposal of the same round. Returns centres (N, 2) and a "placed" mask.
    """
    n = len(radii)
    rmax = radii.max(1) if n else np.zeros(0)
    reach = 2.0 * float(rmax.max(initial=0.0)) + gap
    density = _density(rng, clustering) if clustering > 0 else None
    centers = np.zeros((n, 2))
    placed = np.zeros(n, bool)
    idle = 0
    for _ in range(max_rounds):
        todo = np.flatnonzero(~placed)
        if todo.size == 0 or idle == patience:  # done, or the field is full
            break
        idx_placed = np.flatnonzero(placed)
        cand = rng.uniform((0.0, 0.0), fov, size=(todo.size, 2))
        ok = np.ones(todo.size, bool)
        if density is not None:
            ok &= rng.random(todo.size) < density(cand)
        # nuclei that attach to a neighbour wait until it is placed
        parent = np.full(todo.size, -1)
        pressed = kind[todo] == 1
        neighbours = idx_placed[kind[idx_placed] != 2]
        if pressed.any() and neighbours.size:
            parent[pressed] = rng.choice(neighbours, size=int(pressed.sum()))
        daughter = kind[todo] == 2
        parent[daughter] = partner[todo[daughter]]
        parent[daughter & ~placed[np.maximum(parent, 0)]] = -1
        waiting = (kind[todo] > 0) & (parent < 0)
        if idx_placed.size == 0 and waiting.all():
            waiting[0] = False  # the very first nucleus may start anywhere
        ok &= ~waiting
        attached = parent >= 0
        if attached.any():
            i, j = todo[attached], parent[attached]
            angle = rng.uniform(0.0, 2.0 * np.pi, size=i.size)
            contact = _radius_towards(radii[j], angle) + _radius_towards(radii[i], angle + np.pi)
            factor = np.where(
                kind[i] == 2,
                rng.uniform(1.0, 1.3, size=i.size),
                rng.uniform(0.8, 0.95, size=i.size),
            )
            step = (contact * factor)[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
            cand[attached] = centers[j] + step
            ok[attached] = True
        ok &= (cand >= 0).all(1) & (cand < np.asarray(fov)).all(1)
        # clashes with placed nuclei and with earlier accepted proposals of this round
        n_old = idx_placed.size
        others = np.concatenate([centers[idx_placed], cand])
        other_id = np.concatenate([idx_placed, todo])
        pairs = cKDTree(cand).sparse_distance_matrix(cKDTree(others), reach, output_type="ndarray")
        a, b, dist = pairs["i"], pairs["j"], pairs["v"]
        ia, ib = todo[a], other_id[b]
        either_pressed = (kind[ia] == 1) | (kind[ib] == 1)
        need = np.where(either_pressed, 0.8 * (rmax[ia] + rmax[ib]), rmax[ia] + rmax[ib] + gap)
        clash = (dist < need) & (ib != ia) & (ib != parent[a])
        new = b >= n_old
        earlier = np.where(new, b - n_old, 0)
        clash &= ~new | ((earlier < a) & ok[earlier])
        ok &= np.bincount(a[clash], minlength=todo.size) == 0
        centers[todo[ok]] = cand[ok]
        placed[todo[ok]] = True
        idle = 0 if ok.any() else idle + 1
    return centers, placed


def _expected_count(p: NucleiParams, fov: tuple[float, float], rng) -> int:
    """A Poisson number of nuclei covering the fraction ``coverage`` of the field on average."""
    dmin, dmax = p.diameter_um
    if dmax > dmin:  # mean area of log-uniform diameters
        mean_area = math.pi / 4 * (dmax**2 - dmin**2) / (2 * math.log(dmax / dmin))
    else:
        mean_area = math.pi / 4 * dmin**2
    return int(rng.poisson(p.coverage * fov[0] * fov[1] / mean_area))


def _nuclei_and_daughters(p: NucleiParams, n: int, rng):
    """Diameters, kinds (0 free, 1 pressed, 2 second daughter), partners and the mitotic mask.

    A dividing nucleus becomes two daughters of ~0.7x the diameter (equal total volume); the
    second daughter is appended and names its sister as ``partner``.
    """
    diam = np.exp(rng.uniform(math.log(p.diameter_um[0]), math.log(p.diameter_um[1]), size=n))
    is_div = np.zeros(n, bool)
    is_div[rng.permutation(n)[: int(round(p.dividing * n))]] = True
    kind = np.where(rng.random(n) < p.touching, 1, 0)
    kind[is_div] = 0
    second = np.flatnonzero(is_div)
    mitotic = np.concatenate([is_div, np.ones(second.size, bool)])
    diam_all = np.concatenate([diam, diam[second]])
    diam_all[mitotic] *= 0.72
    kind_all = np.concatenate([kind, np.full(second.size, 2)])
    partner = np.concatenate([np.full(n, -1), second])
    return diam_all, kind_all, partner, mitotic


def _kept(placed: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """Indices of the placed nuclei, in order; a daughter whose sister did not fit goes too."""
    drop = np.zeros(placed.size, bool)
    d_idx = np.flatnonzero(partner >= 0)
    drop[d_idx] = ~placed[partner[d_idx]]
    drop[partner[d_idx][~placed[d_idx]]] = True
    return np.flatnonzero(placed & ~drop)


def _appearance(p: NucleiParams, diam: np.ndarray, mitotic: np.ndarray, rng):
    """Brightness, texture strength, dome shape and nucleoli (N, MAX_NUCLEOLI, 4) per nucleus."""
    m = diam.size
    sigma = p.intensity_spread
    brightness = np.exp(sigma * rng.standard_normal(m) - 0.5 * sigma**2)
    brightness[mitotic] *= 2.5  # condensed chromosomes are bright
    texture = p.texture * rng.uniform(0.6, 1.4, size=m)
    texture[mitotic] *= 0.3
    dome = np.clip(p.dome * rng.uniform(0.7, 1.3, size=m), 0.0, 1.0)
    dome[mitotic] = 0.5 * dome[mitotic]
    nucleoli = np.zeros((m, MAX_NUCLEOLI, 4))
    count = rng.integers(p.nucleoli[0], p.nucleoli[1] + 1, size=m)
    count[mitotic] = 0  # nucleoli disassemble in mitosis
    ang = rng.uniform(0.0, 2.0 * np.pi, size=(m, MAX_NUCLEOLI))
    rad = 0.5 * diam[:, None] * 0.55 * np.sqrt(rng.random((m, MAX_NUCLEOLI)))
    nucleoli[..., 0] = rad * np.sin(ang)
    nucleoli[..., 1] = rad * np.cos(ang)
    nucleoli[..., 2] = (p.nucleolus_diameter_um / 2.355) * rng.uniform(0.7, 1.4, (m, MAX_NUCLEOLI))
    depth = p.nucleolus_contrast * rng.uniform(0.6, 1.2, size=(m, MAX_NUCLEOLI))
    nucleoli[..., 3] = np.where(
        np.arange(MAX_NUCLEOLI)[None, :] < count[:, None], np.minimum(depth, 1.0), 0.0
    )
    return brightness, texture, dome, nucleoli


def _chromatin_waves(p: NucleiParams, rng) -> np.ndarray:
    """Chromatin texture: random plane waves with wavelengths in [scale, 4 * scale]."""
    wavelength = p.texture_scale_um * np.exp(rng.uniform(0.0, math.log(4.0), size=N_WAVES))
    direction = rng.uniform(0.0, 2.0 * np.pi, size=N_WAVES)
    k = 2.0 * np.pi / wavelength
    return np.stack(
        [
            k * np.sin(direction),
            k * np.cos(direction),
            rng.uniform(0.0, 2.0 * np.pi, N_WAVES),
            np.full(N_WAVES, math.sqrt(2.0 / N_WAVES)),
        ],
        axis=1,
    )


def make_scene(
    shape: tuple[int, int] = (256, 256),
    *,
    preset: str | None = None,
    rng: Any = None,
    **params: Any,
) -> NucleiScene:
    """Draw a random field of nuclei (the sample), to be imaged by :func:`render_nuclei`.

    The field of view is ``shape * pixel_size_um`` micrometres; ``params`` change
    :class:`NucleiParams`. Raises ``ValueError`` if an explicit ``n_nuclei`` does not fit.

    >>> scene = make_scene((64, 64), n_nuclei=5, touching=0, rng=0)
    >>> len(scene), scene.fov_um
    (5, (41.6, 41.6))
    """
    shape = check_shape(shape)
    p = nuclei_params(preset, **params)
    rng = as_rng(rng)
    fov = (shape[0] * p.pixel_size_um, shape[1] * p.pixel_size_um)
    smallest_px = p.diameter_um[0] / p.pixel_size_um
    if smallest_px < 1:
        raise ValueError(
            f"`pixel_size_um` must be at most the smallest nucleus diameter "
            f"({p.diameter_um[0]:g} µm) so that every nucleus covers a pixel, got "
            f"{p.pixel_size_um:g} µm (nuclei of {smallest_px:.2g} px)"
        )
    n = p.n_nuclei if p.n_nuclei is not None else _expected_count(p, fov, rng)
    if n > MAX_NUCLEI:
        raise ValueError(
            f"`shape` {shape} at {p.pixel_size_um:g} µm per pixel holds about {n} nuclei, more "
            f"than the {MAX_NUCLEI} a scene draws in reasonable time and memory: use a smaller "
            "image, finer pixels or a lower `coverage`"
        )
    diam, kind, partner, mitotic = _nuclei_and_daughters(p, n, rng)
    radii = _outlines(rng, diam, p)
    if mitotic.any():  # daughters are compact and round
        round_p = p.replace(eccentricity=(0.0, 0.5), irregularity=0.02)
        radii[mitotic] = _outlines(rng, diam[mitotic], round_p)
    exact = p.n_nuclei is not None  # try harder when a number was asked for
    centers, placed = _place(
        rng, fov, radii, kind, partner, max(0.5 * p.pixel_size_um, 0.3), p.clustering,
        max_rounds=300 if exact else 25, patience=100 if exact else 5,
    )  # fmt: skip
    keep = _kept(placed, partner)
    if exact and keep.size < len(diam):
        raise ValueError(
            f"`n_nuclei`: only {keep.size} of {len(diam)} nuclei fit in a "
            f"{fov[0]:g} x {fov[1]:g} um field without overlapping; ask for fewer, smaller "
            "nuclei or a larger `shape`"
        )
    centers, radii, diam = centers[keep], radii[keep], diam[keep]
    kind, mitotic = kind[keep], mitotic[keep]
    brightness, texture, dome, nucleoli = _appearance(p, diam, mitotic, rng)
    waves = _chromatin_waves(p, rng)
    illumination = np.array(
        [rng.uniform(0.3, 0.7) * fov[0], rng.uniform(0.3, 0.7) * fov[1], *rng.standard_normal(2)]
    )
    return NucleiScene(
        params=p,
        fov_um=fov,
        centers_um=centers,
        radii_um=radii,
        diameter_um=diam,
        brightness=brightness,
        texture=texture,
        dome=dome,
        nucleoli=nucleoli,
        kind=kind,
        waves=waves,
        illumination=illumination,
    )
