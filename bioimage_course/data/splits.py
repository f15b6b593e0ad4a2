"""Train/validation/test splits that cannot leak: whole images, whole groups, by content.

Notebook 05. :func:`split_indices` splits *whole images* (or whole groups of related images,
such as crops of one field of view); :func:`split_pairs` also keeps identical images together;
:func:`check_disjoint` verifies splits by content. Patches are cut *after* splitting, so no
part of a test image is ever trained on.

>>> import numpy as np
>>> train, val, test = split_indices(10, (0.6, 0.2, 0.2), rng=0)
>>> len(train), len(val), len(test)
(6, 2, 2)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import as_rng, check_array, check_int


def image_hash(image: Any) -> str:
    """A fingerprint of an image's content (dtype, shape and values): equal images, equal hash.

    >>> import numpy as np
    >>> image_hash(np.zeros((2, 2))) == image_hash(np.zeros((2, 2)))
    True
    """
    arr = check_array(image, "image", nonempty=False)
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))  # big-endian: same hash
    h = hashlib.sha1(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def _fractions(fractions: Sequence[float]) -> np.ndarray:
    try:
        f = np.array([float(x) for x in fractions])
    except (TypeError, ValueError):
        raise TypeError(f"`fractions` must be a sequence of numbers, got {fractions!r}") from None
    if f.size < 1 or not np.isfinite(f).all() or (f < 0).any() or f.sum() <= 0:
        raise ValueError(
            f"`fractions` must be finite numbers >= 0 with a positive sum, got {fractions!r}"
        )
    return f / f.sum()


def split_indices(
    n: int,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    *,
    rng: Any = None,
    groups: Sequence[Any] | None = None,
) -> tuple[np.ndarray, ...]:
    """Split ``n`` items into disjoint sorted index sets, keeping every group within one split.

    ``fractions`` are relative sizes (``(8, 1, 1)`` works); ``groups`` gives a group id per item
    (field of view, slide, animal). Groups are dealt out largest first, each to the split
    furthest below its share, so the counts come close to the fractions (exactly, by largest
    remainder, when every group has one item).

    >>> train, val, test = split_indices(10, (0.6, 0.2, 0.2), rng=0)
    >>> len(train), len(val), len(test)
    (6, 2, 2)
    >>> a, b = split_indices(4, (0.5, 0.5), rng=0, groups=["x", "x", "y", "y"])
    >>> sorted(map(len, (a, b)))
    [2, 2]
    """
    n = check_int(n, "n", 0)
    f = _fractions(fractions)
    rng = as_rng(rng)
    if groups is None:
        group_of = np.arange(n)
    else:
        groups = list(groups)
        if len(groups) != n:
            raise ValueError(f"`groups` must have one entry per item ({n}), got {len(groups)}")
        _, group_of = np.unique(np.array(groups, dtype=object).astype(str), return_inverse=True)
    n_groups = int(group_of.max()) + 1 if n else 0
    # deal out large groups first (equal sizes in random order): the counts come out closest
    shuffled = rng.permutation(n_groups)
    sizes_all = np.bincount(group_of, minlength=n_groups)
    order = shuffled[np.argsort(-sizes_all[shuffled], kind="stable")]
    sizes = sizes_all[order]
    # item count targets, by largest remainder
    target = f * n
    counts = np.floor(target).astype(int)
    counts[np.argsort(-(target - counts), kind="stable")[: n - counts.sum()]] += 1
    split_of_group = np.empty(n_groups, int)
    filled = np.zeros(f.size, int)
    for g, size in zip(order, sizes, strict=True):
        split = int(np.argmax(counts - filled))  # the split furthest below its target
        split_of_group[g] = split
        filled[split] += size
    split_of_item = split_of_group[group_of]
    return tuple(np.flatnonzero(split_of_item == s) for s in range(f.size))


def split_pairs(
    pairs: Sequence[Any],
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    *,
    rng: Any = None,
    groups: Sequence[Any] | None = None,
) -> tuple[list, ...]:
    """Split a list of (image, labels, ...) items into disjoint lists, duplicates kept together.

    As :func:`split_indices`, and identical images (:func:`image_hash`) go into the same split:
    a data set holding an image twice cannot leak it into both training and test.

    >>> import numpy as np
    >>> a, b = np.zeros((4, 4)), np.ones((4, 4))
    >>> first, second = split_pairs([(a, a), (b, b), (a, a)], (0.5, 0.5), rng=0)
    >>> sorted([len(first), len(second)])
    [1, 2]
    """
    pairs = list(pairs)
    hashes = [image_hash(p[0]) for p in pairs]
    keys = list(hashes) if groups is None else [str(g) for g in groups]
    if groups is not None and len(keys) != len(pairs):
        raise ValueError(f"`groups` must have one entry per item ({len(pairs)}), got {len(keys)}")
    # union of "same group" and "same image": merge the groups that share an image
    parent = {k: k for k in keys}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    first_key: dict[str, str] = {}
    for k, h in zip(keys, hashes, strict=True):
        if h in first_key:
            parent[find(k)] = find(first_key[h])
        else:
            first_key[h] = k
    merged = [find(k) for k in keys]
    index_sets = split_indices(len(pairs), fractions, rng=rng, groups=merged)
    return tuple([pairs[i] for i in idx] for idx in index_sets)


def check_disjoint(*splits: Sequence[Any], names: Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` if an image occurs (by content) in more than one split.

    >>> import numpy as np
    >>> a, b = np.zeros((2, 2)), np.ones((2, 2))
    >>> check_disjoint([(a, a)], [(b, b)])
    >>> check_disjoint([(a, a)], [(b, b), (a.copy(), a)], names=["train", "test"])
    Traceback (most recent call last):
    ...
    ValueError: image 0 of 'train' is also image 1 of 'test'
    """
    names = [f"split {i}" for i in range(len(splits))] if names is None else list(names)
    seen: dict[str, tuple[int, int]] = {}
    for s, items in enumerate(splits):
        for i, item in enumerate(items):
            image = item[0] if isinstance(item, (tuple, list)) else item
            h = image_hash(image)
            if h in seen and seen[h][0] != s:
                s0, i0 = seen[h]
                raise ValueError(f"image {i0} of {names[s0]!r} is also image {i} of {names[s]!r}")
            seen.setdefault(h, (s, i))
