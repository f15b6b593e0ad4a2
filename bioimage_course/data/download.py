"""Real public nuclei data sets: a registry, verified downloads into a cache, a synthetic fallback.

Notebooks 05 and 09 evaluate on real fluorescence images. :func:`fetch_dataset` downloads a
registered data set once into :func:`cache_dir`, checks it, unpacks it and returns the
(image, labels) pairs. A file is used only after two checks: its SHA-256 (the publisher's, or
one recorded by other projects' loaders, or pinned from the first download that passed) and,
for a zip archive, its content (:func:`bioimage_course.data.archives.check_archive`).

Downloads go to a hidden ``.part`` file renamed only when complete and checked, so a cut
transfer or a login page served instead of the file never looks valid; a cached file that
fails later is moved to ``<cache>/<name>/quarantine/`` and fetched again. Notebooks call
:func:`fetch_or_synthetic`: offline it says so in one line and returns synthetic nuclei.

>>> sorted(REGISTRY)
['bbbc039', 'dsb2018']
>>> print(REGISTRY["dsb2018"].license)
CC0 1.0 (public domain dedication), as the BBBC038 / Data Science Bowl 2018 images it is drawn from
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._files import temporary_file
from .._validate import as_rng, check_choice
from .archives import LOADERS, READ_CHUNK, check_archive, unpack_all
from .errors import ChecksumError, DatasetUnavailableError

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


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: where it is, its name in the cache, its checksums.

    ``sha256`` is the publisher's; ``reference_sha256`` one recorded independently by others,
    enforced where the publisher gives none. With neither, the first download is pinned.
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

    ``layout`` is ``"folders"`` (``<subdir>/<split>/images`` and ``.../masks``) or
    ``"bbbc039"``; ``split_sizes`` (image/mask pairs per split) refuses an archive holding other
    numbers; ``pixel_size_um`` where known and the same for all images.
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


def file_sha256(path: Path) -> str:
    """The SHA-256 checksum of a file, read a chunk at a time, as a hex string."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(READ_CHUNK), b""):
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

    Only a complete transfer with the expected ``sha256`` (None: any), accepted by ``check``
    (called with the finished temporary file), is renamed to ``dest``; anything else deletes the
    partial file and raises :class:`DatasetUnavailableError` or :class:`ChecksumError`.

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
                        chunk = response.read(READ_CHUNK)
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

    A failing cached copy is quarantined and downloaded again, once; an unknown checksum is pinned.
    """
    path = root / "downloads" / remote.filename
    pins = _read_pins(root)
    expected = remote.expected_sha256
    pinned = expected is None and remote.filename in pins
    if pinned:
        expected = pins[remote.filename]

    def check(candidate: Path) -> None:  # candidate: the cached file or a finished download
        if path.suffix == ".zip":
            check_archive(candidate, info, remote)

    moved, cached_problem = None, ""
    if path.is_file() and expected is not None:  # without a checksum a copy cannot be trusted
        digest = file_sha256(path)
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


def fetch_dataset(
    name: str | DatasetInfo,
    *,
    split: str = "train",
    cache: str | os.PathLike | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Download (once), verify, unpack and load a registered real data set: (image, labels) pairs.

    ``name`` is a key of :data:`REGISTRY` or a :class:`DatasetInfo`. Raises
    :class:`DatasetUnavailableError` (offline, cut short, a web page, a damaged archive, another
    layout) or :class:`ChecksumError`; the message says what to delete where that would help.
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
        unpack_all(downloaded, unpacked)
        _write_text(ready, "downloaded, verified and unpacked\n")
    return LOADERS[info.layout](info, unpacked, split)


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
    """Real data if it can be had, else ``n_synthetic`` synthetic nuclei, announced in one line.

    Returns ``(pairs, source)``, ``source`` being the data set's name or ``"synthetic"``;
    ``fetch_kwargs`` go to :func:`fetch_dataset`.

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
