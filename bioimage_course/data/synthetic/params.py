"""What the synthetic nuclei are made of: every parameter in physical units, and presets.

Notebook 01. :class:`NucleiParams` holds the sample (sizes, shapes, brightness, texture,
crowding) and the acquisition (pixel size, blur, illumination, camera); :data:`PRESETS` name
useful combinations and :func:`random_nuclei_params` draws a random microscope and sample (the
domain randomisation of notebook 05).

>>> p = nuclei_params("easy", pixel_size_um=0.5)
>>> p.pixel_size_um, p.bit_depth
(0.5, 12)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ..._validate import as_rng, check_choice, check_in_range, check_int, check_range

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

_POSITIVE = (0, None, False, True)  # > 0
_NON_NEGATIVE = (0, None, True, True)  # >= 0
_FRACTION = (0, 1, True, True)  # in [0, 1]
# (low, high, low_inclusive, high_inclusive) of the parameters that are single numbers
_LIMITS = {
    "pixel_size_um": _POSITIVE,
    "irregularity": (0, 0.3, True, True),
    "coverage": (0, 0.9, True, True),
    "clustering": _FRACTION,
    "touching": _FRACTION,
    "dividing": _FRACTION,
    "intensity_spread": (0, 2, True, True),
    "texture": _FRACTION,
    "texture_scale_um": _POSITIVE,
    "nucleolus_diameter_um": _POSITIVE,
    "nucleolus_contrast": _FRACTION,
    "dome": _FRACTION,
    "rim_um": _POSITIVE,
    "psf_sigma_um": _NON_NEGATIVE,
    "haze": _NON_NEGATIVE,
    "haze_sigma_um": _POSITIVE,
    "shading": (0, 0.9, True, False),
    "photons": _POSITIVE,
    "background_photons": _NON_NEGATIVE,
    "read_noise": _NON_NEGATIVE,
    "gain": _POSITIVE,
    "offset": _NON_NEGATIVE,
}


@dataclass(frozen=True)
class NucleiParams:
    """Every parameter of the synthetic nuclei, in physical units, with realistic defaults.

    The defaults imitate a widefield image of DAPI-stained cultured cells with a 20x objective
    (0.65 um pixels): nuclei 8-18 um across, several-fold brightness differences, chromatin
    texture, dark nucleoli, a blur of about a pixel, uneven illumination, a 12-bit camera. Ranges
    are ``(low, high)``; a single number means a fixed value.

    Attributes
    ----------
    pixel_size_um : float
        Size of a (square) camera pixel in the sample.
    diameter_um : (float, float)
        Range of nucleus diameters (of the circle with the same area), drawn log-uniformly.
    eccentricity : (float, float)
        Range of eccentricities of the underlying ellipse, 0 (round) to <1.
    irregularity : float
        Relative wobble of the star-shaped outline (0: ellipses; 0.15: lobed, kidney-like).
    n_nuclei : int or None
        Exact number of nuclei; ``None`` derives it from ``coverage``.
    coverage : float
        Fraction of the field covered by nuclei: 0.1 sparse, 0.45 crowded.
    clustering : float
        0: nuclei placed uniformly; 1: dense colonies and empty regions, tens of um wide.
    touching : float
        Fraction of nuclei pressed against a neighbour.
    dividing : float
        Fraction of nuclei drawn as two small, bright, compact daughters (two labels).
    intensity_spread : float
        Standard deviation of the log-brightness: 0.4 makes the brightest of twenty nuclei
        about 4-5x brighter than the dimmest.
    texture : float
        Relative amplitude of the chromatin texture, in [0, 1].
    texture_scale_um : float
        Smallest wavelength of the texture; it spans this to four times this.
    nucleoli : (int, int)
        Range of the number of dark nucleoli per nucleus (at most 4).
    nucleolus_diameter_um : float
        Diameter (full width at half depth) of a nucleolus.
    nucleolus_contrast : float
        How much darker a nucleolus centre is, as a fraction.
    dome : float
        Brightness falloff from centre to edge (a flattened ellipsoid); 0 is flat.
    stain : {"nuclear", "envelope"}
        ``"nuclear"``: the DNA (DAPI, Hoechst), bright throughout. ``"envelope"``: only a rim of
        width ``rim_um`` along each outline (a lamin stain); inside is background, so only a
        window that reaches the rim tells a nucleus' middle from background (notebook 06).
    rim_um : float
        Rim width with ``stain="envelope"``, inwards from the outline (the image border is no
        outline); rims under two pixels are drawn on a finer grid and averaged, as a camera does.
    psf_sigma_um : float
        Standard deviation of the Gaussian point spread function (blur); 0: no blur.
    haze : float
        Out-of-focus glow: fraction of the nuclear signal spread out widely.
    haze_sigma_um : float
        Width (standard deviation) of the haze.
    shading : float
        Relative drop of the illumination from its brightest point to the corners, in [0, 0.9).
    photons : float
        Mean detected photons per pixel of an average nucleus above background.
    snr : float or None
        If given, overrides ``photons`` to reach this signal-to-noise ratio
        (:func:`photons_for_snr`).
    background_photons : float
        Photons per pixel from the background (autofluorescence, stray light).
    read_noise : float
        Camera read noise, standard deviation in electrons (= photons here).
    gain : float
        Camera gain in counts (ADU) per electron.
    offset : float
        Counts added to every pixel (a dark image is not 0).
    bit_depth : int
        Bits of the camera's converter, 1 to 16: values are rounded and clipped to
        ``[0, 2**bit_depth - 1]`` (saturation); ``uint8`` up to 8 bits, else ``uint16``.

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
        for field in dataclasses.fields(self):  # in the order of the fields
            name, value = field.name, getattr(self, field.name)
            if name in _LIMITS:
                low, high, low_in, high_in = _LIMITS[name]
                value = check_in_range(
                    value, name, low, high, low_inclusive=low_in, high_inclusive=high_in
                )
            elif name == "diameter_um":
                value = check_range(value, name)
                check_in_range(value[0], name, 0, low_inclusive=False)
            elif name == "eccentricity":
                value = check_range(value, name)
                for v in value:
                    check_in_range(v, name, 0, 0.99)
            elif name == "n_nuclei" and value is not None:
                value = check_int(value, name, 0)
            elif name == "nucleoli":
                lo, hi = check_range(value, name)
                for count in np.broadcast_to(np.asarray(value, dtype=object), 2):
                    check_int(count, name, 0, MAX_NUCLEOLI)
                value = (int(lo), int(hi))
            elif name == "stain":
                check_choice(value, name, STAINS)
            elif name == "snr" and value is not None:
                value = check_in_range(value, name, 0, low_inclusive=False)
            elif name == "bit_depth":
                value = check_int(value, name, 1, 16)
            object.__setattr__(self, name, value)

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
        check_param_names(changes)
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


