"""Temporary files and folders for writes that appear complete or not at all.

A half-written file must never carry its final name. Writers therefore put the data into a
hidden temporary file (or folder) next to the destination and rename it once it is complete:
a rename within one folder is atomic, so readers see either the old state or the new one.

``tempfile.mkstemp`` and ``tempfile.mkdtemp`` would do, except that they create the temporary
readable by its owner only (0600 / 0700) and the rename keeps that, so a cache or an output
folder shared by a class could not be read by the others. The helpers here create it as
``open()`` and ``mkdir`` do: with the permissions the user's umask allows (typically 0644 /
0755), like any file made by ordinary tools.

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
    """Create a new empty file ``.<name>.<random>.part`` in ``folder``; return its path.

    The file is created exclusively (never an existing one) with mode 0666 minus the umask.
    The caller writes to it, then renames it with ``os.replace`` or deletes it.
    """
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
    """Create a new empty folder ``.<name>.<random>.part`` in ``folder``; return its path.

    The folder gets mode 0777 minus the umask, as ``mkdir`` gives it.
    """
    folder = Path(folder)
    for _ in range(_ATTEMPTS):
        path = _hidden_name(folder, name)
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary folder for {name!r} in {str(folder)!r}")
