"""Checks of the exercises of notebook 05 (U-Net training).

Each check tests the learner's answer on inputs it makes itself; see
:mod:`bioimage_course.check` for how checks work.

Examples
--------
>>> from bioimage_course.check import nb05
>>> nb05.block_parameters({"predicted_params": ...})
Exercise 05.1: define `predicted_params` first (it is still `...`).
False
"""

import numpy as np
import torch
from scipy import ndimage as ndi
from torch import nn

from ..augment import RandomWarp, augmented_patch
from ..data import make_nuclei
from ..metrics import matching_dataset
from ..models import UNet
from ..patches import random_patch
from ..predict import instances_from_probability
from ._core import Attempt, Hint, exercise, require_words

# 05.1: parameters of a U-Net block, predicted before PyTorch counts them


def _block_count(base: int) -> int:
    return sum(p.numel() for p in UNet(base_channels=base, depth=1).encoder[0].parameters())


@exercise(
    "05.1",
    needs=("predicted_params",),
    kind="predict then run",
    minutes=4,
    wrong=[
        Attempt({"predicted_params": 9 * 16 + 9 * 16 * 16}, hint_contains="batch normalisation"),
        Attempt({"predicted_params": 9 * 16 + 9 * 16 * 16 + 2 * 16}, hint_contains="bias"),
        Attempt({"predicted_params": 9 * 16 * 16 * 2 + 4 * 16}, hint_contains="one input"),
    ],
)
def block_parameters(predicted_params):
    if not isinstance(predicted_params, (int, np.integer)):
        raise Hint("write your prediction as a whole number, e.g. `predicted_params = 1234`")
    c = 16
    actual = _block_count(c)
    convs = 9 * 1 * c + 9 * c * c
    if predicted_params == actual:
        return "most weights sit where the channels are many: c_in x c_out grows with depth."
    if predicted_params == convs:
        raise Hint("the convolutions are right; each batch normalisation adds a scale and a shift")
    if predicted_params in (convs + 2 * c, convs + 6 * c):
        raise Hint("a convolution followed by batch normalisation has no bias (the shift does it)")
    if predicted_params == 2 * 9 * c * c + 4 * c:
        raise Hint("the first convolution has one input channel (the grey image), not 16")
    raise Hint("count 3 x 3 x c_in x c_out per convolution, plus 2 per channel per normalisation")


# 05.2: the training step


def _step_setup(seed: int):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))
    images = torch.randn(2, 1, 8, 8)
    targets = (torch.rand(2, 1, 8, 8) > 0.5).float()
    return model, images, targets


def _reference_step(model, images, targets, loss_fn, optimizer) -> float:
    optimizer.zero_grad()
    loss = loss_fn(model(images), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def _run_steps(step, n: int):
    model, images, targets = _step_setup(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.0)
    losses = [step(model, images, targets, nn.BCEWithLogitsLoss(), optimizer) for _ in range(n)]
    return model, losses


@exercise(
    "05.2",
    needs=("train_step",),
    kind="write the function",
    minutes=8,
    wrong=[
        Attempt(
            {"train_step": lambda m, x, y, f, o: (f(m(x), y).backward(), o.step(), 0.0)[-1]},
            hint_contains="zero_grad",
        ),
        Attempt(
            {"train_step": lambda m, x, y, f, o: (o.zero_grad(), f(m(x), y).backward(), 0.0)[-1]},
            hint_contains="optimizer.step",
        ),
    ],
)
def training_step(train_step):
    model, losses = _run_steps(train_step, 3)
    reference, expected = _run_steps(_reference_step, 3)
    moved = any(
        not torch.equal(a, b) for a, b in zip(model.parameters(), _step_setup(0)[0].parameters())
    )
    if not moved:
        raise Hint("the weights did not change: call `optimizer.step()` after `loss.backward()`")
    same = all(
        torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(), reference.parameters())
    )
    if not same:
        raise Hint(
            "after three steps the weights differ from gradient descent's: gradients add up "
            "unless you call `optimizer.zero_grad()` before each backward pass"
        )
    got = [float(v) for v in losses]
    if not np.allclose(got, expected, rtol=1e-5):
        raise Hint("return the loss of the batch as a number, `loss.item()`, computed this step")
    return "this is the whole of learning: forward, loss, backward, step, batch after batch."


# 05.3: the crop-then-zoom bug


def _check_patch(patch_fn, image, labels, size, zoom, seed):
    out = patch_fn(image, labels, size, zoom, np.random.default_rng(seed))
    if not isinstance(out, tuple) or len(out) != 2:
        raise Hint("return a pair `(image_patch, label_patch)`")
    img, lab = (np.asarray(a) for a in out)
    if img.shape != (size, size) or lab.shape != (size, size):
        raise Hint("both patches must be `size` x `size`: crop the centre after warping")
    return img, lab


