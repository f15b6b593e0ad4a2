import numpy as np
import pytest
import torch

from bioimage_course import classify
from bioimage_course.data import make_scene, render_nuclei


def test_dividing_nuclei_are_the_daughter_pairs():
    scene = make_scene((256, 256), preset="dividing", rng=0)
    dividing = classify.dividing_nuclei(scene)
    # every division gives two daughters, and the scene marks the second of each (kind 2)
    assert dividing.sum() == 2 * np.sum(scene.kind == 2)
    assert np.all(dividing[scene.kind == 2])
    assert not classify.dividing_nuclei(make_scene((128, 128), dividing=0.0, rng=0)).any()


def test_crops_are_centred_on_their_objects_and_stay_inside():
    scene = make_scene((128, 128), rng=2)
    image, labels = render_nuclei(scene, rng=2, relabel=False)
    crops, ids = classify.object_crops(image, labels, 21)
    assert crops.shape == (len(ids), 21, 21) and len(ids) > 0
    for crop, i in zip(crops, ids, strict=True):
        rows, cols = np.nonzero(labels == i)
        r0 = int(round(rows.mean())) - 10
        c0 = int(round(cols.mean())) - 10
        np.testing.assert_array_equal(crop, image[r0 : r0 + 21, c0 : c0 + 21])
    with pytest.raises(ValueError, match="`labels`"):
        classify.object_crops(image, labels[:5], 21)


def test_classifier_learns_a_separable_task():
    rng = np.random.default_rng(0)
    targets = rng.random(64) < 0.5
    crops = rng.normal(0, 0.1, (64, 16, 16)).astype(np.float32)
    crops[targets, 6:10, 6:10] += 1.0  # a bright centre means class 1
    model = classify.CropClassifier(4)
    losses = classify.train_classifier(model, crops, targets.astype(float), epochs=30, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    assert np.mean((classify.predict_crops(model, crops) > 0.5) == targets) > 0.95


def test_classifier_output_sees_the_whole_crop():
    torch.manual_seed(0)
    model = classify.CropClassifier(4)
    x = torch.zeros(1, 1, 24, 24, requires_grad=True)
    model(x).sum().backward()
    assert x.grad[0, 0, 0, 0] != 0 and x.grad[0, 0, -1, -1] != 0
