"""Synthetic fluorescence nuclei with exact ground truth, parameterised in physical units.

Introduced in notebook 01 (digital images) and used by every later notebook whenever images with
a known answer are needed. An image is made in two steps, mirroring how a real one comes about:

1. **The sample** (:func:`make_scene`): nuclei are placed in a field of view measured in
   micrometres, each with its own size, elongation, irregular outline, brightness, chromatin
   texture and dark nucleoli. Some are pressed against a neighbour, some are dividing.
2. **The acquisition** (:func:`render_nuclei`): the optics blur the sample (a Gaussian point
   spread function, plus out-of-focus haze), the illumination is uneven (smooth shading),
   photons arrive at random (Poisson shot noise), the camera adds read noise, an offset and
   rounds to its bit depth, saturating at the top.

The label image is exactly the set of objects drawn: pixel ``(r, c)`` belongs to nucleus ``i``
when the centre of that pixel lies inside the nucleus' outline; where two nuclei press against
each other, each pixel goes to the nucleus whose outline it lies deeper inside, and every
label is one 4-connected piece. Because the sample lives in micrometres, the same scene can be
rendered again at another pixel size, blur, brightness or noise level: domain shift on demand.

:func:`make_nuclei` does both steps at once and is what most notebooks call.

Examples
--------
>>> image, labels = make_nuclei((128, 128), preset="easy", rng=0)
>>> image.dtype, labels.dtype, image.shape == labels.shape
(dtype('uint16'), dtype('int32'), True)
>>> n = labels.max()
>>> bool(n > 0) and set(np.unique(labels)) == set(range(n + 1))
True
>>> scene = make_scene((128, 128), rng=1)
>>> coarse, coarse_labels = render_nuclei(scene, pixel_size_um=1.3, rng=2)
>>> coarse.shape
(64, 64)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.measure import label as connected_components

from .._validate import as_rng, check_choice, check_in_range, check_range

__all__ = [
    "NucleiParams",
    "NucleiScene",
    "PRESETS",
    "nuclei_params",
    "make_scene",
    "render_nuclei",
    "make_nuclei",
    "random_nuclei_params",
    "photons_for_snr",
    "snr_of",
]

N_ANGLES = 64  # samples of each nucleus' outline (radius as a function of angle)
N_WAVES = 48  # plane waves summed into the chromatin texture
MAX_NUCLEOLI = 4

STAINS = ("nuclear", "envelope")  # what is stained: the DNA, or the nuclear envelope (a rim)

# Names of the parameters that describe the acquisition (stain imaged, optics, illumination,
# camera); all the other parameters describe the sample and are fixed once a scene is made. The
# stain counts as acquisition: the same cells imaged in another channel show another stain.
ACQUISITION_FIELDS = (
    "stain",
    "rim_um",
    "pixel_size_um",
    "psf_sigma_um",
    "haze",
    "haze_sigma_um",
    "shading",
    "photons",
    "snr",
    "background_photons",
    "read_noise",
    "gain",
    "offset",
    "bit_depth",
)


@dataclass(frozen=True)
class NucleiParams:
    """Every parameter of the synthetic nuclei, in physical units, with realistic defaults.

    The defaults imitate a widefield image of DAPI/Hoechst-stained cultured mammalian cells
    taken with a 20x objective on a scientific camera (0.65 um pixels): nuclei 8-18 um across
    (a five-fold range of areas), several-fold brightness differences between nuclei, chromatin
    texture, dark nucleoli, a blur of about one pixel, uneven illumination and a 12-bit camera.
    Ranges are given as ``(low, high)``; a single number means a fixed value.

    Attributes
    ----------
    pixel_size_um : float
        Size of a (square) camera pixel in the sample, in micrometres. Default 0.65.
    diameter_um : (float, float)
        Range of nucleus diameters (diameter of the circle with the same area), drawn
        log-uniformly. Default (8, 18).
    eccentricity : (float, float)
        Range of eccentricities of the underlying ellipse, 0 (round) to <1. Default (0, 0.8).
    irregularity : float
        Relative amplitude of the random wobble of the outline (0: perfect ellipses; 0.15: lobed,
        kidney-like). The outline stays star-shaped around the centre. Default 0.06.
    n_nuclei : int or None
        Exact number of nuclei. ``None`` derives it from ``coverage``. Default None.
    coverage : float
        Fraction of the field of view covered by nuclei (when ``n_nuclei`` is None): 0.1 sparse,
        0.45 crowded. As many as fit are placed. Default 0.25.
    clustering : float
        How unevenly nuclei spread over the field, in [0, 1]: with 0 they are placed uniformly,
        with 1 some regions (tens to hundreds of um wide) are dense and others empty, as cells
        grow in colonies. Default 0.4.
    touching : float
        Fraction of nuclei placed pressed against a neighbour, in [0, 1]. Default 0.2.
    dividing : float
        Fraction of nuclei that are dividing: each is drawn as two small, bright, compact
        daughter nuclei side by side (two labels). Default 0.
    intensity_spread : float
        Standard deviation of the log-brightness between nuclei: 0.4 makes the brightest of
        twenty nuclei about 4-5x brighter than the dimmest. Default 0.4.
    texture : float
        Relative amplitude (standard deviation) of the chromatin texture inside nuclei, in
        [0, 1]. Default 0.3.
    texture_scale_um : float
        Smallest wavelength of the chromatin texture; it spans this to four times this.
        Default 1.0.
    nucleoli : (int, int)
        Range of the number of dark nucleoli per nucleus (at most 4). Default (0, 3).
    nucleolus_diameter_um : float
        Diameter (full width at half depth) of a nucleolus. Default 1.8.
    nucleolus_contrast : float
        How much darker a nucleolus centre is, as a fraction in [0, 1]. Default 0.35.
    dome : float
        Brightness falloff from centre to edge, in [0, 1]: a nucleus is a flattened ellipsoid, so
        a widefield image of it is brightest in the middle. 0 is flat. Default 0.35.
    stain : {"nuclear", "envelope"}
        What is stained. ``"nuclear"``: the DNA (DAPI, Hoechst), so a nucleus is bright
        throughout, with the texture, dome and nucleoli above. ``"envelope"``: only the nuclear
        envelope (a lamin stain), a bright rim of width ``rim_um`` along each nucleus' outline
        (two nuclei pressed together show a double line); inside, the image is at background
        level with the same noise as outside (up to the faint ``haze``), so only the rim around
        it tells a pixel in the middle of a nucleus from background (notebook 06).
        Default "nuclear".
    rim_um : float
        Width of the stained rim with ``stain="envelope"``, measured inwards from the outline:
        a pixel is on the rim when the nearest pixel centre outside its nucleus (background or
        another nucleus; the image border is no outline) is at most ``rim_um`` plus half a pixel
        away. A rim narrower than two pixels is drawn on a finer grid and averaged into the
        pixels, as a camera integrates light. Default 0.4.
    psf_sigma_um : float
        Standard deviation of the Gaussian point spread function (blur), including defocus.
        0 switches blur off. Default 0.6.
    haze : float
        Out-of-focus glow: fraction of the nuclear signal spread out widely. Default 0.1.
    haze_sigma_um : float
        Width (standard deviation) of the haze. Default 6.
    shading : float
        Uneven illumination: relative drop of the illumination from its brightest point to the
        field corners, in [0, 0.9). Default 0.15.
    photons : float
        Mean detected photons per pixel of an average nucleus above background (at the centre
        of the illumination). Sets the brightness and, with the noise, the SNR. Default 300.
    snr : float or None
        If given, overrides ``photons`` so that an average nucleus has this signal-to-noise
        ratio (see :func:`photons_for_snr`). Default None.
    background_photons : float
        Photons per pixel from the background (autofluorescence, stray light). Default 30.
    read_noise : float
        Camera read noise, standard deviation in electrons (photo-electrons = photons here).
        Default 2.
    gain : float
        Camera gain in counts (ADU) per electron. Default 1.
    offset : float
        Camera offset (counts added to every pixel; a dark image is not 0). Default 100.
    bit_depth : int
        Bits of the camera's analogue-to-digital converter, 1 to 16: values are rounded and
        clipped to ``[0, 2**bit_depth - 1]`` (saturation). 8 bits give ``uint8``, more give
        ``uint16``. Default 12.

    Examples
    --------
    >>> p = NucleiParams(diameter_um=(5, 9))
    >>> p.diameter_um, p.pixel_size_um
    ((5.0, 9.0), 0.65)
    >>> NucleiParams(coverage=2)
    Traceback (most recent call last):
    ...
    ValueError: `coverage` must be in [0, 0.9], got 2
    """

    pixel_size_um: float = 0.65
    diameter_um: tuple[float, float] = (8.0, 18.0)
    eccentricity: tuple[float, float] = (0.0, 0.8)
    irregularity: float = 0.06
    n_nuclei: int | None = None
    coverage: float = 0.25
    clustering: float = 0.4
    touching: float = 0.2
    dividing: float = 0.0
    intensity_spread: float = 0.4
    texture: float = 0.3
    texture_scale_um: float = 1.0
    nucleoli: tuple[int, int] = (0, 3)
    nucleolus_diameter_um: float = 1.8
    nucleolus_contrast: float = 0.35
    dome: float = 0.35
    stain: str = "nuclear"
    rim_um: float = 0.4
    psf_sigma_um: float = 0.6
    haze: float = 0.1
    haze_sigma_um: float = 6.0
    shading: float = 0.15
    photons: float = 300.0
    snr: float | None = None
    background_photons: float = 30.0
    read_noise: float = 2.0
    gain: float = 1.0
    offset: float = 100.0
    bit_depth: int = 12

    def __post_init__(self) -> None:
        def set_(name, value):
            object.__setattr__(self, name, value)

        set_(
            "pixel_size_um",
            check_in_range(self.pixel_size_um, "pixel_size_um", 0, low_inclusive=False),
        )
        d = check_range(self.diameter_um, "diameter_um")
        check_in_range(d[0], "diameter_um", 0, low_inclusive=False)
        set_("diameter_um", d)
        e = check_range(self.eccentricity, "eccentricity")
        for v in e:
            check_in_range(v, "eccentricity", 0, 0.99)
        set_("eccentricity", e)
        set_("irregularity", check_in_range(self.irregularity, "irregularity", 0, 0.3))
        if self.n_nuclei is not None:
            if not float(self.n_nuclei).is_integer() or self.n_nuclei < 0:
                raise ValueError(f"`n_nuclei` must be None or an int >= 0, got {self.n_nuclei!r}")
            set_("n_nuclei", int(self.n_nuclei))
        set_("coverage", check_in_range(self.coverage, "coverage", 0, 0.9))
        set_("clustering", check_in_range(self.clustering, "clustering", 0, 1))
        set_("touching", check_in_range(self.touching, "touching", 0, 1))
        set_("dividing", check_in_range(self.dividing, "dividing", 0, 1))
        set_("intensity_spread", check_in_range(self.intensity_spread, "intensity_spread", 0, 2))
        set_("texture", check_in_range(self.texture, "texture", 0, 1))
        set_(
            "texture_scale_um",
            check_in_range(self.texture_scale_um, "texture_scale_um", 0, low_inclusive=False),
        )
        lo, hi = check_range(self.nucleoli, "nucleoli")
        if not (lo.is_integer() and hi.is_integer()) or lo < 0 or hi > MAX_NUCLEOLI:
            raise ValueError(
                f"`nucleoli` must be a (low, high) pair of ints in [0, {MAX_NUCLEOLI}], "
                f"got {self.nucleoli!r}"
            )
        set_("nucleoli", (int(lo), int(hi)))
        set_(
            "nucleolus_diameter_um",
            check_in_range(
                self.nucleolus_diameter_um, "nucleolus_diameter_um", 0, low_inclusive=False
            ),
        )
        set_(
            "nucleolus_contrast",
            check_in_range(self.nucleolus_contrast, "nucleolus_contrast", 0, 1),
        )
        set_("dome", check_in_range(self.dome, "dome", 0, 1))
        check_choice(self.stain, "stain", STAINS)
        set_("rim_um", check_in_range(self.rim_um, "rim_um", 0, low_inclusive=False))
        set_("psf_sigma_um", check_in_range(self.psf_sigma_um, "psf_sigma_um", 0))
        set_("haze", check_in_range(self.haze, "haze", 0))
        set_(
            "haze_sigma_um",
            check_in_range(self.haze_sigma_um, "haze_sigma_um", 0, low_inclusive=False),
        )
        set_("shading", check_in_range(self.shading, "shading", 0, 0.9, high_inclusive=False))
        set_("photons", check_in_range(self.photons, "photons", 0, low_inclusive=False))
        if self.snr is not None:
            set_("snr", check_in_range(self.snr, "snr", 0, low_inclusive=False))
        set_("background_photons", check_in_range(self.background_photons, "background_photons", 0))
        set_("read_noise", check_in_range(self.read_noise, "read_noise", 0))
        set_("gain", check_in_range(self.gain, "gain", 0, low_inclusive=False))
        set_("offset", check_in_range(self.offset, "offset", 0))
        bits = check_in_range(self.bit_depth, "bit_depth", 1, 16)
        if not bits.is_integer():
            raise ValueError(f"`bit_depth` must be an int in [1, 16], got {self.bit_depth!r}")
        set_("bit_depth", int(bits))

    @property
    def signal_photons(self) -> float:
        """Photons per pixel of an average nucleus: ``photons``, or the value ``snr`` asks for."""
        if self.snr is None:
            return self.photons
        return photons_for_snr(
            self.snr, background_photons=self.background_photons, read_noise=self.read_noise
        )

    @property
    def dtype(self) -> np.dtype:
        """The image dtype: ``uint8`` up to 8 bits, ``uint16`` above."""
        return np.dtype(np.uint8) if self.bit_depth <= 8 else np.dtype(np.uint16)

    def replace(self, **changes: Any) -> NucleiParams:
        """A copy with some parameters changed (and validated again)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)


PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # Few, well separated, evenly bright, crisp nuclei: classical thresholding works.
        "easy": MappingProxyType(
            dict(
                coverage=0.12,
                touching=0.0,
                diameter_um=(9.0, 14.0),
                eccentricity=(0.0, 0.6),
                irregularity=0.03,
                intensity_spread=0.15,
                texture=0.15,
                nucleoli=(0, 1),
                psf_sigma_um=0.45,
                haze=0.03,
                shading=0.05,
                photons=800.0,
                background_photons=20.0,
            )
        ),
        # A dense colony: most nuclei touch, sizes vary more.
        "crowded": MappingProxyType(
            dict(coverage=0.5, touching=0.7, diameter_um=(7.0, 16.0), haze=0.15)
        ),
        # Dim sample, short exposure: a few photons above the background.
        "low_snr": MappingProxyType(
            dict(photons=12.0, background_photons=6.0, read_noise=2.5, intensity_spread=0.3)
        ),
        # High magnification (63x, 0.108 um pixels): nuclei are 70-120 pixels across, several
        # times the receptive field of a small U-Net. In this nuclear stain they are bright
        # throughout, so a small window still tells inside from outside; imaged with
        # stain="envelope" (a bright rim, the inside like background) only a window that
        # reaches the rim can (notebook 06).
        "large_objects": MappingProxyType(
            dict(
                pixel_size_um=0.108,
                diameter_um=(8.0, 13.0),
                coverage=0.35,
                touching=0.2,
                psf_sigma_um=0.25,
                texture=0.35,
                texture_scale_um=0.7,
                haze=0.05,
            )
        ),
        # A proliferating culture: a third of the nuclei are pairs of bright daughter nuclei.
        "dividing": MappingProxyType(dict(dividing=0.3, touching=0.1, coverage=0.22)),
    }
)
"""Named parameter sets; each overrides some defaults of :class:`NucleiParams`."""


