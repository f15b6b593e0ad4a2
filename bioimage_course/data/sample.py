"""The course's small sample data set: synthetic nuclei in the on-disk layout users have.

Introduced in notebook 01 (digital images). The repository's ``data/`` folder holds a sample
made by this module::

    data/
      train/images/nuclei_00.tif ... train/masks/nuclei_00.tif ...
      val/images/...  val/masks/...
      test/images/... test/masks/...

Images are 12-bit camera counts (uint16) and masks are instance labels (uint16, 0 =
background), both OME-TIFF with the pixel size (0.65 um) in their metadata. The images differ
the way images from one microscope but different wells do: density, brightness, noise.

The files are *generated*, deterministically: ``python -m bioimage_course.data.sample data``
writes them, and :func:`load_sample` regenerates the same arrays in memory when the folder is
not at hand (a Colab runtime installs the package but does not clone the repository). The test
suite checks that the files in ``data/`` equal what the generator makes.

Examples
--------
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
    """Generate the (image, labels) pairs of one split of the sample (no files involved).

    Parameters
    ----------
    split : {"train", "val", "test"}

    Returns
    -------
    list of (image uint16, labels int32)
    """
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
    """The sample data set: a list of (image, labels) pairs.

    Parameters
    ----------
    split : {"train", "val", "test"}
        8, 4 and 4 images of 256 x 256 pixels.
    root : str or path, optional
        A folder written by :func:`write_sample` (such as the repository's ``data/``) to read
        the files from. ``None`` regenerates the same arrays in memory, which works wherever
        the package is installed.

    Returns
    -------
    list of (image uint16, labels int32)

    Examples
    --------
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
    """Write the sample as ``root/<split>/{images,masks}/nuclei_NN.tif`` (OME-TIFF, pixel size).

    Parameters
    ----------
    root : str or path
        Destination folder (created if needed).
    splits : tuple of str
        Which splits to write.
    overwrite : bool
        Replace existing files; without it an existing file raises ``FileExistsError``.

    Returns
    -------
    pathlib.Path
        ``root``.

    Examples
    --------
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
