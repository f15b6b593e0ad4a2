"""What the synthetic nuclei are made of: every parameter in physical units, and presets.

Introduced in notebook 01 (digital images). :class:`NucleiParams` holds the sample (sizes,
shapes, brightness, texture, crowding) and the acquisition (pixel size, blur, illumination,
camera); :data:`PRESETS` name useful combinations and :func:`random_nuclei_params` draws a
random microscope and sample (the domain randomisation of notebook 05).

Examples
--------
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
            set_("n_nuclei", check_int(self.n_nuclei, "n_nuclei", 0))
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
        for count in np.broadcast_to(np.asarray(self.nucleoli, dtype=object), 2):
            check_int(count, "nucleoli", 0, MAX_NUCLEOLI)
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
        set_("bit_depth", check_int(self.bit_depth, "bit_depth", 1, 16))

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
    """The parameters of a preset, with some of them changed.

    Parameters
    ----------
    preset : str, optional
        One of the names in :data:`PRESETS`; ``None`` uses the defaults of :class:`NucleiParams`.
    **params
        Parameters to change, by name (see :class:`NucleiParams`).

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
    check_param_names(params)
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

    Examples
    --------
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
