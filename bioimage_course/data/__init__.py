"""Data for the course: synthetic nuclei with exact ground truth, datasets, downloads, a sample.

Introduced in notebook 01 (digital images); every later notebook draws its images from here.

- :mod:`~bioimage_course.data.synthetic`: :func:`make_nuclei` and its parameters (physical
  units, presets); :func:`make_scene` + :func:`render_nuclei` image one sample several ways
  (pixel size, blur, brightness, noise: domain shift on demand).
- :mod:`~bioimage_course.data.multidim`: channels, z-stacks and time series, with axes.
- :mod:`~bioimage_course.data.datasets`: torch datasets (in memory, folders, synthetic);
  :mod:`~bioimage_course.data.splits`: train/validation/test splits that cannot leak an image.
- :mod:`~bioimage_course.data.download`: real data sets (DSB 2018, BBBC039), verified downloads,
  and the synthetic fallback used by notebooks when offline.
- :mod:`~bioimage_course.data.sample`: the small sample data set in ``data/``.

Examples
--------
>>> from bioimage_course.data import make_nuclei
>>> image, labels = make_nuclei((64, 64), preset="easy", rng=0)
>>> image.shape, labels.dtype
((64, 64), dtype('int32'))
"""

from .datasets import FolderDataset, PairDataset, SyntheticNucleiDataset, load_folder
from .download import (
    REGISTRY,
    ChecksumError,
    DatasetInfo,
    DatasetUnavailableError,
    RemoteFile,
    cache_dir,
    download,
    fetch_dataset,
    fetch_or_synthetic,
)
from .multidim import (
    SyntheticImage,
    make_nuclei_channels,
    make_nuclei_timelapse,
    make_nuclei_zstack,
)
from .splits import check_disjoint, image_hash, split_indices, split_pairs
from .synthetic import (
    PRESETS,
    NucleiParams,
    NucleiScene,
    make_nuclei,
    make_scene,
    nuclei_params,
    photons_for_snr,
    random_nuclei_params,
    render_nuclei,
    snr_of,
)

_SAMPLE = ("load_sample", "sample_pairs", "write_sample")


def __getattr__(name: str):
    # the sample module is imported on first use, so that ``python -m
    # bioimage_course.data.sample`` runs it as a fresh script
    if name in _SAMPLE:
        from . import sample

        return getattr(sample, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "REGISTRY",
    "ChecksumError",
    "DatasetInfo",
    "DatasetUnavailableError",
    "FolderDataset",
    "NucleiParams",
    "NucleiScene",
    "PairDataset",
    "RemoteFile",
    "SyntheticImage",
    "SyntheticNucleiDataset",
    "cache_dir",
    "check_disjoint",
    "download",
    "fetch_dataset",
    "fetch_or_synthetic",
    "image_hash",
    "load_folder",
    "load_sample",
    "make_nuclei",
    "make_nuclei_channels",
    "make_nuclei_timelapse",
    "make_nuclei_zstack",
    "make_scene",
    "nuclei_params",
    "photons_for_snr",
    "random_nuclei_params",
    "render_nuclei",
    "sample_pairs",
    "snr_of",
    "split_indices",
    "split_pairs",
    "write_sample",
]
