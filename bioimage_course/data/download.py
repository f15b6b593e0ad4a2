"""Real public nuclei data sets: a registry, verified downloads into a cache, a synthetic fallback.

Introduced in notebook 05 (U-Net training) and used in notebook 09 (generalization): after
learning on synthetic nuclei, the course evaluates on real fluorescence images.

:func:`fetch_dataset` downloads a registered data set once into a cache folder
(``~/.cache/bioimage-course``, or the folder named by the environment variable
``BIOIMAGE_COURSE_DATA``), checks it, unpacks it and returns the (image, labels) pairs. Each
file must pass two checks before it is used:

1. its SHA-256 checksum: the publisher's, or where the publisher gives none, a value recorded
   independently by other projects' data loaders (``reference_sha256``);
2. for a zip archive, its content: every member decompresses with the right CRC-32, and the
   layout is the expected one (image/mask pairs, the number of images in each split).

A download is written to a hidden temporary ``.part`` file and renamed to its final name only
once it is complete and has passed both checks; archives are unpacked into a temporary folder
renamed when all are done. So an interrupted transfer, a web page served instead of the file
(a network's login page) or a damaged archive never leaves anything that looks valid. A cached
file that fails its checks later (damaged on disk, or stored by an older version of this
module) is moved to ``<cache>/<name>/quarantine/`` and downloaded again. Where no checksum is
known at all, the SHA-256 of the first download that passes the content checks is pinned in
the cache (and printed), and every later download is checked against it.

Notebooks call :func:`fetch_or_synthetic`: offline (or behind a firewall, as on CI) it prints
one line saying so and returns synthetic nuclei instead, so the lesson runs anyway.

Examples
--------
>>> sorted(REGISTRY)
['bbbc039', 'dsb2018']
>>> print(REGISTRY["dsb2018"].license)
CC0 1.0 (public domain dedication), as the BBBC038 / Data Science Bowl 2018 images it is drawn from
"""

from __future__ import annotations

import hashlib
import http.client
import json
import lzma
import os
import shutil
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from .._files import temporary_file, temporary_folder
from .._validate import as_rng, check_choice

__all__ = [
    "ENV_VAR",
    "RemoteFile",
    "DatasetInfo",
    "REGISTRY",
    "DatasetUnavailableError",
    "ChecksumError",
    "cache_dir",
    "download",
    "fetch_dataset",
    "fetch_or_synthetic",
]

ENV_VAR = "BIOIMAGE_COURSE_DATA"
_CHUNK = 1 << 20


class DatasetUnavailableError(OSError):
    """A data set could not be obtained (no network, server down, broken or wrong file)."""


class ChecksumError(DatasetUnavailableError):
    """A downloaded file's SHA-256 differs from the expected one; the file was discarded."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set.

    Attributes
    ----------
    url : str
        Where to download it.
    filename : str
        Name in the cache.
    sha256 : str or None
        The publisher's SHA-256; None when the publisher gives none.
    reference_sha256 : str or None
        A SHA-256 recorded independently by others (the data loaders of other projects),
        enforced where the publisher gives none. With neither, the SHA-256 of the first
        download that passes the content checks is pinned.
    """

    url: str
    filename: str
    sha256: str | None = None
    reference_sha256: str | None = None

    @property
    def expected_sha256(self) -> str | None:
        """The checksum a download must have: the publisher's, else the reference value."""
        digest = self.sha256 or self.reference_sha256
        return None if digest is None else digest.lower()


