"""segment_nuclei and its pretrained model: card, safe loading, sizes, tiling, bad input; the
command that makes the model is deterministic."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bioimage_course import segment_nuclei
from bioimage_course.data import make_nuclei
from bioimage_course.metrics import matching_dataset
from bioimage_course.nuclei import (
    TYPICAL_NUCLEUS_UM,
    WEIGHTS,
    estimate_diameter,
    load_pretrained,
    model_card,
)
from bioimage_course.postprocess import median_diameter
from bioimage_course.pretrain import RECIPE, pretrain_nuclei
from bioimage_course.routes import (
    ROUTES,
    instance_scores,
    rescale_image,
    resize_labels,
    segment_with,
    to_training_scale,
    train_route,
)

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "bioimage_course" / "weights"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_shipped_weights_match_their_card():
    card = model_card()
    assert sha256(WEIGHTS_DIR / WEIGHTS) == card["sha256"]
    assert card["recipe"] == json.loads(json.dumps(RECIPE))  # the recipe in the code made them
    model = load_pretrained()
    assert model.n_params == card["n_params"]
    assert model.config["out_channels"] == 3
    assert (WEIGHTS_DIR / WEIGHTS).stat().st_size < 3e6  # small enough to ship
    assert "python -m bioimage_course.pretrain" in card["command"]


def test_card_records_scores_on_real_images():
    evaluation = model_card()["evaluation"]
    assert "never trained or tuned on" in evaluation["data"]
    assert 0 < evaluation["dsb_score"] < evaluation["f1_iou50"] <= 1


class Anything:
    """Any pickled object that is not plain data (it could as well run code when loaded)."""


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save(
        {"state_dict": {}, "config": {}, "training_diameter_px": 20.0, "x": Anything()}, path
    )
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_pretrained(path)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="`path` must be a nuclei model checkpoint"):
        load_pretrained(tmp_path / "other.pt")


@pytest.fixture(scope="module")
def synthetic():
    return [make_nuclei((192, 192), rng=40 + i) for i in range(3)]


def test_segment_nuclei_finds_synthetic_nuclei(synthetic):
    truth = [labels for _, labels in synthetic]
    found = [segment_nuclei(image) for image, _ in synthetic]
    assert all(
        f.shape == t.shape and f.dtype == np.int32 for f, t in zip(found, truth, strict=True)
    )
    assert matching_dataset(truth, found, 0.5).f1 >= 0.85


def test_diameter_and_pixel_size_are_used(synthetic):
    image, labels = synthetic[0]
    true_d = median_diameter(labels)
    given = segment_nuclei(image, diameter_px=true_d)
    assert matching_dataset([labels], [given], 0.5).f1 >= 0.8
    # pixel_size_um means nuclei of TYPICAL_NUCLEUS_UM: the same as that diameter in pixels
    pixel = TYPICAL_NUCLEUS_UM / true_d
    np.testing.assert_array_equal(segment_nuclei(image, pixel_size_um=pixel), given)
    # a badly wrong size hurts: the size matters
    wrong = segment_nuclei(image, diameter_px=true_d * 4)
    assert matching_dataset([labels], [wrong], 0.5).f1 < matching_dataset([labels], [given], 0.5).f1


@pytest.mark.parametrize("zoom", [0.5, 2.5])
def test_rescaled_nuclei_are_still_found(synthetic, zoom):
    """Nuclei made smaller or larger than any training size are found at their estimated size."""
    image, labels = synthetic[1]
    image = rescale_image(image.astype(np.float32), zoom)
    labels = resize_labels(labels, image.shape)
    found = segment_nuclei(image)
    assert matching_dataset([labels], [found], 0.5).f1 >= 0.8


def test_large_images_are_predicted_in_tiles_and_equal_the_pieces():
    image, labels = make_nuclei((256, 256), rng=5)
    big = np.tile(image, (3, 3))  # 768 x 768: several 512-pixel tiles
    found = segment_nuclei(big, diameter_px=median_diameter(labels))
    assert found.shape == big.shape
    truth = np.zeros(big.shape, np.int32)
    for k in range(9):
        r, c = divmod(k, 3)
        truth[r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256] = np.where(
            labels > 0, labels + k * 1000, 0
        )
    assert matching_dataset([truth], [found], 0.5).f1 >= 0.85


def test_estimate_diameter_follows_the_nucleus_size():
    for size_um, pixel in [(8.0, 0.65), (8.0, 0.25), (12.0, 1.0)]:
        image, labels = make_nuclei(
            (256, 256), pixel_size_um=pixel, diameter_um=(size_um, size_um * 1.2), rng=1
        )
        ratio = estimate_diameter(image) / median_diameter(labels)
        assert 0.75 < ratio < 1.33, (size_um, pixel, ratio)
    assert estimate_diameter(np.zeros((32, 32))) > 0  # an empty image: a default, no error


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="`image` must be a 2D array"):
        segment_nuclei(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="`diameter_px` must be"):
        segment_nuclei(np.zeros((32, 32)), diameter_px=0)
    with pytest.raises(ValueError, match="`pixel_size_um` must be"):
        segment_nuclei(np.zeros((32, 32)), pixel_size_um=-1)
    with pytest.raises(ValueError, match="`image` must contain only finite values"):
        segment_nuclei(np.full((32, 32), np.nan))
    with pytest.raises(TypeError, match="`image` must be a numeric array"):
        segment_nuclei(np.array([["a"]]))
    with pytest.raises(ValueError, match="`route` must be one of"):
        segment_with(load_pretrained(), "flows", np.zeros((32, 32)), diameter_px=10)


def test_resize_labels_never_blends_labels():
    labels = make_nuclei((64, 64), preset="crowded", rng=2)[1]
    up = resize_labels(labels, (150, 150))
    assert set(np.unique(up)) == set(np.unique(labels))  # same objects (renumbered in order)
    np.testing.assert_array_equal(resize_labels(up, (64, 64)) > 0, labels > 0)


def test_to_training_scale_makes_nuclei_twenty_pixels():
    image, labels = make_nuclei((256, 256), pixel_size_um=0.3, rng=3)
    scaled, scaled_labels = to_training_scale(image, labels, min_shape=300)
    assert scaled.shape == scaled_labels.shape and min(scaled.shape) >= 300
    assert median_diameter(scaled_labels) == pytest.approx(20, rel=0.1)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_route_trains_and_segments(route):
    pairs = [to_training_scale(*make_nuclei((128, 128), rng=i)) for i in range(2)]
    model, history = train_route(route, pairs, steps=6, patch_size=64, epochs=2, progress=False)
    assert len(history.train_loss) == 2 and np.isfinite(history.train_loss).all()
    image, labels = make_nuclei((96, 96), rng=9)
    found = segment_with(model, route, image, diameter_px=median_diameter(labels))
    assert found.shape == image.shape and found.dtype == np.int32


def test_instance_scores_pool_nuclei_and_average_iou_thresholds():
    truth = np.zeros((20, 20), int)
    truth[2:8, 2:8], truth[12:18, 12:18] = 1, 2
    shifted = np.roll(truth, 1, axis=1)  # IoU 30/42 = 0.71 for both
    scores = instance_scores([truth, truth], [truth, shifted])
    assert scores.f1 == 1.0 and scores.n_true == scores.n_pred == 4
    # at IoU 0.5 .. 0.7 all 4 match (5 thresholds), above only the 2 exact ones: 2 / 6
    assert scores.dsb == pytest.approx((5 * 1.0 + 5 * (2 / 6)) / 10)


def test_pretraining_is_deterministic_on_a_short_schedule(tmp_path):
    a = pretrain_nuclei(tmp_path / "a", steps=6)
    b = pretrain_nuclei(tmp_path / "b", steps=6)
    assert sha256(a) == sha256(b)
    card = json.loads(a.with_suffix(".json").read_text())
    assert card["sha256"] == sha256(a) and card["recipe"]["steps"] == 6
    model = load_pretrained(a)
    for key, value in RECIPE["architecture"].items():
        assert model.config[key] == value
    with pytest.raises(FileExistsError):
        pretrain_nuclei(tmp_path / "a", steps=6)
    c = pretrain_nuclei(tmp_path / "c", steps=6, seed=1)
    assert sha256(c) != sha256(a)


def test_model_card_text_states_the_recorded_scores():
    text = (WEIGHTS_DIR / "MODEL_CARD.md").read_text()
    evaluation = model_card()["evaluation"]
    row = f"| {evaluation['f1_iou50']:.3f} | {evaluation['precision_iou50']:.3f} |"
    assert row in text
    assert f"| {evaluation['dsb_score']:.3f} |" in text
    assert model_card()["command"] in text