@exercise(
    "05.3",
    needs=("zoomed_patch_fixed",),
    kind="find the bug",
    minutes=8,
    wrong=[
        Attempt(
            {
                "zoomed_patch_fixed": lambda im, lab, size, zoom, rng: RandomWarp(
                    zoom=(zoom, zoom)
                )(*(a[random_patch(im.shape, size, rng=rng)] for a in (im, lab)), rng=rng)
            },
            hint_contains="outside the patch",
        ),
        Attempt(
            {
                "zoomed_patch_fixed": lambda im, lab, size, zoom, rng: tuple(
                    a[random_patch(im.shape, size, rng=0)] for a in (im, lab)
                )
            },
            hint_contains="zoom out",
        ),
    ],
)
def crop_then_zoom(zoomed_patch_fixed):
    size, zoom = 32, 0.7
    rows = np.repeat(np.arange(128, dtype=np.float32)[:, None], 128, axis=1)
    covered = np.full((128, 128), 3, dtype=np.int32)
    for seed in range(4):
        _, lab = _check_patch(zoomed_patch_fixed, rows, covered, size, zoom, seed)
        if (lab == 0).any():
            raise Hint(
                "in an image that is nucleus everywhere your patch has background labels: the "
                "zoom-out read pixels from outside the patch; cut a margin first, then crop"
            )
        if not np.isin(lab, [3]).all():
            raise Hint("label ids must only be copied (nearest neighbour), never invented")
    img, _ = _check_patch(zoomed_patch_fixed, rows, covered, size, zoom, 0)
    span = float(img.max() - img.min())
    if span < 1.2 * (size - 1):
        raise Hint("a zoom out shows more of the image than a plain crop of the same size")
    reference = augmented_patch(
        rows, covered, size, transform=RandomWarp(zoom=(zoom, zoom)), rng=0
    )[0]
    if abs(span - float(reference.max() - reference.min())) > 3:
        raise Hint("zoom by exactly `zoom`, once: one RandomWarp on the larger region")
    return "margin, transform, crop: the rule PairDataset follows for every training patch."


# 05.4: choosing the threshold on validation data


def _validation_maps(seed: int):
    """Check-owned truth and under-confident probability maps (best threshold below 0.5)."""
    truths, maps = [], []
    for i in range(3):
        _, labels = make_nuclei((96, 96), rng=seed + i)
        noise = np.random.default_rng(seed + i).normal(0, 0.05, labels.shape)
        inside = (labels > 0).astype(np.float32)
        smooth = ndi.gaussian_filter(inside, 1.0)
        maps.append(np.clip(0.55 * smooth + noise, 0, 1).astype(np.float32))
        truths.append(labels)
    return truths, maps


def _best(truths, maps, thresholds):
    scores = [
        matching_dataset(
            truths, [instances_from_probability(p, threshold=t, min_size=4) for p in maps], 0.5
        ).f1
        for t in thresholds
    ]
    return thresholds[int(np.argmax(scores))], scores


WORDS = ("test", "leak", "optimistic", "biased", "unseen", "held-out", "held out")


@exercise(
    "05.4",
    needs=("choose_threshold", "explanation"),
    kind="tune and explain",
    minutes=10,
    wrong=[
        Attempt(
            {
                "choose_threshold": lambda p, t, ts: 0.5,
                "explanation": "validation images are used so the test score stays an honest "
                "estimate on images never seen while choosing anything",
            },
            hint_contains="0.5",
        ),
        Attempt(
            {
                "choose_threshold": lambda p, t, ts: _best(t, p, ts)[0],
                "explanation": "the best threshold",
            },
            hint_contains="words",
        ),
    ],
)
def threshold_on_validation(choose_threshold, explanation):
    thresholds = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6]
    truths, maps = _validation_maps(40)
    want, scores = _best(truths, maps, thresholds)
    got = choose_threshold(maps, truths, thresholds)
    if got not in thresholds:
        raise Hint("return one of the `thresholds` you were given")
    if np.isclose(got, 0.5) and not np.isclose(want, 0.5):
        raise Hint("0.5 is the default, not a choice: score every threshold and keep the best")
    if scores[thresholds.index(got)] < max(scores) - 1e-9:
        raise Hint("that threshold does not give the highest F1 on the images you were given")
    require_words(explanation)
    if not any(w in explanation.lower() for w in WORDS):
        raise Hint(
            "say why the choice is made on validation images and not on the test images "
            "(what would the test score then no longer be?)"
        )
    print(
        "  Compare: a threshold chosen on the test images is fitted to them, so the test score "
        "is no longer an estimate for unseen images; validation images are for choices."
    )
    return "every choice (threshold, epoch, loss) is made on validation data, never on test."
