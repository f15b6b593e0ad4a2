import numpy as np
import pytest
from skimage.measure import regionprops

from bioimage_course import tasks
from bioimage_course.data import make_nuclei

_, LABELS = make_nuclei((96, 96), rng=3)


def test_boxes_and_centroids_equal_regionprops():
    props = regionprops(LABELS)
    assert tasks.bounding_boxes(LABELS).tolist() == [list(p.bbox) for p in props]
    np.testing.assert_allclose(tasks.centroids(LABELS), [p.centroid for p in props])


def test_a_label_image_is_a_partition_and_overlapping_masks_are_not():
    stack = tasks.regions(LABELS)
    assert stack.shape[0] == len(np.unique(LABELS)) and tasks.is_partition(stack)
    overlapping = stack.copy()
    overlapping[1] |= stack[2]  # object 1 now also claims object 2's pixels
    assert not tasks.is_partition(overlapping)
    assert not tasks.is_partition(stack[1:])  # without the background, pixels are uncovered


def test_semantic_and_panoptic_encode_class_and_instance():
    ids = np.unique(LABELS[LABELS > 0])
    classes = {int(i): 1 + int(i) % 2 for i in ids}
    semantic = tasks.semantic_labels(LABELS, classes)
    panoptic = tasks.panoptic_labels(LABELS, classes)
    for i in ids:
        assert np.all(semantic[LABELS == i] == classes[int(i)])
    assert np.array_equal(panoptic // 1000, semantic)
    assert np.array_equal(panoptic % 1000, LABELS)


def test_bad_class_maps_are_named():
    with pytest.raises(ValueError, match="`classes`"):
        tasks.semantic_labels(LABELS, {1: 1})
    with pytest.raises(TypeError, match="`classes`"):
        tasks.semantic_labels(LABELS, [1, 2])
    with pytest.raises(ValueError, match="`offset`"):
        tasks.panoptic_labels(LABELS, {int(i): 1 for i in np.unique(LABELS)}, offset=2)


def test_plot_segmentation_tasks_draws_five_panels():
    import matplotlib

    matplotlib.use("Agg")
    image, labels = make_nuclei((48, 48), rng=1)
    classes = {int(i): 1 for i in np.unique(labels[labels > 0])}
    fig = tasks.plot_segmentation_tasks(image, labels, classes)
    assert len(fig.axes) == 5
