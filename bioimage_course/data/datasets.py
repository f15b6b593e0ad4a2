"""Torch datasets of (image, target) pairs, and train/validation/test splits that cannot leak.

Introduced in notebook 05 (U-Net training). A network is trained on many small examples drawn
from a few images: each example is a (random) patch, normalised, augmented, and turned into the
target the loss needs. The datasets here do these steps in a fixed order, for one example::

    image, labels  ->  normalize(image)  ->  random region: the patch plus the margin the
                       transform needs  ->  transform(region, labels, rng)  ->  central patch
                   ->  target ("mask": foreground 0/1, "labels": instance ids, or a callable)
                   (->  weight map, if asked for)  ->  float32 tensors of shape (C, H, W)

The margin is the rule of notebook 04: a rotation or a zoom-out of a patch on its own would
fill the patch's corners with mirrored image content whose labels are background, teaching the
network that those nuclei are not nuclei. Cut with a margin
(:func:`bioimage_course.augment.augmented_patch`), every pixel of the patch comes from real
image content with its real labels; where an image is too small for the margin, image and labels
are mirrored together, so a mirrored nucleus is still labelled.

Three sources of pairs share that recipe: :class:`PairDataset` (arrays in memory),
:class:`FolderDataset` (``images/`` and ``masks/`` folders matched by file name) and
:class:`SyntheticNucleiDataset` (generated on the fly, the same image for the same index).

Randomness: with ``seed=None`` every access draws fresh random patches and augmentations, from
torch's random generator (so a run that seeds torch, such as ``training.fit(seed=...)``, still
repeats exactly). With an integer ``seed`` example ``i`` is a fixed function of
``(seed, epoch, i)``: reproducible in any number of DataLoader workers. Call
``dataset.set_epoch(epoch)`` at the start of each epoch to get new patches every epoch.

Splitting: :func:`split_indices` splits *whole images* (or whole groups of related images, such
as crops of one field of view) between training, validation and test; :func:`split_pairs`
also puts identical images into the same split; :func:`check_disjoint` verifies splits by
content. Patches are cut *after* splitting, so no part of a test image is ever trained on.

Examples
--------
>>> import numpy as np
>>> from bioimage_course.data import make_nuclei
>>> pairs = [make_nuclei((64, 64), preset="easy", rng=i) for i in range(6)]
>>> train, val, test = split_pairs(pairs, (4, 1, 1), rng=0)
>>> len(train), len(val), len(test)
(4, 1, 1)
>>> ds = PairDataset(*zip(*train), patch_size=32, seed=0)
>>> image, target = ds[0]
>>> tuple(image.shape), image.dtype, tuple(target.shape)
((1, 32, 32), torch.float32, (1, 32, 32))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validate import as_rng, check_array, check_in_range, check_int, check_labels, check_sizes
from .splits import check_disjoint, image_hash, split_indices, split_pairs
from .synthetic import PRESETS, NucleiParams, make_nuclei, random_nuclei_params

__all__ = [
    "PairDataset",
    "FolderDataset",
    "SyntheticNucleiDataset",
    "load_folder",
    "split_indices",
    "split_pairs",
    "check_disjoint",
    "image_hash",
]

TARGETS = ("mask", "labels")
IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


def _check_pair(image: Any, labels: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    image = check_array(image, f"image {where}", ndim=(2, 3), finite=True)
    labels = check_labels(labels, f"labels {where}", ndim=2)
    if image.shape[-2:] != labels.shape:
        raise ValueError(
            f"image {where} and its labels must have the same rows and columns, got "
            f"{image.shape} and {labels.shape}"
        )
    return image, labels


class _PairsDataset(Dataset):
    """The recipe shared by all datasets: normalise, crop a patch, transform, make the target."""

    def __init__(
        self,
        *,
        patch_size: int | Sequence[int] | None = None,
        foreground_prob: float = 0.0,
        patches_per_image: int = 1,
        transform: Callable | None = None,
        normalize: Callable | None = None,
        target: str | Callable = "mask",
        weight: Callable | None = None,
        margin_px: int | None = None,
        seed: int | None = None,
    ) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"`transform` must be callable or None, got {type(transform).__name__}")
        if normalize is not None and not callable(normalize):
            raise TypeError(f"`normalize` must be callable or None, got {type(normalize).__name__}")
        if not callable(target) and target not in TARGETS:
            raise ValueError(f"`target` must be 'mask', 'labels' or a callable, got {target!r}")
        if weight is not None and not callable(weight):
            raise TypeError(f"`weight` must be callable or None, got {type(weight).__name__}")
        if margin_px is not None:
            check_int(margin_px, "margin_px", 0)
        if seed is not None:
            check_int(seed, "seed", 0)
        if patch_size is None and foreground_prob:
            raise ValueError("`foreground_prob` needs a `patch_size`")
        check_in_range(foreground_prob, "foreground_prob", 0, 1)
        check_int(patches_per_image, "patches_per_image", 1)
        self.patch_size = None if patch_size is None else check_sizes(patch_size, "patch_size", 2)
        self.foreground_prob = float(foreground_prob)
        self.patches_per_image = int(patches_per_image)
        self.transform = transform
        self.normalize = normalize
        self.target = target
        self.weight = weight
        self.margin_px = None if margin_px is None else int(margin_px)
        self._margins: dict[tuple[int, ...], int] = {}
        self.seed = None if seed is None else int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the random patches/augmentations of ``epoch`` (with an integer ``seed``)."""
        check_int(epoch, "epoch", 0)
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator:
        if self.seed is None:  # fresh, but from torch's generator: a seeded caller repeats
            return np.random.default_rng(int(torch.randint(2**62, ()).item()))
        return np.random.default_rng([self.seed, self.epoch, index])

    def _margin(self, shape: tuple[int, ...]) -> int:
        """The margin around each patch: given, or what the transform needs (computed once)."""
        from ..augment.patch import needed_margin

        if self.margin_px is not None:
            return self.margin_px
        size = tuple(shape) if self.patch_size is None else tuple(self.patch_size)
        if size not in self._margins:
            self._margins[size] = needed_margin(self.transform, size)
        return self._margins[size]

    def _n_images(self) -> int:
        raise NotImplementedError

    def _image_and_labels(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._n_images() * self.patches_per_image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of length {n}")
        index = index % n
        rng = self._rng(index)
        image, labels = self._image_and_labels(index // self.patches_per_image, rng)
        return self.prepare(image, labels, rng=rng)

    def prepare(
        self, image: np.ndarray, labels: np.ndarray, *, rng: Any = None
    ) -> tuple[torch.Tensor, ...]:
        """Turn one (image, labels) pair into the (image, target[, weight]) tensors."""
        from ..augment import augmented_patch
        from ..patches import random_patch

        rng = as_rng(rng)
        image, labels = _check_pair(image, labels, "")
        if self.normalize is not None:
            image = np.asarray(self.normalize(image))
        if self.transform is not None:  # margin, transform, then crop (notebook 04)
            image, labels = augmented_patch(
                image,
                labels,
                labels.shape if self.patch_size is None else self.patch_size,
                transform=self.transform,
                rng=rng,
                foreground_prob=self.foreground_prob,
                margin_px=self._margin(labels.shape),
                channel_axis=0 if image.ndim == 3 else None,
            )
        elif self.patch_size is not None:
            window = random_patch(
                labels.shape,
                self.patch_size,
                rng=rng,
                labels=labels,
                foreground_prob=self.foreground_prob,
            )
            image, labels = image[(..., *window)], labels[window]
        if self.target == "mask":
            target = (np.asarray(labels) > 0).astype(np.float32)
        elif self.target == "labels":
            target = np.asarray(labels).astype(np.float32)
        else:
            target = np.asarray(self.target(np.asarray(labels)), dtype=np.float32)
        arrays = [np.asarray(image, dtype=np.float32), target]
        if self.weight is not None:
            arrays.append(np.asarray(self.weight(np.asarray(labels)), dtype=np.float32))
        return tuple(
            torch.from_numpy(np.ascontiguousarray(a[None] if a.ndim == 2 else a)) for a in arrays
        )


class PairDataset(_PairsDataset):
    """Images and label images held in memory.

    Parameters
    ----------
    images : sequence of arrays
        2D images (rows, columns) or channels-first 3D images (channels, rows, columns).
    labels : sequence of int arrays
        One 2D label image per image (0 = background).
    patch_size : int or (int, int), optional
        Crop a random patch of this size from each image (``None``: whole images, which must
        then all have the same shape to be batched).
    foreground_prob : float
        Probability that a patch is centred on a nucleus (see
        :func:`bioimage_course.patches.random_patch`); needs ``patch_size``.
    patches_per_image : int
        Examples per image and epoch (the dataset length is images x this).
    transform : callable, optional
        ``transform(image, labels, rng=rng) -> (image, labels)``, e.g. an augmentation from
        :mod:`bioimage_course.augment`. Applied to a region larger than the patch by the
        margin the transform needs, then the central patch is kept
        (:func:`~bioimage_course.augment.augmented_patch`), so that no pixel of a patch comes
        from outside the image with a background label. Whole images (``patch_size=None``)
        are treated the same way, with a mirrored margin of image and labels alike.
    normalize : callable, optional
        ``normalize(image) -> image``, e.g. :func:`bioimage_course.normalize.normalize_percentile`;
        applied to the whole image before cropping. Without it the raw values are used
        (as float32).
    target : {"mask", "labels"} or callable
        "mask": 1 inside nuclei, 0 outside; "labels": the instance ids (exact up to 2**24);
        a callable maps the label patch to any target array (2D or channels-first 3D).
    weight : callable, optional
        ``weight(labels) -> array``: a per-pixel weight map of the label patch (e.g.
        :func:`bioimage_course.losses.unet_weight_map`); items become ``(image, target,
        weight)``, what a weighted loss such as ``"weighted_bce"`` needs.
    margin_px : int, optional
        Margin around each patch for ``transform``; default: what its geometric transforms
        need (:meth:`~bioimage_course.augment.RandomWarp.margin_px`). Give it for a
        transform of your own that moves pixels.
    seed : int, optional
        Makes example ``i`` a fixed function of ``(seed, epoch, i)``; ``None`` draws fresh
        randomness on every access.

    Examples
    --------
    >>> import numpy as np
    >>> ds = PairDataset([np.ones((8, 8))], [np.eye(8, dtype=int)], target="mask")
    >>> image, mask = ds[0]
    >>> float(mask.sum())
    8.0
    """

    def __init__(self, images: Sequence[Any], labels: Sequence[Any], **options: Any) -> None:
        super().__init__(**options)
        images, labels = list(images), list(labels)
        if len(images) != len(labels):
            raise ValueError(
                f"`images` and `labels` must have the same length, got {len(images)} and "
                f"{len(labels)}"
            )
        self.images, self.labels = [], []
        for i, (image, lab) in enumerate(zip(images, labels, strict=True)):
            image, lab = _check_pair(image, lab, f"{i}")
            self.images.append(image)
            self.labels.append(lab)

    def _n_images(self) -> int:
        return len(self.images)

    def _image_and_labels(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", *IMAGE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _read_image(path: Path) -> tuple[np.ndarray, float | None]:
    """Pixels and pixel size (um, or None) of a TIFF or PNG file."""
    if path.suffix.lower() == ".png":
        from skimage.io import imread

        return np.asarray(imread(path)), None
    from ..io import read_tiff

    data, meta = read_tiff(path)
    return data, meta.pixel_size_um


def _list_images(folder: Path) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    out: dict[str, Path] = {}
    for p in files:
        stem = _stem(p)
        if stem in out:
            raise ValueError(
                f"two files in {str(folder)!r} have the name {stem!r}: "
                f"{out[stem].name} and {p.name}"
            )
        out[stem] = p
    return out


def load_folder(
    root: str | Path, *, images: str = "images", masks: str = "masks", with_pixel_size: bool = False
) -> list[tuple[np.ndarray, np.ndarray]] | list[tuple[np.ndarray, np.ndarray, float | None]]:
    """Read the (image, labels) pairs of a folder laid out as ``root/images`` + ``root/masks``.

    Files are matched by name without extension (``a.tif`` with ``a.tif`` or ``a.png``); TIFF
    (including OME-TIFF) and PNG are read.

    Parameters
    ----------
    root : str or path
        The folder holding the two sub-folders.
    images, masks : str
        Names of the sub-folders.
    with_pixel_size : bool
        Also return each image's pixel size in um (from its metadata; None when absent).

    Raises
    ------
    FileNotFoundError
        If a sub-folder is missing.
    ValueError
        If a file has no partner, or an image and its mask differ in shape.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from bioimage_course.io import write_tiff
    >>> root = Path(tempfile.mkdtemp())
    >>> for sub in ("images", "masks"):
    ...     (root / sub).mkdir()
    >>> _ = write_tiff(root / "images" / "a.tif", np.zeros((4, 5), np.uint16), axes="YX")
    >>> _ = write_tiff(root / "masks" / "a.tif", np.ones((4, 5), np.uint16), axes="YX")
    >>> [(im.shape, lab.shape) for im, lab in load_folder(root)]
    [((4, 5), (4, 5))]
    """
    root = Path(root)
    folders = {}
    for name in (images, masks):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"`root` {str(root)!r} has no {name!r} folder")
        folders[name] = _list_images(folder)
    found_images, found_masks = folders[images], folders[masks]
    lonely_images = sorted(set(found_images) - set(found_masks))
    lonely_masks = sorted(set(found_masks) - set(found_images))
    if lonely_images or lonely_masks:

        def few(names):
            return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

        parts = []
        if lonely_images:
            parts.append(f"images without a mask: {few(lonely_images)}")
        if lonely_masks:
            parts.append(f"masks without an image: {few(lonely_masks)}")
        raise ValueError(f"unmatched files in {str(root)!r}: " + "; ".join(parts))
    pairs = []
    for stem in sorted(found_images):
        image, px = _read_image(found_images[stem])
        labels, _ = _read_image(found_masks[stem])
        if image.shape[-2:] != labels.shape[-2:] or labels.ndim != 2:
            raise ValueError(
                f"image and mask {stem!r} must have the same rows and columns, got "
                f"{image.shape} and {labels.shape}"
            )
        pairs.append((image, labels, px) if with_pixel_size else (image, labels))
    return pairs


class FolderDataset(PairDataset):
    """Pairs read from ``root/images`` and ``root/masks`` (matched by file name) into memory.

    Parameters
    ----------
    root : str or path
        Folder with the ``images`` and ``masks`` sub-folders (see :func:`load_folder`).
    images, masks : str
        Names of the sub-folders.
    **options
        ``patch_size``, ``foreground_prob``, ``patches_per_image``, ``transform``,
        ``normalize``, ``target``, ``weight``, ``margin_px``, ``seed``: as for
        :class:`PairDataset`.

    Attributes
    ----------
    names : list of str
        The file names (without extension), in dataset order.
    pixel_sizes_um : list of float or None
        Pixel size of each image from its metadata.

    Examples
    --------
    >>> import tempfile
    >>> from bioimage_course.data.sample import write_sample
    >>> root = write_sample(tempfile.mkdtemp(), splits=("val",))
    >>> ds = FolderDataset(root / "val", patch_size=64, seed=0)
    >>> len(ds) == len(ds.names), tuple(ds[0][0].shape)
    (True, (1, 64, 64))
    """

    def __init__(
        self, root: str | Path, *, images: str = "images", masks: str = "masks", **options: Any
    ) -> None:
        pairs = load_folder(root, images=images, masks=masks, with_pixel_size=True)
        super().__init__([p[0] for p in pairs], [p[1] for p in pairs], **options)
        self.names = sorted(_list_images(Path(root) / images))
        self.pixel_sizes_um = [p[2] for p in pairs]


def _params_for(params: Any, rng: np.random.Generator) -> dict[str, Any]:
    if params == "random":
        drawn = random_nuclei_params(rng)
        return {f: getattr(drawn, f) for f in NucleiParams.__dataclass_fields__}
    if callable(params):
        drawn = params(rng)
        if isinstance(drawn, NucleiParams):
            return {f: getattr(drawn, f) for f in NucleiParams.__dataclass_fields__}
        return dict(drawn)
    return dict(params or {})


class SyntheticNucleiDataset(_PairsDataset):
    """Synthetic nuclei generated on the fly: example ``i`` is always the same image.

    Parameters
    ----------
    length : int
        Number of examples per epoch.
    shape : (int, int)
        Shape of the generated images.
    preset : str, optional
        A preset of :func:`bioimage_course.data.make_nuclei`.
    params : dict, "random" or callable, optional
        Generator parameters: a dict of :class:`~bioimage_course.data.NucleiParams` fields;
        ``"random"`` draws a new realistic parameter set for every image
        (:func:`~bioimage_course.data.random_nuclei_params`, domain randomisation); a callable
        ``params(rng)`` returns a dict or ``NucleiParams``.
    resample_each_epoch : bool
        False (default): a fixed data set (the same ``length`` images every epoch, good for
        validation). True: new images every epoch after ``set_epoch`` (an endless supply).
    seed : int
        Seed of the images and patches (default 0).
    **options
        ``patch_size``, ``foreground_prob``, ``patches_per_image``, ``transform``,
        ``normalize``, ``target``, ``weight``, ``margin_px``: as for :class:`PairDataset`.

    Examples
    --------
    >>> ds = SyntheticNucleiDataset(4, shape=(48, 48), preset="easy", seed=1)
    >>> a, _ = ds[2]
    >>> b, _ = ds[2]
    >>> bool((a == b).all()), tuple(a.shape)
    (True, (1, 48, 48))
    """

    def __init__(
        self,
        length: int,
        *,
        shape: tuple[int, int] = (128, 128),
        preset: str | None = None,
        params: dict[str, Any] | str | Callable | None = None,
        resample_each_epoch: bool = False,
        seed: int = 0,
        **options: Any,
    ) -> None:
        if seed is None:
            raise ValueError("`seed` must be an int >= 0 for a synthetic dataset, got None")
        super().__init__(seed=seed, **options)
        check_int(length, "length", 1)
        if preset is not None and preset not in PRESETS:
            raise ValueError(
                f"`preset` must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}"
            )
        if not (
            params is None or params == "random" or callable(params) or isinstance(params, dict)
        ):
            raise TypeError(f"`params` must be a dict, 'random' or a callable, got {params!r}")
        self.length = int(length)
        self.shape = tuple(shape)
        self.preset = preset
        self.params = params
        self.resample_each_epoch = bool(resample_each_epoch)

    def _n_images(self) -> int:
        return self.length

    def generate(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image and labels number ``i`` of the current epoch (no patch, no transform)."""
        epoch = self.epoch if self.resample_each_epoch else 0
        rng = np.random.default_rng([self.seed, epoch, i, 1])
        kwargs = _params_for(self.params, rng)
        return make_nuclei(self.shape, preset=self.preset, rng=rng, **kwargs)

    def _image_and_labels(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.generate(i)