def check_param_names(params: Mapping[str, Any]) -> None:
    names = [f.name for f in dataclasses.fields(NucleiParams)]
    for key in params:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"unknown nuclei parameter {key!r}{hint} (see NucleiParams)")


def nuclei_params(preset: str | None = None, **params: Any) -> NucleiParams:
    """The parameters of a ``preset`` (:data:`PRESETS`, or the defaults), with some changed by name.

    >>> nuclei_params("crowded").coverage
    0.5
    >>> nuclei_params("low_snr", pixel_size_um=0.3).pixel_size_um
    0.3
    >>> nuclei_params(diamter_um=(4, 8))
    Traceback (most recent call last):
    ...
    TypeError: unknown nuclei parameter 'diamter_um'; did you mean 'diameter_um'? (see NucleiParams)
    """
    check_param_names(params)
    base: dict[str, Any] = {}
    if preset is not None:
        check_choice(preset, "preset", PRESETS)
        base.update(PRESETS[preset])
    base.update(params)
    return NucleiParams(**base)


def photons_for_snr(snr: float, *, background_photons: float, read_noise: float) -> float:
    """Signal photons per pixel that give a nucleus the signal-to-noise ratio ``snr``.

    SNR = ``S / sqrt(S + B + r**2)`` for ``S`` signal and ``B`` background photons (Poisson) and
    read noise ``r``; solved for ``S``: ``(snr**2 + sqrt(snr**4 + 4 snr**2 (B + r**2))) / 2``.

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


def random_nuclei_params(rng: Any = None, **fixed: Any) -> NucleiParams:
    """Draw a random microscope and sample: the domain-randomisation recipe of notebook 05.

    Every training image gets its own pixel size (0.3-1 um), nucleus size (7-40 pixels across),
    shape, density, brightness, texture, blur, shading and noise, which helps a network work on
    real images it never saw. ``fixed`` parameters are kept instead of drawn.

    >>> from bioimage_course.data.synthetic import make_nuclei
    >>> p = random_nuclei_params(0)
    >>> 4 <= p.diameter_um[0] / p.pixel_size_um <= p.diameter_um[1] / p.pixel_size_um <= 90
    True
    >>> random_nuclei_params(0, bit_depth=8).bit_depth
    8
    >>> image, labels = make_nuclei((64, 64), rng=0, **vars(random_nuclei_params(0)))
    """
    check_param_names(fixed)
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
