"""Validation: the loss and a metric of a model on data it does not train on.

Introduced in notebook 05 (U-Net training). The model is evaluated in eval mode, without
gradients (:func:`bioimage_course.device.evaluating`); the metric is the pixel F1 score or IoU
of the thresholded probabilities, counted over the whole validation set
(:func:`bioimage_course.metrics.pixel_scores`), or any ``metric(y_true, probability)``.

Examples
--------
>>> import numpy as np
>>> from torch import nn
>>> model = nn.Conv2d(1, 1, 1)
>>> pairs = [(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))]
>>> sorted(evaluate(model, pairs, device="cpu"))
['loss', 'metric']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .._validate import check_choice
from ..device import autocast, evaluating, get_device, prefers_channels_last, to_device
from ..losses import get_loss
from ..metrics import f1, jaccard, pixel_scores
from .batches import as_dataset, check_batch, compute_loss

METRICS = ("f1", "iou")


class PixelCounts:
    """Pixel tp/fp/fn summed over validation batches (from metrics.pixel_scores).

    >>> counts = PixelCounts()
    >>> counts.add(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    >>> counts.value("f1")
    0.5
    """

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        scores = pixel_scores(y_true, y_pred)
        self.tp += scores.tp
        self.fp += scores.fp
        self.fn += scores.fn

    def value(self, metric: str) -> float:
        # Both are 1 when there is nothing to find and nothing was found.
        score = f1 if metric == "f1" else jaccard
        return score(self.tp, self.fp, self.fn)


def validate(model, loader, loss_fn, *, binary, metric, threshold, device, channels_last):
    """Loss and metric over ``loader`` in eval mode (the validation step of ``fit``)."""
    counts = PixelCounts()
    truths, probs = [], []
    total, n = 0.0, 0
    with evaluating(model):
        for i, batch in enumerate(loader):
            where = f"validation batch {i}"
            images, *targets = [
                to_device(t, device, channels_last=channels_last)
                for t in check_batch(batch, where, binary=binary)
            ]
            with autocast(device):
                logits = model(images)
            total += float(compute_loss(loss_fn, logits, targets, where)) * len(images)
            n += len(images)
            prob = torch.sigmoid(logits.float()).cpu().numpy()
            truth = batch[1].numpy() > 0.5
            if callable(metric):
                truths.append(truth)
                probs.append(prob)
            else:
                counts.add(truth, prob > threshold)
    if callable(metric):
        value = float(metric(np.concatenate(truths), np.concatenate(probs)))
    else:
        value = counts.value(metric)
    return {"loss": total / n, "metric": value}


def evaluate(
    model: nn.Module,
    data: Any,
    *,
    loss: str | Callable = "bce_dice",
    loss_options: dict[str, Any] | None = None,
    metric: str | Callable = "f1",
    threshold: float = 0.5,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    channels_last: bool | None = None,
) -> dict[str, float]:
    """Mean loss and metric of ``model`` on ``data``, computed in eval mode without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        A binary segmentation model (one output channel of logits), already on ``device``.
    data : Dataset or list of (image, mask) pairs
        As for :func:`~bioimage_course.training.fit`.
    loss, loss_options, metric, threshold, batch_size, device, channels_last
        As for :func:`~bioimage_course.training.fit`. The metric thresholds
        ``sigmoid(logits)`` at ``threshold``.

    Returns
    -------
    dict
        ``{"loss": ..., "metric": ...}``, the loss averaged over items.
    """
    dev = get_device(device)
    data = as_dataset(data, "data")
    if isinstance(metric, str):
        check_choice(metric, "metric", METRICS)
    if channels_last is None:
        channels_last = prefers_channels_last(dev)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, pin_memory=dev.type == "cuda")
    return validate(
        model,
        loader,
        get_loss(loss, **(loss_options or {})),
        binary=isinstance(loss, str),
        metric=metric,
        threshold=threshold,
        device=dev,
        channels_last=channels_last,
    )
