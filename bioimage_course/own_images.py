"""Your own images: segment a folder of TIFFs, write the labels beside them, check the quality.

Introduced in notebook 09 (generalization). The workflow a user needs after the course:

1. put the images in a folder, in the layout of ``data/`` (``FOLDER/images/*.tif``, and for
   the images you have labelled, ``FOLDER/masks/*.tif`` with the same file names), or as any
   TIFFs directly in ``FOLDER``;
2. optionally fine-tune the pretrained model on the labelled ones
   (:func:`fine_tune_on_folder`, :mod:`bioimage_course.transfer`);
3. :func:`segment_folder`: every image is segmented tile by tile
   (:func:`bioimage_course.segment_nuclei`) and its labels are written as OME-TIFF into
   ``FOLDER/labels/`` (or ``output``) with the image's pixel size; nothing is overwritten
   unless asked;
4. where a mask exists, the labels are scored against it (notebook 07: F1 at IoU 0.5,
   precision, recall, DSB score): a table (:meth:`FolderResult.table`) and a figure
   (:meth:`FolderResult.plot`) for quality control.

Files that are not TIFFs (notes, spreadsheets) are skipped and listed; a ``.tif`` that is not
a TIFF, or an image that is not 2D, stops the run with the file's name, before anything is
written.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from bioimage_course.data import make_nuclei
>>> from bioimage_course.io import write_tiff
>>> folder = Path(tempfile.mkdtemp())
>>> image, truth = make_nuclei((128, 128), rng=1)
>>> _ = write_tiff(folder / "well_a1.tif", image, axes="YX", pixel_size_um=0.65)
>>> result = segment_folder(folder, progress=False)
>>> [p.relative_to(folder).as_posix() for p in result.written]
['labels/well_a1.tif']
>>> result.rows[0]["nuclei"] > 5, result.scored
(True, False)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validate import check_in_range

__all__ = ["TIFF_SUFFIXES", "FolderResult", "find_images", "segment_folder", "fine_tune_on_folder"]

TIFF_SUFFIXES = (".tif", ".tiff")
LABELS_FOLDER = "labels"


@dataclass
class FolderResult:
    """What :func:`segment_folder` did: one row per image, the files written and skipped."""

    rows: list[dict[str, Any]]
    written: list[Path]
    skipped: list[Path] = field(default_factory=list)
    pooled: Any = None  # routes.InstanceScores over every image with a mask, or None

    @property
    def scored(self) -> bool:
        """Whether any image had a mask to score against."""
        return self.pooled is not None

    def table(self) -> str:
        """The rows as a plain-text table (scores where a mask exists, ``-`` elsewhere)."""
        from .metrics import score_table

        fields = ["shape", "diameter_px", "nuclei", "f1", "precision", "recall", "dsb"]
        rows = {
            row["name"]: {f: "-" if row.get(f) is None else row[f] for f in fields}
            for row in self.rows
        }
        for row in rows.values():
            row["shape"] = "x".join(str(n) for n in row["shape"])
        return score_table(rows, fields, digits=3)

    def plot(self, ax=None):
        """F1 at IoU 0.5 per image with a mask, against its nucleus diameter."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        scored = [row for row in self.rows if row.get("f1") is not None]
        ax.scatter([r["diameter_px"] for r in scored], [r["f1"] for r in scored])
        for row in scored:
            ax.annotate(row["name"], (row["diameter_px"], row["f1"]), fontsize=7)
        ax.set(xlabel="nucleus diameter used (px)", ylabel="F1 at IoU 0.5", ylim=(0, 1.05))
        ax.set_title("quality control: images with a mask")
        return ax