def _check_names(params: Mapping[str, Any]) -> None:
    names = [f.name for f in dataclasses.fields(NucleiParams)]
    for key in params:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"unknown nuclei parameter {key!r}{hint} (see NucleiParams)")


def nuclei_params(preset: str | None = None, **params: Any) -> NucleiParams:
    """The parameters of a preset, with some of them changed.

    Parameters
    ----------
    preset : str, optional
        One of the names in :data:`PRESETS`; ``None`` uses the defaults of :class:`NucleiParams`.
    **params
        Parameters to change, by name (see :class:`NucleiParams`).

    Returns
    -------
    NucleiParams

    Examples
    --------
    >>> nuclei_params("crowded").coverage
    0.5
    >>> nuclei_params("low_snr", pixel_size_um=0.3).pixel_size_um
    0.3
    >>> nuclei_params(diamter_um=(4, 8))
    Traceback (most recent call last):
    ...
    TypeError: unknown nuclei parameter 'diamter_um'; did you mean 'diameter_um'? (see NucleiParams)
    """
    _check_names(params)
    base: dict[str, Any] = {}
    if preset is not None:
        check_choice(preset, "preset", PRESETS)
        base.update(PRESETS[preset])
    base.update(params)
    return NucleiParams(**base)


def photons_for_snr(snr: float, *, background_photons: float, read_noise: float) -> float:
    """Signal photons per pixel that give a nucleus the signal-to-noise ratio ``snr``.

    The SNR of a nucleus pixel is its mean signal above background divided by the standard
    deviation of its value: ``S / sqrt(S + B + r**2)`` for ``S`` signal photons, ``B`` background
    photons (both Poisson) and read noise ``r`` electrons. Solving for ``S`` gives
    ``S = (snr**2 + sqrt(snr**4 + 4 snr**2 (B + r**2))) / 2``.

    Examples
    --------
    >>> s = photons_for_snr(5.0, background_photons=10.0, read_noise=2.0)
    >>> round(s / math.sqrt(s + 10.0 + 2.0**2), 6)
    5.0
    """
    snr = check_in_range(snr, "snr", 0, low_inclusive=False)
    b = check_in_range(background_photons, "background_photons", 0)
    r = check_in_range(read_noise, "read_noise", 0)
    return 0.5 * (snr**2 + math.sqrt(snr**4 + 4.0 * snr**2 * (b + r**2)))


