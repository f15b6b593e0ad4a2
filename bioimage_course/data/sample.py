"""The course's small sample data set: synthetic nuclei in the on-disk layout users have.

Notebook 01. The repository's ``data/`` folder holds ``train/``, ``val/`` and ``test/``, each
with ``images/nuclei_NN.tif`` and ``masks/nuclei_NN.tif``: 12-bit camera counts and instance
labels as OME-TIFF with the pixel size (0.65 um), differing as wells of one experiment do.
``python -m bioimage_course.data.sample data`` writes them deterministically, and
:func:`load_sample` regenerates the same arrays in memory where the folder is absent (Colab);
a test checks that the files equal what the generator makes.

>>> pairs = load_sample("val")
>>> len(pairs), pairs[0][0].shape, pairs[0][0].dtype, pairs[0][1].dtype
(4, (256, 256), dtype('uint16'), dtype('int32'))
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_choice
from .synthetic import make_nuclei

__all__ = ["SPLITS", "SHAPE", "PIXEL_SIZE_UM", "sample_pairs", "load_sample", "write_sample"]

SPLITS = {"train": 8, "val": 4, "test": 4}  # images per split
SHAPE = (256, 256)
PIXEL_SIZE_UM = 0.65
SEED = 20240501
_SPLIT_KEY = {"train": 0, "val": 1, "test": 2}


def _image_params(rng: np.random.Generator) -> dict[str, Any]:
    """One well of the same experiment: the microscope is fixed, the sample varies."""
    return dict(
        pixel_size_um=PIXEL_SIZE_UM,
        coverage=rng.uniform(0.12, 0.45),
        touching=rng.uniform(0.1, 0.6),
        dividing=rng.choice([0.0, 0.05, 0.1]),
        photons=float(math.exp(rng.uniform(math.log(40.0), math.log(800.0)))),
        background_photons=rng.uniform(10.0, 60.0),
        shading=rng.uniform(0.05, 0.25),
    )


def sample_pairs(split: str = "train") -> list[tuple[np.ndarray, np.ndarray]]:
    """Generate the (image uint16, labels int32) pairs of one split (no files involved)."""
    check_choice(split, "split", SPLITS)
    pairs = []
    for i in range(SPLITS[split]):
        rng = np.random.default_rng([SEED, _SPLIT_KEY[split], i])
        pairs.append(make_nuclei(SHAPE, rng=rng, **_image_params(rng)))
    return pairs


def _names(split: str) -> list[str]:
    return [f"nuclei_{i:02d}" for i in range(SPLITS[split])]


def load_sample(
    split: str = "train", *, root: str | Path | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The sample data set: 8, 4 or 4 (image, labels) pairs of 256 x 256 pixels.

    ``root``: a folder written by :func:`write_sample` (the repository's ``data/``) to read;
    ``None`` regenerates the same arrays in memory, wherever the package is installed.

    >>> train = load_sample("train")
    >>> len(train), int(train[0][1].max()) > 0
    (8, True)
    """
    check_choice(split, "split", SPLITS)
    if root is None:
        return sample_pairs(split)
    from .datasets import load_folder

    return [(image, labels.astype(np.int32)) for image, labels in load_folder(Path(root) / split)]


def write_sample(
    root: str | Path,
    *,
    splits: tuple[str, ...] = ("train", "val", "test"),
    overwrite: bool = False,
) -> Path:
    """Write the sample as ``root/<split>/{images,masks}/nuclei_NN.tif``; returns ``root``.

    An existing file raises ``FileExistsError`` unless ``overwrite``.

    >>> import tempfile
    >>> root = write_sample(tempfile.mkdtemp(), splits=("test",))
    >>> sorted(p.name for p in (root / "test" / "images").iterdir())[:2]
    ['nuclei_00.tif', 'nuclei_01.tif']
    """
    from ..io import write_tiff

    root = Path(root)
    for split in splits:
        check_choice(split, "splits", SPLITS)
        for sub in ("images", "masks"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for name, (image, labels) in zip(_names(split), sample_pairs(split), strict=True):
            write_tiff(
                root / split / "images" / f"{name}.tif",
                image,
                axes="YX",
                pixel_size_um=PIXEL_SIZE_UM,
                overwrite=overwrite,
            )
            write_tiff(
                root / split / "masks" / f"{name}.tif",
                labels.astype(np.uint16),
                axes="YX",
                pixel_size_um=PIXEL_SIZE_UM,
                overwrite=overwrite,
            )
    return root


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bioimage_course.data.sample OUT_DIR [--overwrite]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bioimage_course.data.sample",
        description="Write the course's synthetic sample data set (train/val/test) as TIFF.",
    )
    parser.add_argument("root", help="destination folder, e.g. data")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    try:
        root = write_sample(args.root, overwrite=args.overwrite)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    n = sum(SPLITS.values())
    print(f"wrote {n} images and {n} masks to {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