def find_images(folder: str | os.PathLike) -> tuple[Path, list[Path], list[Path]]:
    """The image folder, its TIFFs (sorted) and the other files it holds.

    ``FOLDER/images`` when it exists (the ``data/`` layout), else ``FOLDER`` itself.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"`folder` {str(folder)!r} is not a folder")
    images = folder / "images" if (folder / "images").is_dir() else folder
    files = sorted(p for p in images.iterdir() if p.is_file() and not p.name.startswith("."))
    tiffs = [p for p in files if p.suffix.lower() in TIFF_SUFFIXES]
    if not tiffs:
        raise FileNotFoundError(f"`folder` {str(images)!r} holds no TIFF images (.tif, .tiff)")
    return images, tiffs, [p for p in files if p not in tiffs]


def _read_2d(path: Path) -> tuple[np.ndarray, float | None]:
    from .io import read_tiff

    data, meta = read_tiff(path)  # a damaged or non-TIFF file raises, naming the file
    data = np.squeeze(data)
    if data.ndim != 2:
        raise ValueError(f"{path.name}: images must be 2D (one channel), got shape {data.shape}")
    return data, meta.pixel_size_um


def _mask_for(images: Path, path: Path) -> Path | None:
    masks = images.parent / "masks" if images.name == "images" else images / "masks"
    for suffix in TIFF_SUFFIXES:
        candidate = masks / (path.name.split(".")[0] + suffix)
        if candidate.is_file():
            return candidate
    return None


def _output_paths(images: Path, tiffs: list[Path], output: Any, overwrite: bool) -> list[Path]:
    root = images.parent if images.name == "images" else images
    out = Path(output) if output is not None else root / LABELS_FOLDER
    if out.resolve() == images.resolve():
        raise ValueError("`output` must not be the images' folder: images are never overwritten")
    paths = [out / p.name for p in tiffs]
    existing = [p.name for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"`output` {str(out)!r} already holds {', '.join(existing[:5])}"
            f"{' ...' if len(existing) > 5 else ''}; pass overwrite=True or another output"
        )
    return paths


def segment_folder(
    folder: str | os.PathLike,
    *,
    output: str | os.PathLike | None = None,
    model: Any = None,
    diameter_px: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    device: Any = None,
) -> FolderResult:
    """Segment every TIFF of ``folder``, write the labels, and score those that have a mask.

    Parameters
    ----------
    folder : path
        ``FOLDER/images`` (+ optional ``FOLDER/masks``), or a folder of TIFFs.
    output : path, optional
        Where the label images go (default ``FOLDER/labels``; created if needed). Each is an
        OME-TIFF (``uint16`` or ``uint32``) with the file name and pixel size of its image.
    model : torch.nn.Module or path, optional
        A nuclei model (:func:`bioimage_course.load_pretrained`, a fine-tuned one, a zoo
        package); default: the shipped one.
    diameter_px : float, optional
        The nuclei's diameter in pixels; default: estimated for every image.
    overwrite : bool
        Replace existing label files. Without it, existing ones raise ``FileExistsError``
        before any image is segmented.
    progress : bool
        Show a progress bar.

    Returns
    -------
    FolderResult
        ``rows`` (name, shape, pixel size, diameter used, nuclei found, and F1 / precision /
        recall / DSB where a mask exists), ``written``, ``skipped`` and ``pooled`` scores.
    """
    from tqdm.auto import tqdm

    from .io import write_tiff
    from .nuclei import estimate_diameter, load_pretrained, segment_nuclei
    from .routes import instance_scores

    if diameter_px is not None:
        diameter_px = check_in_range(diameter_px, "diameter_px", 0, low_inclusive=False)
    images, tiffs, skipped = find_images(folder)
    paths = _output_paths(images, tiffs, output, overwrite)
    loaded = [_read_2d(p) for p in tiffs]  # every file is read before anything is written
    net = model if model is None or hasattr(model, "forward") else load_pretrained(model)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    rows, written, truths, predictions = [], [], [], []
    for path, out, (image, px) in tqdm(
        list(zip(tiffs, paths, loaded, strict=True)), desc="segmenting", disable=not progress
    ):
        labels = segment_nuclei(image, diameter_px=diameter_px, model=net, device=device)
        diameter = float(diameter_px) if diameter_px is not None else estimate_diameter(image)
        dtype = np.uint16 if labels.max() < 2**16 else np.uint32
        written.append(
            write_tiff(out, labels.astype(dtype), axes="YX", pixel_size_um=px, overwrite=overwrite)
        )
        row = {"name": path.name.split(".")[0], "shape": image.shape, "pixel_size_um": px,
               "diameter_px": round(diameter, 1), "nuclei": int(labels.max())}  # fmt: skip
        mask_path = _mask_for(images, path)
        if mask_path is not None:
            truth, _ = _read_2d(mask_path)
            if truth.shape != image.shape:
                raise ValueError(
                    f"{mask_path.name}: the mask must have its image's shape {image.shape}, "
                    f"got {truth.shape}"
                )
            scores = instance_scores([truth], [labels])
            row.update(f1=scores.f1, precision=scores.precision, recall=scores.recall)
            row.update(dsb=scores.dsb, true_nuclei=scores.n_true)
            truths.append(truth)
            predictions.append(labels)
        rows.append(row)
    pooled = instance_scores(truths, predictions) if truths else None
    return FolderResult(rows, written, skipped, pooled)


def fine_tune_on_folder(
    folder: str | os.PathLike,
    *,
    model: Any = None,
    steps: int = 100,
    progress: bool = True,
    seed: int = 0,
    **options: Any,
):
    """Fine-tune a nuclei model on the images of ``folder`` that have a mask.

    Each labelled image is normalised and rescaled to the training scale by its true nucleus
    size (:func:`bioimage_course.routes.to_training_scale`); then
    :func:`bioimage_course.transfer.train_nuclei` continues training ``model`` (default: the
    shipped one) for ``steps`` steps (``options``: its other arguments). Returns its
    ``TrainingRun``; ``run.model`` goes to :func:`segment_folder` or
    :func:`bioimage_course.zoo.export_model`.
    """
    from .nuclei import load_pretrained
    from .routes import to_training_scale
    from .transfer import train_nuclei

    images, tiffs, _ = find_images(folder)
    pairs = []
    for path in tiffs:
        mask_path = _mask_for(images, path)
        if mask_path is not None:
            image, _ = _read_2d(path)
            truth, _ = _read_2d(mask_path)
            pairs.append(to_training_scale(image, truth, min_shape=options.get("patch_size", 64)))
    if not pairs:
        raise ValueError(f"`folder` {str(folder)!r} has no image with a mask (masks/NAME.tif)")
    start = load_pretrained() if model is None else model
    return train_nuclei(pairs, model=start, steps=steps, progress=progress, seed=seed, **options)
