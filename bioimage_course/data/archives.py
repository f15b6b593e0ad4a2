"""Checking and unpacking downloaded archives: nothing is used before it proves complete.

:mod:`bioimage_course.data.download` calls :func:`check_archive` on every file before it is
pinned or unpacked: every member decompresses with the right CRC-32, no path leaves the
archive, the layout is the promised one. Then :func:`unpack_all` and one of :data:`LOADERS`.

>>> sorted(LOADERS)  # the archive layouts a registered data set can have
['bbbc039', 'folders']
"""

from __future__ import annotations

import lzma
import os
import shutil
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

import numpy as np

from .._files import temporary_folder
from .errors import DatasetUnavailableError

if TYPE_CHECKING:
    from .download import DatasetInfo, RemoteFile

READ_CHUNK = 1 << 20  # bytes read at a time, to hash or check a large file
# ---------------------------------------------------------------------------------------------
# Checking an archive before anything is unpacked or pinned
# ---------------------------------------------------------------------------------------------
# What reading a damaged member of a zip archive raises: a wrong CRC-32 (BadZipFile), a broken
# deflate stream (zlib.error), a stream that ends early (EOFError), a broken bzip2 stream
# (OSError) or lzma stream (LZMAError), a compression method Python cannot read.
_DAMAGED_MEMBER = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    lzma.LZMAError,
    NotImplementedError,
)
_IMAGE_SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".png")  # what load_folder reads
_BBBC039_LISTS = {"train": "training.txt", "val": "validation.txt", "test": "test.txt"}


