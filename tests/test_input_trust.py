"""Inputs that used to be silently coerced, errors that used to be raw, and runs that could not
be repeated or resumed: each case now gives a clear error naming the argument, or works."""

import numpy as np
import pytest
import torch

from bioimage_course.augment import RandomFlip, augmented_patch
from bioimage_course.data import PairDataset, make_nuclei, split_indices
from bioimage_course.filters import gaussian_kernel
from bioimage_course.losses import bce_loss, focal_loss, soft_dice_loss
from bioimage_course.metrics import f1, jaccard, precision, recall
from bioimage_course.models import UNet, conv_block
from bioimage_course.training import fit, load_checkpoint, load_model


def test_patch_size_must_be_whole_pixels():
    image = np.zeros((64, 64), np.float32)
    with pytest.raises(TypeError, match="`patch_size` must be an int, got 8.7"):
        augmented_patch(image, np.zeros((64, 64), np.int32), 8.7, transform=RandomFlip(), rng=0)
    with pytest.raises(ValueError, match="`patch_size` must be an int >= 1, got 0"):
        augmented_patch(image, np.zeros((64, 64), np.int32), 0, transform=RandomFlip(), rng=0)
    with pytest.raises(TypeError, match="`patch_size` must be an int"):
        PairDataset([image], [np.zeros((64, 64), np.int32)], patch_size=8.7)


def test_unknown_normalisation_is_an_error():
    with pytest.raises(
        ValueError, match="`norm` must be one of 'batch', 'group', 'none', got 'bad'"
    ):
        conv_block(1, 8, norm="bad")


@pytest.mark.parametrize("fractions", [(0.5, float("nan")), (0.5, float("inf")), (np.nan,)])
def test_split_fractions_must_be_finite(fractions):
    with pytest.raises(ValueError, match="`fractions` must be finite numbers >= 0"):
        split_indices(10, fractions)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_pair_dataset_refuses_non_finite_images(bad):
    image = np.zeros((16, 16), np.float32)
    image[3, 4] = bad
    with pytest.raises(ValueError, match="`image 0` must .*finite|`image 0`.*(NaN|inf)"):
        PairDataset([image], [np.zeros((16, 16), np.int32)])


@pytest.mark.parametrize("score", [precision, recall, f1, jaccard])
@pytest.mark.parametrize(
    "counts, name, error",
    [
        ((5, -3, 0), "fp", ValueError),
        ((5, 0, float("nan")), "fn", ValueError),
        ((-1, 0, 0), "tp", ValueError),
        ((5, 0, float("inf")), "fn", ValueError),
        (("5", 0, 0), "tp", TypeError),
        ((True, 0, 0), "tp", TypeError),
    ],
)
def test_counts_must_be_numbers_at_least_zero(score, counts, name, error):
    with pytest.raises(error, match=f"`{name}` must be a count"):
        score(*counts)
    assert precision(8, 2, 5) == 0.8 and precision(8.0, 2.0, 5.0) == 0.8  # float counts are fine


@pytest.mark.parametrize("loss", [bce_loss, soft_dice_loss, focal_loss])
def test_losses_name_an_array_that_is_not_a_tensor(loss):
    logits, target = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    with pytest.raises(TypeError, match="`logits` must be a torch.Tensor, got ndarray"):
        loss(logits.numpy(), target)
    with pytest.raises(TypeError, match="`target` must be a torch.Tensor, got ndarray"):
        loss(logits, target.numpy())


@pytest.mark.parametrize("rng, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_seeds_are_checked_with_the_house_message(rng, error):
    with pytest.raises(error, match="`rng` must be None, an int seed >= 0 or a numpy Generator"):
        make_nuclei((32, 32), rng=rng)


def _tiny_run(tmp_path, **options):
    images, labels = zip(*(make_nuclei((32, 32), rng=i) for i in range(4)), strict=True)
    train = PairDataset(images[:3], labels[:3], seed=options.pop("data_seed", 0))
    val = PairDataset(images[3:], labels[3:])
    model = UNet(depth=1, base_channels=2)
    torch.manual_seed(0)
    model = UNet(depth=1, base_channels=2)
    return fit(model, train, val, batch_size=2, progress=False, plot=False, **options), model


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_fit_checks_its_seed(tmp_path, seed, error):
    with pytest.raises(error, match="`seed` must be an int"):
        _tiny_run(tmp_path, epochs=1, seed=seed)


def test_fit_seed_covers_a_dataset_without_a_seed(tmp_path):
    """`fit(seed=0)` repeats exactly even when the training data draw fresh random patches."""

    def run():
        images, labels = zip(*(make_nuclei((48, 48), rng=i) for i in range(4)), strict=True)
        train = PairDataset(
            images[:3], labels[:3], patch_size=32, transform=RandomFlip(), seed=None
        )
        val = PairDataset(images[3:], labels[3:])
        torch.manual_seed(0)
        model = UNet(depth=1, base_channels=2)
        history = fit(model, train, val, epochs=2, batch_size=2, seed=0, progress=False, plot=False)
        return history.train_loss

    assert run() == run()


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_resume_past_the_planned_schedule_is_refused(tmp_path, schedule):
    _tiny_run(tmp_path, epochs=2, schedule=schedule, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="`resume` checkpoint .* planned for .* steps"):
        _tiny_run(tmp_path, epochs=4, schedule=schedule, resume=tmp_path / "last.pt")
    # the same plan continues (here: nothing left to do after epoch 2 of 2)
    history, _ = _tiny_run(tmp_path, epochs=2, schedule=schedule, resume=tmp_path / "last.pt")
    assert history.epoch == [1, 2]


def test_resume_without_a_decaying_schedule_may_extend_the_run(tmp_path):
    _tiny_run(tmp_path, epochs=1, checkpoint_dir=tmp_path)
    history, _ = _tiny_run(tmp_path, epochs=2, resume=tmp_path / "last.pt")
    assert history.epoch == [1, 2]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "not_a_checkpoint"])
def test_damaged_checkpoints_give_a_clear_error(tmp_path, damage):
    _tiny_run(tmp_path, epochs=1, checkpoint_dir=tmp_path)
    path = tmp_path / "best.pt"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(bytes(range(256)) * 8)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        torch.save({"weights": torch.zeros(2)}, path)
    expected = (
        "is not a checkpoint of this course" if damage == "not_a_checkpoint" else "cannot be read"
    )
    with pytest.raises(ValueError, match=expected):
        load_model(path)
    with pytest.raises(ValueError, match=str(path.name)):
        load_checkpoint(path)


def test_sizes_that_cannot_be_drawn_or_allocated_are_refused():
    with pytest.raises(ValueError, match="`pixel_size_um` must be at most the smallest nucleus"):
        make_nuclei((256, 256), pixel_size_um=50, rng=0)
    with pytest.raises(ValueError, match="`shape` .* holds about .* nuclei"):
        make_nuclei((4096, 4096), pixel_size_um=2.0, rng=0)
    with pytest.raises(ValueError, match="`sigma` must give a kernel of at most .* GiB"):
        gaussian_kernel(1e4)
    assert gaussian_kernel(100.0).shape == (801, 801)  # wide but reasonable still works