@dataclass(frozen=True)
class DatasetInfo:
    """A registered data set: where it lives, how it is licensed and cited, how to read it.

    Attributes
    ----------
    name : str
        Registry key and cache folder name.
    description : str
        What the images show.
    files : tuple of RemoteFile
        The files to download (zip archives are unpacked).
    splits : tuple of str
        The splits :func:`fetch_dataset` can return.
    layout : str
        How the unpacked files are organised: ``"folders"`` (``<split>/images`` and
        ``<split>/masks`` under ``subdir``) or ``"bbbc039"``.
    license : str
    citation : str
    homepage : str
    subdir : str
        Folder inside the unpacked archive that holds the splits (``"folders"`` layout).
    pixel_size_um : float or None
        Pixel size, where it is known and the same for all images.
    split_sizes : tuple of int or None
        The number of image/mask pairs in each split, in the order of ``splits``; an archive
        that holds other numbers is refused. None: not checked.
    notes : str
        Anything else a user should know (checksum provenance, mixed magnifications...).
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...]
    splits: tuple[str, ...]
    layout: str
    license: str
    citation: str
    homepage: str
    subdir: str = ""
    pixel_size_um: float | None = None
    split_sizes: tuple[int, ...] | None = None
    notes: str = field(default="")


REGISTRY: dict[str, DatasetInfo] = {
    "dsb2018": DatasetInfo(
        name="dsb2018",
        description=(
            "The fluorescence-nuclei subset of the Data Science Bowl 2018 training images "
            "(BBBC038) prepared by the StarDist authors: 447 training and 50 test images of "
            "varied sizes, magnifications and cell types, with (partly corrected) instance masks "
            "as TIFF."
        ),
        files=(
            RemoteFile(
                url="https://github.com/stardist/stardist/releases/download/0.1.0/dsb2018.zip",
                filename="dsb2018.zip",
                sha256=None,
                reference_sha256="e44921950edce378063aa4457e625581ba35b4c2dbd9a07c19d48900129f386f",
            ),
        ),
        splits=("train", "test"),
        split_sizes=(447, 50),
        layout="folders",
        subdir="dsb2018",
        license=(
            "CC0 1.0 (public domain dedication), as the BBBC038 / Data Science Bowl 2018 images "
            "it is drawn from"
        ),
        citation=(
            "Caicedo et al., Nucleus segmentation across imaging experiments: the 2018 Data "
            "Science Bowl, Nature Methods 16, 1247-1253 (2019); subset from Schmidt, Weigert et "
            "al., Cell Detection with Star-convex Polygons, MICCAI 2018. We used image set "
            "BBBC038v1, available from the Broad Bioimage Benchmark Collection [Ljosa et al., "
            "Nature Methods, 2012]."
        ),
        homepage="https://github.com/stardist/stardist/releases/tag/0.1.0",
        notes=(
            "The publisher (a GitHub release asset) gives no checksum: downloads are checked "
            "against reference_sha256, the value recorded by the torch-em data loaders. "
            "Pixel sizes differ between images and are not recorded."
        ),
    ),
    "bbbc039": DatasetInfo(
        name="bbbc039",
        description=(
            "BBBC039: 200 fields of view of Hoechst-stained U2OS nuclei from a chemical screen "
            "(16-bit TIFF, 520 x 696 pixels), about 23,000 nuclei annotated by hand, with the "
            "publisher's training / validation / test split."
        ),
        files=(
            RemoteFile(
                url="https://data.broadinstitute.org/bbbc/BBBC039/images.zip",
                filename="images.zip",
                reference_sha256="6f30a5d4fe38c928ded972704f085975f8dc0d65d9aa366df00e5a9d449fddd7",
            ),
            RemoteFile(
                url="https://data.broadinstitute.org/bbbc/BBBC039/masks.zip",
                filename="masks.zip",
                reference_sha256="f9e6043d8ca56344a4886f96a700d804d6ee982f31e2b2cd3194af2a053c2710",
            ),
            RemoteFile(
                url="https://data.broadinstitute.org/bbbc/BBBC039/metadata.zip",
                filename="metadata.zip",
                reference_sha256="a2c1f900bed9ba92a99553efd4c2ae98598433691c7401d818653ab61110deb2",
            ),
        ),
        splits=("train", "val", "test"),
        split_sizes=(100, 50, 50),
        layout="bbbc039",
        license="CC0 1.0 (public domain dedication)",
        citation=(
            "We used image set BBBC039v1 [Caicedo et al., Evaluation of Deep Learning Strategies "
            "for Nucleus Segmentation in Fluorescence Images, Cytometry A 95, 952-965 (2019)], "
            "available from the Broad Bioimage Benchmark Collection [Ljosa et al., Nature "
            "Methods 9, 637 (2012)]."
        ),
        homepage="https://bbbc.broadinstitute.org/BBBC039",
        notes=(
            "The Broad Institute publishes no checksums: downloads are checked against "
            "reference_sha256, the values recorded by third-party loaders (torch-em and "
            "others). Masks are PNG files whose red channel numbers touching nuclei 1, 2, 3...; "
            "each connected region of one value is one nucleus."
        ),
    ),
}


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The folder downloads are kept in.

    ``cache`` if given, else the environment variable ``BIOIMAGE_COURSE_DATA``, else
    ``$XDG_CACHE_HOME/bioimage-course`` (``~/.cache/bioimage-course``).

    >>> cache_dir("/tmp/somewhere").as_posix()
    '/tmp/somewhere'
    """
    if cache is not None:
        return Path(cache)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bioimage-course"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    check: Callable[[Path], None] | None = None,
    timeout: float = 30.0,
    progress: bool = False,
) -> str:
    """Download ``url`` to ``dest`` atomically and return the file's SHA-256.

    The data go to a temporary ``.part`` file next to ``dest``; only a complete transfer (as
    long as the server announced) with the expected checksum, accepted by ``check``, is renamed
    to ``dest``. Anything else deletes the partial file and raises. The file gets the
    permissions the user's umask allows, as files made by ordinary tools do.

    Parameters
    ----------
    url : str
        ``http(s)://`` or ``file://`` address.
    dest : path
        Final file name; its folder is created.
    sha256 : str, optional
        Expected SHA-256 (hex). None accepts any content (the caller pins the returned hash).
    check : callable, optional
        Called with the path of the complete temporary file; raises (a
        :class:`DatasetUnavailableError`) to refuse it, e.g. when an archive is damaged.
    timeout : float
        Seconds to wait for the server.
    progress : bool
        Show a progress bar.

    Returns
    -------
    str
        The SHA-256 of the downloaded file.

    Raises
    ------
    DatasetUnavailableError
        If the server cannot be reached or the transfer is cut short.
    ChecksumError
        If the content's SHA-256 is not ``sha256``.
    Exception
        Whatever ``check`` raises.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> src = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
    >>> _ = src.write_bytes(b"hello")
    >>> digest = download(src.as_uri(), src.with_name("copy.txt"))
    >>> digest[:12], src.with_name("copy.txt").read_bytes()
    ('2cf24dba5fb0', b'hello')
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_file(dest.parent, dest.name)
    h = hashlib.sha256()
    received = 0
    try:
        with open(tmp, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
                reason = getattr(err, "reason", err)
                raise DatasetUnavailableError(f"cannot download {url} ({reason})") from None
            with response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                bar = None
                if progress:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=expected, unit="B", unit_scale=True, desc=dest.name)
                try:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        h.update(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                except (OSError, ValueError, http.client.HTTPException) as err:  # cut short
                    raise DatasetUnavailableError(
                        f"download of {url} broke off after {received} bytes ({err})"
                    ) from None
                finally:
                    if bar is not None:
                        bar.close()
            if expected is not None and received != expected:
                raise DatasetUnavailableError(
                    f"download of {url} is incomplete: {received} of {expected} bytes"
                )
        digest = h.hexdigest()
        if sha256 is not None and digest != sha256.lower():
            raise ChecksumError(
                f"{url} has SHA-256 {digest}, expected {sha256.lower()}; the file was discarded"
            )
        if check is not None:
            check(tmp)
        os.replace(tmp, dest)
        return digest
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_text(path: Path, text: str) -> None:
    """Write a small text file atomically (a temporary file renamed when complete)."""
    tmp = temporary_file(path.parent, path.name)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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


def _check_archive(path: Path, info: DatasetInfo, remote: RemoteFile) -> None:
    """Raise :class:`DatasetUnavailableError` unless ``path`` is an intact zip archive laid out
    as ``info`` expects.

    Every member is read to its end, which verifies its CRC-32: an archive can be damaged and
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
                    while f.read(_CHUNK):
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


