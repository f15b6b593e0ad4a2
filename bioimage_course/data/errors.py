"""The errors of obtaining a real data set (see :mod:`bioimage_course.data.download`).

Both are ``OSError``: code that already handles a failed download or a missing file handles
them too.

>>> issubclass(ChecksumError, DatasetUnavailableError), issubclass(DatasetUnavailableError, OSError)
(True, True)
"""


class DatasetUnavailableError(OSError):
    """A data set could not be obtained (no network, server down, broken or wrong file)."""


class ChecksumError(DatasetUnavailableError):
    """A downloaded file's SHA-256 differs from the expected one; the file was discarded."""
