"""Label images: one integer per object, 0 for background.

Notebook 01; the metrics (07) and the synthetic data renumber with :func:`relabel_sequential`.

>>> import numpy as np
>>> labels = np.array([[0, 7, 7], [3, 0, 9]])
>>> relabelled, ids = relabel_sequential(labels)
>>> relabelled.tolist(), ids.tolist()
([[0, 2, 2], [1, 0, 3]], [3, 7, 9])
"""

from __future__ import annotations

import numpy as np

from ._validate import check_labels

LOOKUP_LIMIT = 1 << 22  # relabel with a lookup table when the largest label is below this


def relabel_sequential(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber the objects of ``labels`` 1..n in order of their ids (0 stays background).

    Returns the renumbered image (same shape, ``intp``) and the original ids: ``ids[k - 1]`` is
    the original label of new label ``k``. One vectorised pass with a lookup table, or with
    ``np.unique`` when the ids are too large for a table. Boolean masks are one object.
    """
    labels = check_labels(labels, "labels")
    flat = labels.ravel()
    if flat.dtype == bool:
        flat = flat.view(np.uint8)
    top = int(flat.max()) if flat.size else 0
    if top <= max(LOOKUP_LIMIT, 2 * flat.size):
        flat = flat.astype(np.intp, copy=False)
        present = np.bincount(flat, minlength=top + 1).astype(bool)
        present[0] = False
        ids = np.flatnonzero(present)
        lookup = np.zeros(top + 1, dtype=np.intp)
        lookup[ids] = np.arange(1, ids.size + 1)
        return lookup[flat].reshape(labels.shape), ids
    values, inverse = np.unique(flat, return_inverse=True)
    inverse = inverse.astype(np.intp).reshape(labels.shape)
    if values[0] == 0:
        return inverse, values[1:]
    return inverse + 1, values