# ---------------------------------------------------------------------------------------------
# The cache: verified downloads, pinned checksums, quarantine
# ---------------------------------------------------------------------------------------------
def _pins_path(root: Path) -> Path:
    return root / "sha256-pinned.json"


def _read_pins(root: Path) -> dict[str, str]:
    path = _pins_path(root)
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_pins(root: Path, pins: dict[str, str]) -> None:
    _write_text(_pins_path(root), json.dumps(pins, indent=1, sort_keys=True))


def _quarantine(root: Path, path: Path) -> Path:
    """Move a cached file that failed its checks out of the way, kept for inspection."""
    folder = root / "quarantine"
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    os.replace(path, target)
    return target


def _obtain(
    info: DatasetInfo, remote: RemoteFile, root: Path, timeout: float, progress: bool
) -> Path:
    """The path of one file of ``info`` in the cache that has passed every check.

    A cached copy is used if it passes; one that fails is quarantined and downloaded again,
    once. A download is checked before it is renamed into place; its checksum is pinned
    when none is known.
    """
    path = root / "downloads" / remote.filename
    pins = _read_pins(root)
    expected = remote.expected_sha256
    pinned = expected is None and remote.filename in pins
    if pinned:
        expected = pins[remote.filename]

    def check(candidate: Path) -> None:  # candidate: the cached file or a finished download
        if path.suffix == ".zip":
            _check_archive(candidate, info, remote)

    moved, cached_problem = None, ""
    if path.is_file() and expected is not None:  # without a checksum a copy cannot be trusted
        digest = _sha256(path)
        try:
            if digest != expected:
                raise ChecksumError(f"SHA-256 {digest}, expected {expected}")
            check(path)
            return path
        except DatasetUnavailableError as err:
            moved, cached_problem = _quarantine(root, path), str(err)
            if pinned and digest == expected:  # the pin vouched for a bad file: forget it
                del pins[remote.filename]
                _write_pins(root, pins)
                expected, pinned = None, False

    def and_the_cached_copy(err: Exception) -> str:
        if moved is None:
            return ""
        if str(err) == cached_problem:
            return f"; so did the cached copy, now in {moved}"
        return f"; the cached copy failed its checks ({cached_problem}) and is now in {moved}"

    try:
        digest = download(
            remote.url, path, sha256=expected, check=check, timeout=timeout, progress=progress
        )
    except ChecksumError as err:
        if pinned:
            advice = (
                f"the expected value was pinned by an earlier download in {_pins_path(root)}; if "
                "the publisher has changed the file, delete that file to accept the new one"
            )
        else:
            advice = (
                "the server sent another file than the one recorded: a page of the network "
                "(a login page?) or a changed file"
            )
        raise ChecksumError(f"{err}; {advice}{and_the_cached_copy(err)}") from None
    except DatasetUnavailableError as err:
        raise DatasetUnavailableError(f"{err}{and_the_cached_copy(err)}") from None
    if expected is None:
        pins[remote.filename] = digest
        _write_pins(root, pins)
        print(
            f"{info.name}: no checksum is known for {remote.filename}; pinned the SHA-256 "
            f"{digest} of this download, which passed the content checks, in {_pins_path(root)}"
        )
    if moved is not None:
        print(
            f"{info.name}: the cached {remote.filename} failed its checks ({cached_problem}); "
            f"moved it to {moved} and downloaded it again"
        )
    return path


