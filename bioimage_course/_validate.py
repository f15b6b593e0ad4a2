"""Argument checks shared by every module, so that error messages read the same everywhere.

Each check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong
content) with a message that names the argument, says what was expected and shows what came::

    `image` must be a 2D or 3D array, got shape (5,)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def _ndim_text(ndim: int | Iterable[int]) -> str:
    dims = [ndim] if isinstance(ndim, int) else sorted(ndim)
    return " or ".join(f"{d}D" for d in dims)


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | Iterable[int] | None = None,
    finite: bool = False,
    nonempty: bool = True,
    numeric: bool = True,
) -> np.ndarray:
    """Return ``x`` (array_like or a tensor, not None) as a numpy array after checking it.

    ``ndim``: the allowed numbers of dimensions; ``finite`` rejects NaN and inf; ``nonempty``
    arrays with no elements; ``numeric`` requires a bool, integer or float dtype.

    >>> check_array([[1, 2], [3, 4]], "image", ndim=2).shape
    (2, 2)
    >>> check_array([1, 2], "image", ndim=(2, 3))
    Traceback (most recent call last):
    ...
    ValueError: `image` must be a 2D or 3D array, got shape (2,)
    """
    if x is None:
        raise TypeError(f"`{name}` must be an array, got None")
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if numeric and arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = {ndim} if isinstance(ndim, int) else set(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"`{name}` must be a {_ndim_text(allowed)} array, got shape {arr.shape}"
            )
    if nonempty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty, got shape {arr.shape}")
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise ValueError(
            f"`{name}` must contain only finite values, got {n_nan} NaN and {n_inf} infinite"
        )
    return arr


def check_labels(x: Any, name: str, *, ndim: int | Iterable[int] | None = None) -> np.ndarray:
    """Return ``x`` as an integer label image (0 = background), rejecting floats and negatives.

    Boolean masks are accepted and returned unchanged (True counts as label 1).

    Examples
    --------
    >>> check_labels([[0, 2], [2, 5]], "labels").dtype.kind in "iu"
    True
    >>> check_labels([[0.0, 1.5]], "labels")
    Traceback (most recent call last):
    ...
    TypeError: `labels` must be an integer or boolean label image, got dtype float64
    """
    arr = check_array(x, name, ndim=ndim)
    if arr.dtype.kind not in "biu":
        raise TypeError(
            f"`{name}` must be an integer or boolean label image, got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError(f"`{name}` must not contain negative labels, got minimum {arr.min()}")
    return arr


def check_label_ids(x: Any, name: str, *, ndim: int | Iterable[int] | None = None) -> np.ndarray:
    """:func:`check_labels`, with a boolean mask turned into ids (``uint8``: 1 is the object).

    For code that indexes or counts by label id, where ``True``/``False`` would not work.

    >>> check_label_ids(np.array([[True, False]]), "labels")
    array([[1, 0]], dtype=uint8)
    """
    arr = check_labels(x, name, ndim=ndim)
    return arr.view(np.uint8) if arr.dtype == bool else arr


def check_intensity_image(x: Any, name: str, *, ndim: int | Iterable[int] | None = 2) -> np.ndarray:
    """:func:`check_array` for an intensity image: finite numbers, integer or float, not a mask.

    >>> check_intensity_image(np.zeros((2, 2), bool), "image")
    Traceback (most recent call last):
    ...
    TypeError: `image` must be an intensity image (integers or floats), got a boolean mask
    """
    arr = check_array(x, name, ndim=ndim, finite=True)
    if arr.dtype == bool:
        raise TypeError(
            f"`{name}` must be an intensity image (integers or floats), got a boolean mask"
        )
    return arr


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape.

    >>> check_same_shape(np.zeros((2, 3)), np.zeros((3, 2)), "image", "labels")
    Traceback (most recent call last):
    ...
    ValueError: `image` and `labels` must have the same shape, got (2, 3) and (3, 2)
    """
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape, got {a.shape} and {b.shape}"
        )


