"""Fine-tuning and training from scratch, the shipped models of notebook 09 and their cards."""

import hashlib
import json

import numpy as np
import pytest
import torch

from bioimage_course.data import make_nuclei
from bioimage_course.domain_shift import plot_f1_vs_diameter, segment_fixed_range
from bioimage_course.models import UNet
from bioimage_course.nuclei import load_pretrained
from bioimage_course.pretrain import write_card
from bioimage_course.routes import to_training_scale
from bioimage_course.transfer import (
    RECIPES,
    card,
    learning_curve,
    save_nuclei_model,
    shipped_weights,
    train_nuclei,
)


@pytest.fixture(scope="module")
def pairs():
    return [to_training_scale(*make_nuclei((96, 96), rng=i), min_shape=32) for i in range(2)]


def test_fine_tuning_copies_the_model_and_scratch_is_seeded(pairs):
    start = UNet(out_channels=3, depth=2, base_channels=4)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    tuned = train_nuclei(pairs, model=start, steps=2, patch_size=32, batch_size=2)
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())
    assert tuned.model.config == start.config and tuned.cpu_seconds > 0
    arch = {"depth": 2, "base_channels": 4}
    a = train_nuclei(pairs, steps=2, patch_size=32, batch_size=2, architecture=arch, seed=1)
    b = train_nuclei(pairs, steps=2, patch_size=32, batch_size=2, architecture=arch, seed=1)
    assert a.history.train_loss == b.history.train_loss
    with pytest.raises(TypeError, match="`model` must be a 3-class UNet"):
        train_nuclei(pairs, model=UNet(out_channels=1, depth=1))
    with pytest.raises(ValueError, match="`pairs` must be a non-empty list"):
        train_nuclei([])


def test_learning_curve_compares_both_starts(pairs):
    start = UNet(out_channels=3, depth=2, base_channels=4)
    test = [make_nuclei((64, 64), rng=9)]
    rows = learning_curve(pairs, test, pretrained=start, n_images=(1, 2), diameters=[12.0],
                          steps=1, patch_size=32, batch_size=2, progress=False)  # fmt: skip
    assert [(r["n_images"], r["start"]) for r in rows] == [
        (1, "pretrained"), (1, "scratch"), (2, "pretrained"), (2, "scratch")
    ]  # fmt: skip
    assert all(0 <= r["f1"] <= 1 and r["cpu_seconds"] > 0 for r in rows)
    with pytest.raises(ValueError, match="`n_images` must be between 1 and"):
        learning_curve(pairs, test, pretrained=start, n_images=(3,))


def test_saved_model_loads_back_and_its_bytes_are_reproducible(tmp_path):
    model = load_pretrained(shipped_weights("synthetic"))
    path = save_nuclei_model(model, tmp_path / "m.pt")
    again = save_nuclei_model(model, tmp_path / "other_name.pt")
    assert path.read_bytes() == again.read_bytes()
    loaded = load_pretrained(path)
    assert loaded.config == model.config and loaded.training_diameter_px == 20.0
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_nuclei_model(model, path)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_shipped_weights_match_their_cards(name):
    path = shipped_weights(name)
    recorded = card(name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded["sha256"]
    assert recorded["recipe"]["steps"] == RECIPES[name]["steps"]
    assert (
        load_pretrained(path).config["base_channels"]
        == RECIPES[name]["architecture"]["base_channels"]
    )
    with pytest.raises(ValueError, match="`name`"):
        shipped_weights("nonexistent")


def test_the_fine_tuned_model_card_records_the_benchmark():
    ev = card("finetuned")["evaluation"]
    assert ev["f1_iou50"] >= 0.85 and "81 images" in ev["data"]


def test_fixed_range_ignores_percentiles_and_depends_on_the_dtype():
    model = load_pretrained(shipped_weights("synthetic"))
    image, _ = make_nuclei((64, 64), rng=4)
    image8 = (image / image.max() * 255).astype(np.uint8)
    labels = segment_fixed_range(model, image8)
    assert labels.shape == image8.shape and labels.max() > 0
    as_float = segment_fixed_range(model, image8.astype(np.float32) / 255)
    assert np.array_equal(labels, as_float)  # a float image is taken as it is
    import matplotlib

    matplotlib.use("Agg")
    plot_f1_vs_diameter([10, 20], {"a": [0.5, 0.8]})
    with pytest.raises(ValueError, match="one value per diameter"):
        plot_f1_vs_diameter([10, 20], {"a": [0.5]})


def test_a_card_keeps_its_evaluation_only_for_the_same_weights(tmp_path):
    weights = tmp_path / "model.pt"
    card_path = write_card(weights, {"sha256": "a", "evaluation": {"f1": 0.9}})
    assert json.loads(card_path.read_text())["evaluation"] == {"f1": 0.9}
    write_card(weights, {"sha256": "a"})  # retrained to the same bytes: the evaluation stays
    assert json.loads(card_path.read_text())["evaluation"] == {"f1": 0.9}
    write_card(weights, {"sha256": "b"})  # other weights: the old evaluation no longer applies
    assert "evaluation" not in json.loads(card_path.read_text())
