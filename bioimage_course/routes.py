"""Three routes from a U-Net to instances, trained and applied the same way (notebook 08).

Introduced in notebook 08 (instance segmentation). Each :class:`Route` is one answer to "how
does a network tell touching nuclei apart?", defined by what it is trained to predict (the
*target*, made from the labels by an encoder of :mod:`bioimage_course.postprocess`), the loss,
and the *decoder* that turns its output into labels:

=================  ===============================  ==========================================
route              target (channels)                decoder
=================  ===============================  ==========================================
``"mask"``         separated mask (1), notebook 05  threshold + connected components
``"three_class"``  background/interior/boundary (3) interior seeds + watershed
``"distance"``     foreground + distance map (2)    distance maxima as seeds + watershed
=================  ===============================  ==========================================

:func:`train_route` trains a U-Net for a route on (image, labels) pairs that are already
normalised and at the training scale (:func:`to_training_scale`); :func:`segment_with` takes a
raw image, normalises it, rescales it so its nuclei are the training size, predicts tile by
tile, decodes and returns labels on the image's own pixel grid.

Examples
--------
>>> sorted(ROUTES)
['distance', 'mask', 'three_class']
>>> ROUTES["three_class"].out_channels
3
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from skimage import transform

from . import augment
from ._validate import (
    check_array,
    check_choice,
    check_in_range,
    check_intensity_image,
    check_label_ids,
    check_sizes,
)
from .losses import bce_dice_loss, separated_mask
from .models import UNet
from .normalize import normalize_percentile
from .postprocess import (
    distance_target,
    instances_from_distance,
    instances_from_three_class,
    median_diameter,
    remove_small,
    three_class_target,
)

__all__ = [
    "TRAINING_DIAMETER_PX",
    "GAP_PX",
    "Route",
    "ROUTES",
    "one_hot_three_class",
    "three_class_loss",
    "distance_loss",
    "median_diameter",
    "rescale_image",
    "resize_labels",
    "to_training_scale",
    "mixed_training_pairs",
    "default_augmentation",
    "train_route",
    "predict_route",
    "segment_with",
    "DSB_THRESHOLDS",
    "InstanceScores",
    "instance_scores",
]

TRAINING_DIAMETER_PX = 20.0  # nuclei are rescaled to this diameter for the networks
GAP_PX = 2  # background drawn between touching nuclei in the "mask" route (notebook 05)
BOUNDARY_WEIGHT = 2.0  # the thin boundary class counts twice in the 3-class loss


# ---------------------------------------------------------------------------------------------
# Sizes and scales
# ---------------------------------------------------------------------------------------------
def rescale_image(image: Any, factor: float) -> np.ndarray:
    """Resize a 2D image by ``factor`` (linear interpolation, smoothing first when shrinking).

    >>> rescale_image(np.ones((10, 20)), 1.5).shape
    (15, 30)
    """
    image = check_intensity_image(image, "image")
    factor = check_in_range(factor, "factor", 0, low_inclusive=False)
    if factor == 1:
        return image.astype(np.float32)
    out = transform.rescale(
        image.astype(np.float32), factor, order=1, anti_aliasing=factor < 1, preserve_range=True
    )
    return out.astype(np.float32)


def resize_labels(labels: Any, shape: tuple[int, int]) -> np.ndarray:
    """Resize a label image to ``shape`` by nearest-neighbour lookup (labels are never blended).

    Each output pixel takes the label of the input pixel its centre falls in; objects that
    lose all their pixels when shrinking disappear, and the rest are numbered 1..N.

    >>> resize_labels(np.array([[1, 2], [3, 0]]), (4, 4))
    array([[1, 1, 2, 2],
           [1, 1, 2, 2],
           [3, 3, 0, 0],
           [3, 3, 0, 0]], dtype=int32)
    """
    labels = check_label_ids(labels, "labels", ndim=2)
    shape = check_sizes(shape, "shape", 2)
    rows = ((np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0]).astype(int)
    cols = ((np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1]).astype(int)
    return remove_small(labels[np.ix_(rows, cols)], 1)


def to_training_scale(
    image: Any, labels: Any, *, diameter_px: float | None = None, min_shape: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise ``image`` and rescale it with its labels so the median nucleus is 20 px across.

    Parameters
    ----------
    image, labels : array_like
        A 2D image and its instance labels.
    diameter_px : float, optional
        The nuclei's diameter; default: the median of ``labels`` (:func:`median_diameter`).
    min_shape : int
        Pad the result with background up to this height and width (for patches).
    """
    diameter = median_diameter(labels) if diameter_px is None else diameter_px
    scaled = rescale_image(normalize_percentile(image, 1, 99.8), TRAINING_DIAMETER_PX / diameter)
    scaled_labels = resize_labels(labels, scaled.shape)
    pad = [(0, max(0, min_shape - n)) for n in scaled.shape]
    return np.pad(scaled, pad), np.pad(scaled_labels, pad)


def mixed_training_pairs(
    real_pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    n_synthetic: int,
    synthetic_shape: tuple[int, int] = (256, 256),
    real_repeats: int = 1,
    min_shape: int = 0,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Real and synthetic training pairs, normalised and at the training scale.

    ``real_pairs`` (each repeated ``real_repeats`` times, so real images weigh more), then
    ``n_synthetic`` synthetic images, each from its own random microscope and sample
    (:func:`bioimage_course.data.random_nuclei_params`). Every image is rescaled by its own
    true median nucleus diameter (:func:`to_training_scale`).
    """
    from .data import make_nuclei, random_nuclei_params

    real = [to_training_scale(i, lab, min_shape=min_shape) for i, lab in real_pairs]
    pairs = real * int(real_repeats)
    rng = np.random.default_rng(seed)
    for _ in range(n_synthetic):
        params = random_nuclei_params(rng)
        image, labels = make_nuclei(tuple(synthetic_shape), rng=rng, **vars(params))
        pairs.append(to_training_scale(image, labels, min_shape=min_shape))
    return pairs


# ---------------------------------------------------------------------------------------------
# Targets, losses and decoders of the three routes
# ---------------------------------------------------------------------------------------------
def one_hot_three_class(labels: Any) -> np.ndarray:
    """The 3-class target as one-hot channels (3, H, W): background, interior, boundary."""
    classes = three_class_target(labels)
    return np.stack([classes == c for c in range(3)]).astype(np.float32)


def three_class_loss(logits: torch.Tensor, target: torch.Tensor, weight=None) -> torch.Tensor:
    """Cross-entropy of 3-class logits (N, 3, H, W) against one-hot classes (N, 3, H, W).

    The boundary class is thin and decides whether touching nuclei are split, so its pixels
    count :data:`BOUNDARY_WEIGHT` times.
    """
    weights = torch.tensor([1.0, 1.0, BOUNDARY_WEIGHT], device=logits.device)
    return F.cross_entropy(logits, target.argmax(dim=1), weight=weights)


def _mask_and_distance(labels: Any) -> np.ndarray:
    return np.stack([np.asarray(labels) > 0, distance_target(labels)]).astype(np.float32)


def distance_loss(logits: torch.Tensor, target: torch.Tensor, weight=None) -> torch.Tensor:
    """Foreground BCE (channel 0) + mean squared error of the sigmoid distance (channel 1).

    The distance is a *regression* target (numbers in [0, 1], not classes), so its loss is the
    squared L2 distance between the predicted and the true map; it is weighted 5x so that
    both parts have a similar size.
    """
    foreground = F.binary_cross_entropy_with_logits(logits[:, :1], target[:, :1])
    distance = F.mse_loss(torch.sigmoid(logits[:, 1:]), target[:, 1:])
    return foreground + 5.0 * distance


def _decode_mask(outputs: np.ndarray, area: float) -> np.ndarray:
    from .predict import instances_from_probability

    grow = max(1, int(round(GAP_PX * np.sqrt(area))))
    return instances_from_probability(
        outputs[0], threshold=0.5, min_size=int(8 * area), grow_px=grow
    )


def _decode_three_class(outputs: np.ndarray, area: float) -> np.ndarray:
    # interior_threshold 0.6 was chosen on the validation split of the real images
    return instances_from_three_class(
        outputs,
        interior_threshold=0.6,
        min_seed_size=max(1, int(3 * area)),
        min_size=int(20 * area),
    )


def _decode_distance(outputs: np.ndarray, area: float) -> np.ndarray:
    smooth = float(np.sqrt(area))  # 1 pixel at the training scale
    return instances_from_distance(
        outputs[1], outputs[0], h=0.1, smooth_px=smooth, min_size=int(20 * area)
    )


@dataclass(frozen=True)
class Route:
    """One way from a U-Net to instances: target encoder, loss, output activation, decoder.

    Attributes
    ----------
    name : str
    out_channels : int
        Output channels of the network.
    target : callable
        ``target(labels) -> array`` (C, H, W), the training target.
    loss : callable
        ``loss(logits, target) -> tensor``.
    activation : {"sigmoid", "softmax"}
        How logits become the decoder's input.
    decode : callable
        ``decode(outputs, area) -> labels``; ``area`` scales the minimal sizes (pixels) when
        decoding on a finer grid than the training scale.
    """

    name: str
    out_channels: int
    target: Callable[[Any], np.ndarray]
    loss: Callable[..., torch.Tensor]
    activation: str
    decode: Callable[[np.ndarray, float], np.ndarray]


ROUTES: dict[str, Route] = {
    "mask": Route(
        "mask",
        1,
        lambda labels: separated_mask(labels, width_px=GAP_PX)[None],
        bce_dice_loss,
        "sigmoid",
        _decode_mask,
    ),
    "three_class": Route(
        "three_class", 3, one_hot_three_class, three_class_loss, "softmax", _decode_three_class
    ),
    "distance": Route(
        "distance", 2, _mask_and_distance, distance_loss, "sigmoid", _decode_distance
    ),
}


def _route(route: str | Route) -> Route:
    if isinstance(route, Route):
        return route
    check_choice(route, "route", ROUTES)
    return ROUTES[route]


# ---------------------------------------------------------------------------------------------
# Training and prediction
# ---------------------------------------------------------------------------------------------
def default_augmentation(*, zoom: tuple[float, float] = (0.7, 1.4)) -> augment.Compose:
    """Flips, turns, rotation and zoom; contrast, brightness, gamma; blur and noise."""
    return augment.Compose(
        [
            augment.RandomFlip(),
            augment.RandomRot90(),
            augment.RandomWarp(rotation_deg=45, zoom=zoom),
            augment.BrightnessContrast(brightness=(-0.1, 0.1), contrast=(0.5, 1.5)),
            augment.RandomGamma(gamma=(0.6, 1.6)),
            augment.GaussianBlur(sigma_px=(0.1, 1.5), p=0.3),
            augment.GaussianNoise(std=(0.0, 0.08), p=0.5),
        ]
    )


def train_route(
    route: str | Route,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    steps: int = 300,
    patch_size: int = 96,
    batch_size: int = 8,
    depth: int = 3,
    base_channels: int = 8,
    lr: float = 3e-3,
    epochs: int = 4,
    seed: int = 0,
    device: Any = None,
    progress: bool = True,
    plot: bool = False,
    checkpoint_dir: Any = None,
) -> tuple[UNet, Any]:
    """Train a U-Net for ``route`` on normalised pairs at the training scale.

    ``steps`` optimiser steps of ``batch_size`` augmented patches (80 % centred on a nucleus)
    in ``epochs`` epochs, Adam with a one-cycle schedule, no validation (the last weights are
    kept). Returns ``(model, history)``.
    """
    from .data import PairDataset
    from .training import fit

    route = _route(route)
    check_in_range(steps, "steps", 1)
    epochs = max(1, min(int(epochs), int(steps)))
    per_image = max(1, round(steps * batch_size / (epochs * len(pairs))))
    data = PairDataset(
        [image for image, _ in pairs],
        [labels for _, labels in pairs],
        patch_size=patch_size,
        foreground_prob=0.8,
        patches_per_image=per_image,
        transform=default_augmentation(),
        target=route.target,
        seed=seed,
    )
    torch.manual_seed(seed)
    model = UNet(out_channels=route.out_channels, depth=depth, base_channels=base_channels)
    history = fit(
        model,
        data,
        None,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer="adam",
        loss=route.loss,
        schedule="onecycle",
        restore_best=False,
        seed=seed,
        device=device,
        progress=progress,
        plot=plot,
        checkpoint_dir=checkpoint_dir,
    )
    model.route = route.name
    return model.eval(), history


def predict_route(model: torch.nn.Module, route: str | Route, image: Any, *, device=None):
    """The activated outputs (C, H, W) of ``model`` on a normalised image, tile by tile."""
    from .predict import predict_tiled

    route = _route(route)
    image = check_array(image, "image", ndim=2, finite=True)
    multiple = 2 ** int(getattr(model, "depth", 3))
    tile = int(min(512, -(-max(image.shape) // multiple) * multiple))
    logits = predict_tiled(model, image, tile=tile, batch_size=2, output="logits", device=device)
    logits = torch.from_numpy(logits.reshape(route.out_channels, *image.shape))
    if route.activation == "softmax":
        return torch.softmax(logits, dim=0).numpy()
    return torch.sigmoid(logits).numpy()


def segment_with(
    model: torch.nn.Module,
    route: str | Route,
    image: Any,
    *,
    diameter_px: float,
    training_diameter_px: float = TRAINING_DIAMETER_PX,
    device: Any = None,
) -> np.ndarray:
    """Labels of a raw image by ``model`` of ``route``, at the model's training scale.

    The image is percentile-normalised and rescaled by ``training_diameter_px / diameter_px``;
    the outputs are decoded on the finer of the two grids (the model's when the image was
    enlarged, so thin gaps between small nuclei survive; the image's when it was shrunk, so
    the edges of large nuclei stay smooth), and the labels come back on the image's grid.
    """
    route = _route(route)
    image = check_array(image, "image", ndim=2, finite=True)
    diameter_px = check_in_range(diameter_px, "diameter_px", 0, low_inclusive=False)
    factor = training_diameter_px / diameter_px
    scaled = rescale_image(normalize_percentile(image, 1, 99.8), factor)
    outputs = predict_route(model, route, scaled, device=device)
    if factor >= 1:
        return resize_labels(route.decode(outputs, 1.0), image.shape)
    back = np.stack(
        [transform.resize(o, image.shape, order=1, anti_aliasing=False) for o in outputs]
    )
    return route.decode(np.clip(back, 0, 1), 1 / factor**2)


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------
DSB_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2).tolist())


class InstanceScores(NamedTuple):
    """Pooled instance scores of a set of images (every nucleus weighs the same)."""

    f1: float  # F1 at IoU 0.5
    precision: float  # at IoU 0.5
    recall: float  # at IoU 0.5
    dsb: float  # mean over IoU 0.5, 0.55, ..., 0.95 of TP / (TP + FP + FN)
    n_true: int
    n_pred: int


def instance_scores(ys_true: Any, ys_pred: Any) -> InstanceScores:
    """F1 at IoU 0.5 and the Data Science Bowl score, pooled over images.

    The DSB 2018 score averages, over the IoU thresholds 0.5 to 0.95 in steps of 0.05, the
    fraction ``TP / (TP + FP + FN)`` (:func:`bioimage_course.metrics.matching_dataset`'s
    ``accuracy``): a prediction counts only if it overlaps its nucleus well, and ever more
    precisely. Here TP, FP and FN are added over all images first (the challenge averaged per
    image).

    >>> truth = np.zeros((8, 8), int); truth[1:4, 1:4] = 1; truth[5:8, 5:8] = 2
    >>> instance_scores([truth], [truth])
    InstanceScores(f1=1.0, precision=1.0, recall=1.0, dsb=1.0, n_true=2, n_pred=2)
    """
    from .metrics import matching_dataset

    results = matching_dataset(list(ys_true), list(ys_pred), DSB_THRESHOLDS)
    at_half = results[0]
    return InstanceScores(
        f1=float(at_half.f1),
        precision=float(at_half.precision),
        recall=float(at_half.recall),
        dsb=float(np.mean([r.accuracy for r in results])),
        n_true=int(at_half.n_true),
        n_pred=int(at_half.n_pred),
    )