def snr_of(params: NucleiParams) -> float:
    """Signal-to-noise ratio of an average nucleus pixel under ``params`` (see photons_for_snr).

    >>> round(snr_of(nuclei_params(snr=3.0)), 6)
    3.0
    """
    s = params.signal_photons
    return s / math.sqrt(s + params.background_photons + params.read_noise**2)


# --------------------------------------------------------------------------------------------
# The sample
# --------------------------------------------------------------------------------------------


@dataclass
class NucleiScene:
    """A field of view of nuclei in physical units: what the sample *is*, before imaging.

    Made by :func:`make_scene`; turned into an image by :func:`render_nuclei`. Arrays have one
    row per nucleus ``i``; ``labels == i + 1`` marks nucleus ``i`` in an image rendered with
    ``relabel=False``.

    Attributes
    ----------
    params : NucleiParams
        The parameters the scene was made with (its acquisition parameters are the defaults
        used by :func:`render_nuclei`).
    fov_um : (float, float)
        Height and width of the field of view in micrometres.
    centers_um : ndarray, shape (N, 2)
        Nucleus centres (row, column) in micrometres from the top-left corner.
    radii_um : ndarray, shape (N, 64)
        Outline: distance from the centre to the edge at angles ``2 pi k / 64`` (``k = 0`` points
        along +column, angles increase towards +row).
    diameter_um : ndarray, shape (N,)
        Equivalent diameter (diameter of the circle with the same area) of each nucleus.
    brightness : ndarray, shape (N,)
        Relative brightness (1 = average nucleus).
    texture : ndarray, shape (N,)
        Chromatin texture amplitude of each nucleus.
    dome : ndarray, shape (N,)
        Centre-to-edge brightness falloff of each nucleus.
    nucleoli : ndarray, shape (N, 4, 4)
        Up to four nucleoli per nucleus: row and column offset from the centre (um), width
        (sigma, um) and depth (0 = absent).
    kind : ndarray of int, shape (N,)
        0 for an isolated nucleus, 1 for one pressed against a neighbour, 2 for a daughter of
        a dividing nucleus.
    waves : ndarray, shape (48, 4)
        The plane waves of the chromatin texture: wave numbers along rows and columns
        (radians/um), phase and amplitude.
    illumination : ndarray, shape (4,)
        Centre (row, column, um) of the illumination and its tilt direction (row, column).
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


def _check_shape(shape: Any, name: str = "shape", ndim: int = 2) -> tuple[int, ...]:
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


def _density(rng: np.random.Generator, fov: tuple[float, float], clustering: float):
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
    density = _density(rng, fov, clustering) if clustering > 0 else None
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


def make_scene(
    shape: tuple[int, int] = (256, 256),
    *,
    preset: str | None = None,
    rng: Any = None,
    **params: Any,
) -> NucleiScene:
    """Draw a random field of nuclei (the sample), to be imaged by :func:`render_nuclei`.

    Parameters
    ----------
    shape : (int, int)
        Image shape in pixels at ``pixel_size_um``; the field of view is ``shape * pixel_size_um``
        micrometres.
    preset : str, optional
        A name from :data:`PRESETS`.
    rng : None, int or numpy.random.Generator
        Source of randomness (the same seed gives the same scene).
    **params
        Parameters of :class:`NucleiParams` to change.

    Returns
    -------
    NucleiScene

    Raises
    ------
    ValueError
        If ``n_nuclei`` nuclei were asked for explicitly and do not all fit.

    Examples
    --------
    >>> scene = make_scene((64, 64), n_nuclei=5, touching=0, rng=0)
    >>> len(scene), scene.fov_um
    (5, (41.6, 41.6))
    """
    shape = _check_shape(shape)
    p = nuclei_params(preset, **params)
    rng = as_rng(rng)
    px = p.pixel_size_um
    fov = (shape[0] * px, shape[1] * px)
    dmin, dmax = p.diameter_um
    if dmax > dmin:
        mean_area = math.pi / 4 * (dmax**2 - dmin**2) / (2 * math.log(dmax / dmin))
    else:
        mean_area = math.pi / 4 * dmin**2
    if p.n_nuclei is not None:
        n = p.n_nuclei
    else:
        n = int(rng.poisson(p.coverage * fov[0] * fov[1] / mean_area))
    # nuclei, some of which divide into two daughters
    diam = np.exp(rng.uniform(math.log(dmin), math.log(dmax), size=n))
    n_div = int(round(p.dividing * n))
    is_div = np.zeros(n, bool)
    is_div[rng.permutation(n)[:n_div]] = True
    kind = np.where(rng.random(n) < p.touching, 1, 0)
    kind[is_div] = 0
    # a dividing nucleus becomes two daughters of ~0.7x the diameter (equal total volume)
    first = np.arange(n)
    second = np.flatnonzero(is_div)
    n_all = n + second.size
    diam_all = np.concatenate([diam, diam[second]])
    diam_all[np.concatenate([is_div, np.ones(second.size, bool)])] *= 0.72
    kind_all = np.concatenate([kind, np.full(second.size, 2)])
    partner = np.concatenate([np.full(n, -1), first[second]])
    mitotic = np.concatenate([is_div, np.ones(second.size, bool)])

    radii = _outlines(rng, diam_all, p)
    if mitotic.any():  # daughters are compact and round
        radii[mitotic] = _outlines(
            rng, diam_all[mitotic], p.replace(eccentricity=(0.0, 0.5), irregularity=0.02)
        )
    gap = max(0.5 * px, 0.3)
    exact = p.n_nuclei is not None  # try harder when a number was asked for
    centers, placed = _place(
        rng,
        fov,
        radii,
        kind_all,
        partner,
        gap,
        p.clustering,
        max_rounds=300 if exact else 25,
        patience=100 if exact else 5,
    )
    # a daughter whose sister did not fit is dropped too
    drop = np.zeros(n_all, bool)
    d_idx = np.flatnonzero(partner >= 0)
    drop[d_idx] = ~placed[partner[d_idx]]
    drop[partner[d_idx][~placed[d_idx]]] = True
    keep = placed & ~drop
    if p.n_nuclei is not None and keep.sum() < n_all:
        raise ValueError(
            f"`n_nuclei`: only {int(keep.sum())} of {n_all} nuclei fit in a "
            f"{fov[0]:g} x {fov[1]:g} um field without overlapping; ask for fewer, smaller "
            "nuclei or a larger `shape`"
        )
    # placement order, so that labels read in the order nuclei were laid down
    keep_idx = np.flatnonzero(keep)
    m = keep_idx.size
    centers, radii, diam_all = centers[keep_idx], radii[keep_idx], diam_all[keep_idx]
    kind_all, mitotic = kind_all[keep_idx], mitotic[keep_idx]

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
    r_eq = 0.5 * diam_all
    ang = rng.uniform(0.0, 2.0 * np.pi, size=(m, MAX_NUCLEOLI))
    rad = r_eq[:, None] * 0.55 * np.sqrt(rng.random((m, MAX_NUCLEOLI)))
    nucleoli[..., 0] = rad * np.sin(ang)
    nucleoli[..., 1] = rad * np.cos(ang)
    nucleoli[..., 2] = (p.nucleolus_diameter_um / 2.355) * rng.uniform(0.7, 1.4, (m, MAX_NUCLEOLI))
    depth = p.nucleolus_contrast * rng.uniform(0.6, 1.2, size=(m, MAX_NUCLEOLI))
    nucleoli[..., 3] = np.where(
        np.arange(MAX_NUCLEOLI)[None, :] < count[:, None], np.minimum(depth, 1.0), 0.0
    )

    # chromatin texture: random plane waves with wavelengths in [scale, 4 * scale]
    wavelength = p.texture_scale_um * np.exp(rng.uniform(0.0, math.log(4.0), size=N_WAVES))
    direction = rng.uniform(0.0, 2.0 * np.pi, size=N_WAVES)
    k = 2.0 * np.pi / wavelength
    waves = np.stack(
        [
            k * np.sin(direction),
            k * np.cos(direction),
            rng.uniform(0.0, 2.0 * np.pi, N_WAVES),
            np.full(N_WAVES, math.sqrt(2.0 / N_WAVES)),
        ],
        axis=1,
    )
    illumination = np.array(
        [rng.uniform(0.3, 0.7) * fov[0], rng.uniform(0.3, 0.7) * fov[1], *rng.standard_normal(2)]
    )
    return NucleiScene(
        params=p,
        fov_um=fov,
        centers_um=centers,
        radii_um=radii,
        diameter_um=diam_all,
        brightness=brightness,
        texture=texture,
        dome=dome,
        nucleoli=nucleoli,
        kind=kind_all,
        waves=waves,
        illumination=illumination,
    )


# --------------------------------------------------------------------------------------------
# Drawing: which pixel belongs to which nucleus
# --------------------------------------------------------------------------------------------


@dataclass
class _Raster:
    """Result of rasterising outlines on a pixel grid (planes x rows x columns)."""

    labels: np.ndarray  # (P, H, W) int32, object index + 1
    flat: np.ndarray  # flat pixel index of every foreground pixel
    obj: np.ndarray  # its object index
    depth: np.ndarray  # its normalised distance from the centre (0 centre, 1 edge)
    dy: np.ndarray  # offset from the centre, pixels
    dx: np.ndarray


def _rasterize(
    grid: tuple[int, int, int],
    centers: np.ndarray,
    radii: np.ndarray,
    plane: np.ndarray | None = None,
    ids: np.ndarray | None = None,
) -> _Raster:
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
    return _Raster(labels, flat[mine], obj[mine], depth[mine], dy[mine], dx[mine])


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


def _relabel_sequential(labels: np.ndarray) -> np.ndarray:
    present = np.flatnonzero(np.bincount(labels.ravel()))
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    present = present[present > 0]
    lut[present] = np.arange(1, present.size + 1, dtype=np.int32)
    return lut[labels]


# --------------------------------------------------------------------------------------------
# The acquisition
# --------------------------------------------------------------------------------------------


def _texture_field(
    waves: np.ndarray, rows_um: np.ndarray, cols_um: np.ndarray, pixel_um: float
) -> np.ndarray:
    """Sum of plane waves on a grid, averaged over each pixel (no aliasing), via one matmul.

    ``cos(ky y + kx x + p) = cos(ky y + p) cos(kx x) - sin(ky y + p) sin(kx x)``, so the field is
    ``A @ B`` with ``A`` (rows x 2K) and ``B`` (2K x columns). Averaging a wave over a pixel of
    width ``a`` multiplies it by ``sinc(k a / 2 pi)`` along each axis.
    """
    ky, kx, phase, amp = waves.T
    amp = amp * np.sinc(ky * pixel_um / (2 * np.pi)) * np.sinc(kx * pixel_um / (2 * np.pi))
    arg_y = rows_um[:, None] * ky[None, :] + phase[None, :]
    arg_x = cols_um[:, None] * kx[None, :]
    a = np.concatenate([np.cos(arg_y) * amp, -np.sin(arg_y) * amp], axis=1)
    b = np.concatenate([np.cos(arg_x), np.sin(arg_x)], axis=1).T
    return a @ b


def _nuclear_signal(
    scene: NucleiScene,
    raster: _Raster,
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

    A pixel of nucleus ``i`` (label ``i + 1``) is on the rim when the nearest pixel centre that
    is not part of nucleus ``i`` (background or another nucleus, not the image border) lies at
    most ``rim_um + px / 2`` away. The distances come from a Euclidean distance transform of
    each nucleus in its bounding box grown by one pixel: that ring is outside the nucleus, so
    no pixel farther away can be nearer.
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


def _camera(expected: np.ndarray, p: NucleiParams, rng: np.random.Generator) -> np.ndarray:
    """Photon arrival (Poisson), read noise (Gaussian), gain, offset, rounding and saturation.

    The expected photon counts are rounded to 1/1024 photon first, so that the last-bit
    differences of floating-point maths between machines do not change the random draws.
    """
    expected = np.round(expected * 1024.0) / 1024.0
    electrons = rng.poisson(expected).astype(np.float32)
    if p.read_noise > 0:
        electrons += np.float32(p.read_noise) * rng.standard_normal(expected.shape, np.float32)
    counts = np.rint(np.float32(p.gain) * electrons + np.float32(p.offset))
    top = 2**p.bit_depth - 1
    return np.clip(counts, 0, top).astype(p.dtype)


def _illumination(
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
    """Point spread function plus out-of-focus haze.

    The haze is a wide Gaussian blur, computed on a grid ``f`` times coarser (it is smooth) and
    interpolated back with two small matrix products.
    """
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
    """Oversampling factor so that the smallest nucleus spans at least ~8 grid cells.

    With ``rim_um`` (an envelope stain) the rim also spans at least two grid cells.
    """
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

    Parameters
    ----------
    scene : NucleiScene
        The sample, from :func:`make_scene`.
    rng : None, int or numpy.random.Generator
        Source of the noise.
    shape : (int, int), optional
        Output shape instead of ``pixel_size_um``: the same field of view sampled with
        ``shape`` pixels (``pixel_size_um = fov / shape``; the aspect ratio must match).
    relabel : bool
        Number the nuclei visible in this image 1..N (default). With False, nucleus ``i`` of the
        scene has label ``i + 1`` at every pixel size (labels may then skip numbers when a
        nucleus is too small to cover any pixel centre).
    **acquisition
        Acquisition parameters to change: ``stain``, ``rim_um``, ``pixel_size_um``,
        ``psf_sigma_um``, ``haze``, ``haze_sigma_um``, ``shading``, ``photons``, ``snr``,
        ``background_photons``, ``read_noise``, ``gain``, ``offset``, ``bit_depth``. The rest
        default to ``scene.params``. Sample parameters (sizes, density...) cannot change here.

    Returns
    -------
    image : ndarray of uint16 (uint8 for ``bit_depth <= 8``)
        Camera counts.
    labels : ndarray of int32
        Instance labels, 0 = background.

    Notes
    -----
    Labels are sampled at pixel centres. The image integrates the light over each pixel: when
    nuclei would be smaller than ~8 pixels the sample is drawn on a finer grid, blurred, and
    averaged into the camera pixels, so a coarse image is what a camera with large pixels (or
    binning) would record, not a subsampled fine image. ``photons`` is per *camera* pixel at
    every pixel size, so the per-pixel SNR does not change with ``pixel_size_um`` unless asked.

    ``stain="envelope"`` images the same nuclei with a stain of their outlines only (see
    :class:`NucleiParams`): the signal is a rim along each outline, and it goes through the same
    optics and camera as the nuclear stain. With ``haze=0`` the inside of a nucleus is then
    exactly background; haze adds a faint glow of the rims around them.

    Examples
    --------
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
        _check_names({k: None for k in sample})
        raise ValueError(
            f"{sample[0]!r} describes the sample and cannot change at render time; make a new "
            f"scene with make_scene(..., {sample[0]}=...)"
        )
    if shape is not None:
        shape = _check_shape(shape)
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
    expected, labels = _expected_photons(scene, p, out_shape)
    image = _camera(expected, p, as_rng(rng))
    if relabel:
        labels = _relabel_sequential(labels)
    return image, labels


def _expected_photons(
    scene: NucleiScene,
    p: NucleiParams,
    out_shape: tuple[int, int],
    texture_shift_um: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean photons per camera pixel (before noise) and labels (nucleus i -> i + 1).

    ``texture_shift_um`` (N, 2) moves each nucleus' chromatin texture along with it (time-lapse:
    a nucleus that moved by ``s`` shows the texture it had at its original place).
    """
    px = p.pixel_size_um
    envelope = p.stain == "envelope"
    factor = _fine_factor(scene, px, out_shape, p.rim_um if envelope else None)
    fine_px = px / factor
    fine_shape = (out_shape[0] * factor, out_shape[1] * factor)

    def draw(grid_shape, cell_um):
        centers = scene.centers_um / cell_um - 0.5
        return _rasterize((1, *grid_shape), centers, scene.radii_um / cell_um)

    fine = draw(fine_shape, fine_px)
    rows_um = (np.arange(fine_shape[0]) + 0.5) * fine_px
    cols_um = (np.arange(fine_shape[1]) + 0.5) * fine_px
    tex_index = None
    if envelope:
        tex = None
    elif not scene.texture.any():
        tex = np.zeros(fine_shape)
    elif texture_shift_um is None:
        tex = _texture_field(scene.waves, rows_um, cols_um, fine_px)
    else:
        shift = np.rint(np.asarray(texture_shift_um) / fine_px).astype(np.intp)
        m = int(np.abs(shift).max(initial=0))
        pad_rows = (np.arange(-m, fine_shape[0] + m) + 0.5) * fine_px
        pad_cols = (np.arange(-m, fine_shape[1] + m) + 0.5) * fine_px
        tex = _texture_field(scene.waves, pad_rows, pad_cols, fine_px)
        r, c = np.divmod(fine.flat, fine_shape[1])
        tex_index = (r - shift[fine.obj, 0] + m) * pad_cols.size + (c - shift[fine.obj, 1] + m)
    if envelope:
        signal = _envelope_signal(scene, fine.labels[0], fine_px, p.rim_um)
    else:
        signal = _nuclear_signal(
            scene, fine, fine_shape[0] * fine_shape[1], fine_px, tex, tex_index
        ).reshape(fine_shape)
    signal = _blur_and_haze(signal, p, fine_px)
    expected = _illumination(scene, rows_um, cols_um, p.shading) * (
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
    """A synthetic fluorescence image of nuclei and its exact instance labels.

    Parameters
    ----------
    shape : (int, int)
        Image shape in pixels.
    preset : str, optional
        ``"easy"``, ``"crowded"``, ``"low_snr"``, ``"large_objects"`` or ``"dividing"``
        (see :data:`PRESETS`); ``None`` for the realistic defaults.
    rng : None, int or numpy.random.Generator
        Source of randomness: the same seed gives the same image.
    **params
        Any parameter of :class:`NucleiParams`, in physical units, e.g. ``pixel_size_um=0.3``,
        ``diameter_um=(6, 12)``, ``snr=4``, ``bit_depth=8``.

    Returns
    -------
    image : ndarray of uint16 (uint8 when ``bit_depth <= 8``)
        Camera counts (12-bit by default: values in [0, 4095], dark level ``offset``).
    labels : ndarray of int32
        0 for background, 1..N for the N nuclei.

    See Also
    --------
    make_scene, render_nuclei : the two steps, to image one sample several ways.

    Examples
    --------
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


def random_nuclei_params(rng: Any = None, **fixed: Any) -> NucleiParams:
    """Draw a random microscope and sample: the domain-randomisation recipe of notebook 05.

    A network learns what its training data show. Drawing every training image with its own
    pixel size (0.3-1 um), nucleus size (typically 7-40 pixels across, 1.7-fold range within an
    image), shape, density, brightness spread, texture, blur, shading and noise (from bright to
    nearly drowned) helps it work on real images it never saw.

    Parameters
    ----------
    rng : None, int or numpy.random.Generator
        Source of randomness.
    **fixed
        Parameters to keep at a given value instead of drawing them.

    Returns
    -------
    NucleiParams

    Examples
    --------
    >>> p = random_nuclei_params(0)
    >>> 4 <= p.diameter_um[0] / p.pixel_size_um <= p.diameter_um[1] / p.pixel_size_um <= 90
    True
    >>> random_nuclei_params(0, bit_depth=8).bit_depth
    8
    >>> image, labels = make_nuclei((64, 64), rng=0, **vars(random_nuclei_params(0)))
    """
    _check_names(fixed)
    rng = as_rng(rng)

    def log_uniform(low, high):
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))

    pixel_size = log_uniform(0.3, 1.0)
    diameter = log_uniform(7, 40) * pixel_size  # typical nucleus diameter in um
    draw = dict(
        pixel_size_um=pixel_size,
        diameter_um=(diameter / 1.3, diameter * 1.3),
        eccentricity=(0.0, rng.uniform(0.4, 0.85)),
        irregularity=rng.uniform(0.0, 0.12),
        coverage=rng.uniform(0.1, 0.45),
        touching=rng.uniform(0.2, 0.6),
        dividing=rng.choice([0.0, 0.1]),
        intensity_spread=rng.uniform(0.2, 0.6),
        texture=rng.uniform(0.0, 0.5),
        texture_scale_um=log_uniform(0.5, 2.0),
        nucleoli=(0, int(rng.integers(0, 5))),
        nucleolus_contrast=rng.uniform(0.2, 0.6),
        dome=rng.uniform(0.0, 0.6),
        psf_sigma_um=pixel_size * rng.uniform(0.4, 2.0),
        haze=rng.uniform(0.0, 0.25),
        shading=rng.uniform(0.0, 0.3),
        photons=log_uniform(8, 2000),
        background_photons=log_uniform(5, 100),
    )
    draw.update(fixed)
    return NucleiParams(**draw)