def _unpack_all(downloaded: list[Path], unpacked: Path) -> None:
    """Unpack every archive (copy other files) into a temporary folder renamed at the end.

    ``unpacked`` appears only when every archive has been unpacked completely: an error part
    way leaves nothing half-unpacked behind.
    """
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
    """``mask`` as int32 labels, refusing anything a conversion would change.

    Floating-point masks are accepted only when they hold whole numbers: cast to integers,
    0.6 would become 0 and its object would vanish.
    """
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


def _load_folders(info: DatasetInfo, unpacked: Path, split: str) -> list:
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


def _load_bbbc039(info: DatasetInfo, unpacked: Path, split: str) -> list:
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


_LOADERS: dict[str, Callable[[DatasetInfo, Path, str], list]] = {
    "folders": _load_folders,
    "bbbc039": _load_bbbc039,
}


def fetch_dataset(
    name: str | DatasetInfo,
    *,
    split: str = "train",
    cache: str | os.PathLike | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Download (once), verify, unpack and load a registered real data set.

    Parameters
    ----------
    name : str or DatasetInfo
        A key of :data:`REGISTRY` (``"dsb2018"``, ``"bbbc039"``) or a :class:`DatasetInfo`.
    split : str
        One of the data set's ``splits``.
    cache : path, optional
        Cache folder (default: see :func:`cache_dir`).
    timeout : float
        Seconds to wait for the server.
    progress : bool
        Show download progress bars.

    Returns
    -------
    list of (image, labels int32)

    Raises
    ------
    DatasetUnavailableError
        If a file cannot be downloaded (offline, server down, transfer cut short), is not what
        was expected (a web page, a damaged archive, another layout or number of images) or
        holds masks that are not label images; :class:`ChecksumError` (a subclass) if its
        checksum is wrong. The message says what to delete where that would help.
    """
    if isinstance(name, DatasetInfo):
        info = name
    else:
        check_choice(name, "name", REGISTRY)
        info = REGISTRY[name]
    check_choice(split, "split", info.splits)
    root = cache_dir(cache) / info.name
    unpacked = root / "unpacked"
    ready = root / "READY"
    root.mkdir(parents=True, exist_ok=True)
    if not ready.is_file():
        downloaded = [_obtain(info, remote, root, timeout, progress) for remote in info.files]
        _unpack_all(downloaded, unpacked)
        _write_text(ready, "downloaded, verified and unpacked\n")
    return _LOADERS[info.layout](info, unpacked, split)


def fetch_or_synthetic(
    name: str | DatasetInfo,
    *,
    split: str = "train",
    n_synthetic: int = 8,
    shape: tuple[int, int] = (256, 256),
    preset: str | None = None,
    rng: Any = 0,
    **fetch_kwargs: Any,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Real data if it can be had, else synthetic nuclei, announced in one line.

    Parameters
    ----------
    name, split
        As in :func:`fetch_dataset`.
    n_synthetic, shape, preset, rng
        The synthetic replacement: ``n_synthetic`` images from
        :func:`bioimage_course.data.make_nuclei`.
    **fetch_kwargs
        Passed on to :func:`fetch_dataset` (``cache``, ``timeout``, ``progress``).

    Returns
    -------
    pairs : list of (image, labels)
    source : str
        The data set's name, or ``"synthetic"``.

    Examples
    --------
    >>> offline = DatasetInfo(name="nowhere", description="", splits=("train",),
    ...     files=(RemoteFile("http://127.0.0.1:9/none.zip", "none.zip"),), layout="folders",
    ...     license="", citation="", homepage="")
    >>> import tempfile
    >>> pairs, source = fetch_or_synthetic(offline, n_synthetic=2, shape=(32, 32),
    ...                                    cache=tempfile.mkdtemp(), timeout=2)
    nowhere is not available (cannot download ...); using 2 synthetic images instead.
    >>> source, len(pairs)
    ('synthetic', 2)
    """
    from .synthetic import make_nuclei

    try:
        return fetch_dataset(name, split=split, **fetch_kwargs), (
            name.name if isinstance(name, DatasetInfo) else name
        )
    except DatasetUnavailableError as err:
        label = name.name if isinstance(name, DatasetInfo) else name
        print(f"{label} is not available ({err}); using {n_synthetic} synthetic images instead.")
    rng = as_rng(rng)
    return [make_nuclei(shape, preset=preset, rng=rng) for _ in range(n_synthetic)], "synthetic"
