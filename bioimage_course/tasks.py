"""Segmentation tasks and the annotations that train them, all made from one label image.

Introduced in notebook 08 (instance segmentation). The lecture's *formal definition*: a
segmentation partitions the image domain Omega into regions Omega_i that cover it and do not
overlap::

    Omega = union of the Omega_i,    Omega_i and Omega_j disjoint for i != j

An instance label image (0 = background, k = nucleus k) is such a partition by construction:
every pixel holds exactly one value. :func:`regions` lists its regions and :func:`is_partition`
checks the definition. From the same labels come the outputs of the four tasks of the
lecture's figure:

- **detection**: one box per object (:func:`bounding_boxes`), or one point (:func:`centroids`,
  a *keypoint*);
- **semantic segmentation**: a class per pixel, objects of a class not told apart
  (:func:`semantic_labels`);
- **instance segmentation**: one label per object (the label image itself);
- **panoptic segmentation**: both, a class and an instance id per pixel (:func:`panoptic_labels`).

Examples
--------
>>> import numpy as np
>>> labels = np.array([[1, 1, 0], [0, 2, 2]])
>>> bounding_boxes(labels).tolist()
[[0, 0, 1, 2], [1, 1, 2, 3]]
>>> is_partition(regions(labels))
True
>>> semantic_labels(labels, {1: 1, 2: 2}).tolist()
[[1, 1, 0], [0, 2, 2]]
>>> panoptic_labels(labels, {1: 1, 2: 1}).tolist()
[[1001, 1001, 0], [0, 1002, 1002]]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage as ndi

from ._validate import check_array, check_label_ids

__all__ = [
    "bounding_boxes",
    "centroids",
    "is_partition",
    "panoptic_labels",
    "plot_segmentation_tasks",
    "regions",
    "semantic_labels",
]


def regions(labels) -> np.ndarray:
    """The regions Omega_0 (background), Omega_1, ... of a label image, as a boolean stack.

    Returns
    -------
    ndarray of bool, shape (K, *labels.shape)
        ``regions[i]`` is True where ``labels`` has its i-th smallest value (0 first).
    """
    labels = check_label_ids(labels, "labels")
    return np.stack([labels == value for value in np.unique(labels)])


def is_partition(stack) -> bool:
    """True if the boolean masks in ``stack`` cover every pixel and never overlap.

    The lecture's definition in one line: every pixel belongs to exactly one region.
    """
    stack = check_array(stack, "stack")
    if stack.ndim < 2:
        raise ValueError(f"`stack` must be a stack of masks (K, ...), got shape {stack.shape}")
    return bool(np.all(np.count_nonzero(stack, axis=0) == 1))


def bounding_boxes(labels) -> np.ndarray:
    """Detection boxes of the objects, ``(min_row, min_col, max_row, max_col)``, max exclusive.

    Rows follow the object ids in increasing order (ids absent from the image are skipped);
    the same convention as ``skimage.measure.regionprops(...).bbox``.
    """
    labels = check_label_ids(labels, "labels", ndim=2)
    boxes = [
        (box[0].start, box[1].start, box[0].stop, box[1].stop)
        for box in ndi.find_objects(labels)
        if box is not None
    ]
    return np.array(boxes, dtype=np.int64).reshape(-1, 4)


def centroids(labels) -> np.ndarray:
    """Keypoints: the centre of mass (row, column) of every object, in increasing id order."""
    labels = check_label_ids(labels, "labels", ndim=2)
    ids = np.unique(labels[labels > 0])
    return np.array(ndi.center_of_mass(labels > 0, labels, ids), dtype=float).reshape(-1, 2)


def _class_lookup(labels: np.ndarray, classes) -> np.ndarray:
    if not isinstance(classes, Mapping):
        raise TypeError(f"`classes` must map object ids to class numbers, got {type(classes)}")
    lookup = np.zeros(int(labels.max()) + 1 if labels.size else 1, np.int64)
    for object_id, cls in classes.items():
        if 0 < int(object_id) < lookup.size:
            lookup[int(object_id)] = int(cls)
    missing = np.setdiff1d(np.unique(labels[labels > 0]), [int(k) for k in classes])
    if missing.size:
        raise ValueError(f"`classes` must give a class to every object, missing ids {missing[:5]}")
    return lookup


def semantic_labels(labels, classes: Mapping[int, int]) -> np.ndarray:
    """Semantic segmentation: the class of every pixel (0 = background).

    Parameters
    ----------
    labels : array_like of int
        Instance labels.
    classes : mapping of int to int
        Object id -> class number (1, 2, ...), one for every object in ``labels``.
    """
    labels = check_label_ids(labels, "labels", ndim=2)
    return _class_lookup(labels, classes)[labels]


def panoptic_labels(labels, classes: Mapping[int, int], *, offset: int = 1000) -> np.ndarray:
    """Panoptic segmentation: ``class * offset + instance id`` at every object pixel, 0 elsewhere.

    The encoding of the COCO and Cityscapes panoptic tasks: one integer per pixel holds both the
    class (``value // offset``) and the instance (``value % offset``); the background is "stuff"
    (a class without instances).
    """
    labels = check_label_ids(labels, "labels", ndim=2)
    if labels.size and labels.max() >= offset:
        raise ValueError(f"`offset` must exceed the largest id {labels.max()}, got {offset}")
    semantic = _class_lookup(labels, classes)[labels]
    return np.where(labels > 0, semantic * offset + labels, 0)


TAB10_NAMES = ("blue", "orange", "green", "red", "purple", "brown", "pink", "grey", "olive", "cyan")


def plot_segmentation_tasks(image, labels, classes: Mapping[int, int], *, class_names=None):
    """The lecture's figure on our data: detection, semantic, instance and panoptic.

    Returns the matplotlib figure (five panels: the image and the four outputs).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from skimage.segmentation import find_boundaries

    from .plot import label_colormap, show

    labels = check_label_ids(labels, "labels", ndim=2)
    semantic = semantic_labels(labels, classes)
    n_classes = max(int(semantic.max()), 1)
    names = class_names or {c: f"class {c}" for c in range(1, n_classes + 1)}
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.9))
    show(image, ax=axes[0])
    show(image, ax=axes[1])
    for r0, c0, r1, c1 in bounding_boxes(labels):
        axes[1].add_patch(
            Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, color="yellow", lw=1)
        )
    colours = plt.get_cmap("tab10")
    semantic_rgb = np.zeros(labels.shape + (3,))
    for c in range(1, n_classes + 1):
        semantic_rgb[semantic == c] = colours((c - 1) % 10)[:3]
    axes[2].imshow(semantic_rgb, interpolation="nearest")
    instance_colours = label_colormap(int(labels.max())).colors
    instance_rgb = np.asarray(instance_colours)[labels % len(instance_colours), :3]
    instance_rgb[labels == 0] = 0.0
    axes[3].imshow(instance_rgb, interpolation="nearest")
    panoptic_rgb = semantic_rgb.copy()
    panoptic_rgb[find_boundaries(labels, mode="inner") & (labels > 0)] = 1.0  # instances outlined
    panoptic_rgb[labels == 0] = 0.25  # "stuff": the background is a class without instances
    axes[4].imshow(panoptic_rgb, interpolation="nearest")
    key = ", ".join(f"{names[c]} ({TAB10_NAMES[(c - 1) % 10]})" for c in sorted(names))
    titles = [
        "image",
        f"detection: {len(bounding_boxes(labels))} boxes",
        f"semantic: {key}",
        f"instance: {len(np.unique(labels)) - 1} objects",
        "panoptic: class + instance",
    ]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig
