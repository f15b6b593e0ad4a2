"""Temporary files and folders for writes that appear complete or not at all.

Writers put the data into a hidden temporary next to the destination and rename it when
complete: a rename within a folder is atomic. Unlike ``tempfile.mkstemp`` (mode 0600), the
temporary gets the permissions the umask allows, so a cache shared by a class stays readable.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> part = temporary_file(folder, "image.tif")
>>> part.name.startswith(".image.tif.") and part.name.endswith(".part"), part.stat().st_size
(True, 0)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_ATTEMPTS = 100  # random names collide almost never; a bounded loop still ends if they do


def _hidden_name(folder: Path, name: str) -> Path:
    return folder / f".{name}.{secrets.token_hex(4)}.part"


def temporary_file(folder: str | os.PathLike, name: str) -> Path:
    """Create a new empty file ``.<name>.<random>.part`` in ``folder``; return its path."""
    folder = Path(folder)
    for _ in range(_ATTEMPTS):
        path = _hidden_name(folder, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"could not create a temporary file for {name!r} in {str(folder)!r}")


def temporary_folder(folder: str | os.PathLike, name: str) -> Path:
    """Create a new empty folder ``.<name>.<random>.part`` in ``folder``; return its path."""
    folder = Path(folder)
    for _ in range(_ATTEMPTS):
        path = _hidden_name(folder, name)
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary folder for {name!r} in {str(folder)!r}")