def check_in_range(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float after checking that it lies in the given interval.

    >>> check_in_range(0.5, "p", 0, 1)
    0.5
    >>> check_in_range(2, "sigma", 0, low_inclusive=False)
    2.0
    >>> check_in_range(-1, "sigma", 0, low_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: `sigma` must be > 0, got -1
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number, got {value!r}") from None
    if np.isnan(v):
        raise ValueError(f"`{name}` must be a number, got NaN")
    bad_low = low is not None and (v < low if low_inclusive else v <= low)
    bad_high = high is not None and (v > high if high_inclusive else v >= high)
    if bad_low or bad_high:
        if low is not None and high is not None:
            lo = "[" if low_inclusive else "("
            hi = "]" if high_inclusive else ")"
            expected = f"in {lo}{low}, {high}{hi}"
        elif low is not None:
            expected = f"{'>=' if low_inclusive else '>'} {low}"
        else:
            expected = f"{'<=' if high_inclusive else '<'} {high}"
        raise ValueError(f"`{name}` must be {expected}, got {value!r}")
    return v


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer: a Python int or a numpy integer, not a bool or a float.

    A float such as ``3.0`` usually comes from a computation that should be rounded on purpose.

    >>> is_int(3), is_int(np.int64(3)), is_int(3.0), is_int(True)
    (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking that it is an integer in ``[low, high]``.

    >>> check_int(4, "depth", 1)
    4
    >>> check_int(2.0, "depth")
    Traceback (most recent call last):
    ...
    TypeError: `depth` must be an int, got 2.0
    >>> check_int(0, "batch_size", 1)
    Traceback (most recent call last):
    ...
    ValueError: `batch_size` must be an int >= 1, got 0
    """
    if not is_int(value):
        raise TypeError(f"`{name}` must be an int, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            expected = f"in [{low}, {high}]"
        else:
            expected = f">= {low}" if low is not None else f"<= {high}"
        raise ValueError(f"`{name}` must be an int {expected}, got {value!r}")
    return int(value)


def check_sizes(value: Any, name: str, ndim: int, low: int = 1) -> tuple[int, ...]:
    """Broadcast an int (or a sequence of ``ndim`` ints) to ``ndim`` ints >= ``low``.

    >>> check_sizes(32, "patch_size", 2), check_sizes((16, 8), "patch_size", 2)
    ((32, 32), (16, 8))
    >>> check_sizes(8.7, "patch_size", 2)
    Traceback (most recent call last):
    ...
    TypeError: `patch_size` must be an int, got 8.7
    """
    values = [value] * ndim if np.isscalar(value) else list(value)
    if len(values) != ndim:
        raise ValueError(f"`{name}` must be an int or {ndim} ints, got {value!r}")
    return tuple(check_int(v, name, low) for v in values)


def check_strings(value: Any, name: str, *, example: str = "['a', 'b']") -> tuple[str, ...]:
    """Return ``value``, a list or tuple of strings, as a tuple; a single string is refused.

    Accepting a string would silently turn ``"DAPI"`` into the names ``D``, ``A``, ``P``, ``I``.

    >>> check_strings(["DAPI", "GFP"], "channel_names")
    ('DAPI', 'GFP')
    >>> check_strings("DAPI", "names")
    Traceback (most recent call last):
    ...
    TypeError: `names` must be a list or tuple of strings such as ['a', 'b'], got the string 'DAPI'
    """
    if isinstance(value, str):
        raise TypeError(
            f"`{name}` must be a list or tuple of strings such as {example}, got the string "
            f"{value!r}"
        )
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"`{name}` must be a list or tuple of strings such as {example}, got "
            f"{type(value).__name__}"
        )
    wrong = [v for v in value if not isinstance(v, str)]
    if wrong:
        raise TypeError(f"`{name}` must contain only strings, got {wrong[0]!r}")
    return tuple(value)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them.

    >>> check_choice("reflect", "mode", ["constant", "reflect"])
    'reflect'
    >>> check_choice("mirror", "mode", ["constant", "reflect"])
    Traceback (most recent call last):
    ...
    ValueError: `mode` must be one of 'constant', 'reflect', got 'mirror'
    """
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {listed}, got {value!r}")
    return value


def check_range(value: Any, name: str) -> tuple[float, float]:
    """Return a ``(low, high)`` range from a pair, or from one number (``low == high``).

    >>> check_range((0.5, 2), "zoom"), check_range(3, "sigma")
    ((0.5, 2.0), (3.0, 3.0))
    >>> check_range((2, 1), "zoom")
    Traceback (most recent call last):
    ...
    ValueError: `zoom` must be a (low, high) pair with low <= high, got (2, 1)
    """
    if np.isscalar(value):
        value = (value, value)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number or a (low, high) pair, got {value!r}") from None
    if not low <= high:
        raise ValueError(f"`{name}` must be a (low, high) pair with low <= high, got {value!r}")
    return low, high


def as_rng(rng: Any = None) -> np.random.Generator:
    """Normalise ``rng`` (None, an int seed or a Generator) to a ``numpy.random.Generator``.

    A Generator is returned as is, so a caller's stream continues; numpy's global state is
    never touched.

    >>> bool(as_rng(0).integers(10) == as_rng(0).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if is_int(rng) and rng < 0:
        raise ValueError(f"`rng` must be None, an int seed >= 0 or a numpy Generator, got {rng}")
    if rng is None or is_int(rng) or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(
        f"`rng` must be None, an int seed >= 0 or a numpy Generator, got {rng!r} "
        f"({type(rng).__name__})"
    )