def _looks_like_a_web_page(path: Path) -> bool:
    with open(path, "rb") as f:
        start = f.read(1024).lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _check_member_paths(zf: zipfile.ZipFile, archive_name: str) -> None:
    """Refuse members that would be written outside the folder the archive is unpacked into."""
    for member in zf.namelist():
        path = PurePosixPath(member.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or PureWindowsPath(member).drive:
            raise DatasetUnavailableError(
                f"{archive_name} contains a path outside the archive: {member!r}"
            )


def _image_stem(name: str) -> str | None:
    """``a`` for ``.../a.tif`` or ``.../a.ome.tif``; None for a file that is not an image."""
    base = PurePosixPath(name).name
    for suffix in _IMAGE_SUFFIXES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return None


def _images_in(members: list[str], folder: str) -> dict[str, str]:
    """The image files directly inside ``.../folder`` (any leading path), by stem."""
    found = {}
    for member in members:
        parent = PurePosixPath(member).parent.as_posix()
        stem = _image_stem(member)
        if stem is not None and (parent == folder or parent.endswith("/" + folder)):
            found[stem] = member
    return found


def _folders_layout_problem(
    info: DatasetInfo, remote: RemoteFile, zf: zipfile.ZipFile, members: list[str]
) -> str | None:
    """``<subdir>/<split>/images`` and ``.../masks``: one mask per image, the expected counts."""
    for i, split in enumerate(info.splits):
        where = f"{info.subdir}/{split}" if info.subdir else split
        images = _images_in(members, where + "/images")
        masks = _images_in(members, where + "/masks")
        if not images:
            return f"no images in a {where + '/images'!r} folder"
        unmatched = sorted(set(images) ^ set(masks))
        if unmatched:
            return (
                f"{len(unmatched)} files in {where!r} have no partner image or mask "
                f"(such as {unmatched[0]!r})"
            )
        if info.split_sizes is not None and len(images) != info.split_sizes[i]:
            return f"{where!r} holds {len(images)} image/mask pairs, expected {info.split_sizes[i]}"
    return None


def _bbbc039_layout_problem(
    info: DatasetInfo, remote: RemoteFile, zf: zipfile.ZipFile, members: list[str]
) -> str | None:
    """images.zip: TIFF images; masks.zip: PNG masks; metadata.zip: one list per split."""
    if remote.filename == "metadata.zip":
        lists = {PurePosixPath(m).name: m for m in members}
        for i, split in enumerate(info.splits):
            listing = _BBBC039_LISTS[split]
            if listing not in lists:
                return f"the list of the {split!r} images, {listing}, is missing"
            lines = zf.read(lists[listing]).decode("utf-8", "replace").splitlines()
            n = sum(1 for line in lines if line.strip())
            if info.split_sizes is not None and n != info.split_sizes[i]:
                return f"{listing} lists {n} images, expected {info.split_sizes[i]}"
        return None
    suffix = {"images.zip": ".tif", "masks.zip": ".png"}.get(remote.filename)
    if suffix is None:
        return None
    n = sum(1 for m in members if m.lower().endswith(suffix))
    expected = None if info.split_sizes is None else sum(info.split_sizes)
    if n == 0 or (expected is not None and n != expected):
        return f"it holds {n} {suffix} files, expected {expected or 'at least one'}"
    return None


_LAYOUT_PROBLEMS: dict[str, Callable[..., str | None]] = {
    "folders": _folders_layout_problem,
    "bbbc039": _bbbc039_layout_problem,
}


def check_archive(path: Path, info: DatasetInfo, remote: RemoteFile) -> None:
    """Raise :class:`DatasetUnavailableError` unless ``path`` is an intact zip laid out as expected.

    Every member is read to its end, which checks its CRC-32: an archive can be damaged and
    still have the checksum that was pinned from it.
    """
    name = remote.filename
    if not zipfile.is_zipfile(path):
        if _looks_like_a_web_page(path):
            raise DatasetUnavailableError(
                f"{name} is a web page, not a zip archive (a network's login page or an error "
                "page?)"
            )
        raise DatasetUnavailableError(f"{name} is not a valid zip archive (cut short?)")
    member = ""
    try:
        with zipfile.ZipFile(path) as zf:
            _check_member_paths(zf, name)
            for member in zf.namelist():
                with zf.open(member) as f:
                    while f.read(READ_CHUNK):
                        pass
            members = [
                m for m in zf.namelist() if not m.endswith("/") and "__MACOSX" not in m.split("/")
            ]
            problem = _LAYOUT_PROBLEMS[info.layout](info, remote, zf, members)
    except DatasetUnavailableError:  # an OSError too, but not a damaged member
        raise
    except _DAMAGED_MEMBER as err:
        where = f": {member!r} cannot be read" if member else ""
        raise DatasetUnavailableError(
            f"{name} is not a valid zip archive, it is damaged{where} ({err})"
        ) from None
    if problem is not None:
        raise DatasetUnavailableError(f"{name} is not the {info.name} archive expected: {problem}")


def unpack_all(downloaded: list[Path], unpacked: Path) -> None:
    """Unpack every archive (copy other files) into ``unpacked``, made only when all are done."""
    unpacked.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_folder(unpacked.parent, unpacked.name)
    try:
        for path in downloaded:
            target = tmp / path.stem
            if path.suffix != ".zip":
                target.mkdir()
                shutil.copyfile(path, target / path.name)
                continue
            try:
                with zipfile.ZipFile(path) as zf:
                    _check_member_paths(zf, path.name)
                    zf.extractall(target)
            except DatasetUnavailableError:
                raise
            except _DAMAGED_MEMBER as err:
                raise DatasetUnavailableError(f"{path} could not be unpacked ({err})") from None
        if unpacked.exists():
            shutil.rmtree(unpacked)
        os.replace(tmp, unpacked)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


# ---------------------------------------------------------------------------------------------
# Reading the unpacked files
# ---------------------------------------------------------------------------------------------
def _as_labels(mask: np.ndarray, where: str) -> np.ndarray:
    """``mask`` as int32 labels, refusing anything a cast would change (0.6 would become 0)."""
    if mask.dtype.kind == "f":
        wrong = ~np.isfinite(mask) | (mask != np.round(mask))
        if wrong.any():
            raise DatasetUnavailableError(
                f"{where} must hold whole-number labels, got dtype {mask.dtype} with the value "
                f"{mask[wrong].flat[0]}"
            )
    elif mask.dtype.kind not in "biu":
        raise DatasetUnavailableError(f"{where} must be a label image, got dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() > np.iinfo(np.int32).max):
        raise DatasetUnavailableError(
            f"{where} must hold labels from 0 to {np.iinfo(np.int32).max}, got values from "
            f"{mask.min()} to {mask.max()}"
        )
    return mask.astype(np.int32)


def load_folders(info: DatasetInfo, unpacked: Path, split: str) -> list:
    from .datasets import load_folder

    pattern = f"{info.subdir}/{split}" if info.subdir else split
    found = sorted(p for p in unpacked.glob(f"**/{pattern}") if "__MACOSX" not in p.parts)
    if not found:
        raise DatasetUnavailableError(f"{info.name}: no {pattern!r} folder in the archive")
    pairs = load_folder(found[0])
    masks = {}  # load_folder returns the pairs sorted by name: name the mask of each
    for p in (found[0] / "masks").iterdir():
        if _image_stem(p.name) is not None:
            masks[_image_stem(p.name)] = p
    names = [masks[stem] for stem in sorted(masks)]
    return [
        (image, _as_labels(labels, f"mask {str(name)!r}"))
        for (image, labels), name in zip(pairs, names, strict=True)
    ]


def load_bbbc039(info: DatasetInfo, unpacked: Path, split: str) -> list:
    from skimage.io import imread
    from skimage.measure import label as connected_components

    from ..io import read_tiff

    listing = next(unpacked.rglob(_BBBC039_LISTS[split]), None)
    if listing is None:
        raise DatasetUnavailableError(
            f"{info.name}: {_BBBC039_LISTS[split]} is missing from metadata.zip"
        )
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    images = {p.stem: p for p in unpacked.rglob("*.tif") if "__MACOSX" not in p.parts}
    masks = {p.stem: p for p in unpacked.rglob("*.png") if "__MACOSX" not in p.parts}
    pairs = []
    for name in names:
        stem = Path(name).stem
        if stem not in images or stem not in masks:
            raise DatasetUnavailableError(f"{info.name}: image or mask {stem!r} is missing")
        image, _ = read_tiff(images[stem])
        mask = np.asarray(imread(masks[stem]))
        mask = mask[..., 0] if mask.ndim == 3 else mask
        labels = connected_components(mask, background=0, connectivity=1).astype(np.int32)
        pairs.append((image, labels))
    return pairs


LOADERS: dict[str, Callable[[DatasetInfo, Path, str], list]] = {
    "folders": load_folders,
    "bbbc039": load_bbbc039,
}
