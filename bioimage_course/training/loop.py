"""The training loop: epochs of batches, validation, the best weights kept.

Introduced in notebook 05 (U-Net training), which prints :func:`train_one_epoch`; notebooks 06
and 07 use :func:`fit` to train small U-Nets quickly.

How one epoch goes: the model is put in training mode; for every batch, the loss between the
model's output and the target is computed, ``loss.backward()`` computes the gradient of the
loss with respect to every weight (backpropagation), and the optimiser moves the weights a
small step (the learning rate) against the gradient. Then the model is evaluated in eval mode
on the validation data, which it never trains on: a training loss that keeps falling while the
validation metric stalls or worsens is overfitting.

:func:`fit` is that loop with the practical parts around it, each a named step: check the
options, prepare the run (device, loaders, optimiser, schedule), run the epochs (seeded, so a
run repeats exactly), record the history, keep the best weights, write checkpoints, stop early.
On a GPU the same code runs faster: batches are copied from pinned memory without blocking,
the forward pass runs in float16 (autocast) with gradient scaling, and tensors use the
channels-last layout (:mod:`bioimage_course.device` decides all of this).

Examples
--------
>>> import numpy as np
>>> from bioimage_course.models import UNet
>>> rng = np.random.default_rng(0)
>>> masks = [(rng.random((16, 16)) > 0.5).astype(np.float32) for _ in range(4)]
>>> pairs = [(m + 0.1 * rng.standard_normal(m.shape).astype(np.float32), m) for m in masks]
>>> _ = torch.manual_seed(0)
>>> model = UNet(depth=1, base_channels=4)
>>> history = fit(model, pairs[:3], pairs[3:], epochs=2, batch_size=2, lr=1e-2, progress=False)
>>> len(history.train_loss), history.best_epoch in (1, 2)
(2, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .._validate import check_choice, check_in_range, check_int
from ..device import (
    autocast,
    get_device,
    grad_scaler,
    is_channels_last,
    prefers_channels_last,
    to_device,
)
from ..losses import get_loss
from .batches import as_dataset, check_batch, compute_loss
from .checkpoint import cpu_state, restore_run, save_checkpoints
from .history import History, LivePlot
from .optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule, step_per_epoch
from .validation import METRICS, validate

MONITORS = ("metric", "loss")


def train_one_epoch(
    model,
    loader,
    loss_fn,
    optimizer,
    scaler,
    device,
    *,
    epoch=1,
    scheduler=None,
    binary=True,
    channels_last=False,
    bar=None,
) -> float:
    """One pass over ``loader``: forward, loss, backward, optimiser step, batch after batch.

    The model must be in training mode; ``scheduler``, if given, steps after every batch.
    Returns the mean loss over the items of the epoch.
    """
    total, seen = 0.0, 0
    for step, batch in enumerate(loader):
        where = f"epoch {epoch}, batch {step}"
        images, *targets = [
            to_device(t, device, channels_last=channels_last)
            for t in check_batch(batch, where, binary=binary)
        ]
        optimizer.zero_grad(set_to_none=True)
        with autocast(device):  # float16 on CUDA, a no-op elsewhere
            logits = model(images)  # forward pass
        loss = compute_loss(loss_fn, logits, targets, where)
        scaler.scale(loss).backward()  # backpropagation: the gradient of every weight
        scaler.step(optimizer)  # gradient descent: move every weight against its gradient
        scaler.update()
        if scheduler is not None:
            scheduler.step()

        total += loss.item() * len(images)
        seen += len(images)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{total / seen:.4f}", refresh=False)
    return total / seen


@dataclass
class _Run:
    """Everything one call of :func:`fit` works with, prepared once."""

    model: nn.Module
    train_data: Any
    loader: DataLoader
    val_loader: DataLoader | None
    loss_fn: Callable
    binary: bool
    metric: str | Callable
    threshold: float
    optimizer: torch.optim.Optimizer
    scheduler: Any
    schedule: str | None
    per_step: bool
    scaler: torch.amp.GradScaler
    device: torch.device
    channels_last: bool
    history: History
    best_state: dict | None = None


def _check_options(*, epochs, batch_size, lr, weight_decay, threshold, optimizer, schedule,
                   metric, monitor, patience, seed) -> None:  # fmt: skip
    check_int(seed, "seed", 0)
    check_choice(monitor, "monitor", MONITORS)
    check_int(epochs, "epochs", 1)
    check_int(batch_size, "batch_size", 1)
    check_in_range(lr, "lr", 0, low_inclusive=False)
    check_in_range(weight_decay, "weight_decay", 0)
    check_in_range(threshold, "threshold", 0, 1)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    check_choice(schedule, "schedule", SCHEDULES)
    if isinstance(metric, str):
        check_choice(metric, "metric", METRICS)
    if patience is not None:
        check_int(patience, "patience", 1)


def _prepare_run(model, train_data, val_data, *, device, channels_last, batch_size,
                 num_workers, loss, loss_options, metric, threshold, optimizer, lr,
                 weight_decay, momentum, schedule, epochs, monitor) -> _Run:  # fmt: skip
    """Datasets, the model on its device, loaders, optimiser, schedule, an empty history."""
    loss_fn = get_loss(loss, **(loss_options or {}))
    train_data = as_dataset(train_data, "train_data")
    dev = get_device(device)
    on_cuda = dev.type == "cuda"
    if channels_last is None:
        channels_last = prefers_channels_last(dev)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    loader = DataLoader(
        train_data, batch_size=batch_size, shuffle=True, generator=torch.Generator(),
        num_workers=num_workers, pin_memory=on_cuda,
    )  # fmt: skip
    val_loader = None
    if val_data is not None:
        val_data = as_dataset(val_data, "val_data")
        val_loader = DataLoader(val_data, batch_size=batch_size, pin_memory=on_cuda)
    opt = make_optimizer(model, optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum)
    scheduler, per_step = make_schedule(
        opt, schedule, epochs=epochs, steps_per_epoch=len(loader), lr=lr
    )
    metric_name = metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")
    return _Run(
        model=model, train_data=train_data, loader=loader, val_loader=val_loader,
        loss_fn=loss_fn, binary=isinstance(loss, str), metric=metric, threshold=threshold,
        optimizer=opt, scheduler=scheduler, schedule=schedule, per_step=per_step,
        scaler=grad_scaler(dev), device=dev, channels_last=channels_last,
        history=History(metric=metric_name, n_train=len(train_data), monitor=monitor),
    )  # fmt: skip


def _epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch's randomness comes from (seed, epoch), so a resumed run repeats exactly."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


@contextmanager
def _training_context(device: torch.device) -> Iterator[None]:
    """The caller's random state is left alone; cuDNN picks its fastest kernels meanwhile."""
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda"  # fixed patch sizes: worth it
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            yield
    finally:
        torch.backends.cudnn.benchmark = benchmark


def _run_epoch(run: _Run, epoch: int, seed: int, bar) -> bool:
    """Train one epoch, validate, step the schedule, record it; return whether it is the best."""
    t0 = time.perf_counter()
    torch.manual_seed(_epoch_seed(seed, epoch))  # dropout
    run.loader.generator.manual_seed(_epoch_seed(seed, epoch))  # shuffling
    if hasattr(run.train_data, "set_epoch"):  # new random patches this epoch
        run.train_data.set_epoch(epoch)
    run.model.train()
    train_loss = train_one_epoch(
        run.model, run.loader, run.loss_fn, run.optimizer, run.scaler, run.device, epoch=epoch,
        scheduler=run.scheduler if run.per_step else None, binary=run.binary,
        channels_last=run.channels_last, bar=bar,
    )  # fmt: skip
    val_loss = val_metric = math.nan
    if run.val_loader is not None:
        scores = validate(
            run.model, run.val_loader, run.loss_fn, binary=run.binary, metric=run.metric,
            threshold=run.threshold, device=run.device, channels_last=run.channels_last,
        )  # fmt: skip
        val_loss, val_metric = scores["loss"], scores["metric"]
    if not run.per_step:
        step_per_epoch(run.scheduler, run.schedule, val_metric=val_metric, train_loss=train_loss)
    is_best = run.history.append(
        epoch=epoch, train_loss=train_loss, val_loss=val_loss, val_metric=val_metric,
        lr=run.optimizer.param_groups[0]["lr"], time=time.perf_counter() - t0,
    )  # fmt: skip
    if is_best:
        run.best_state = cpu_state(run.model)
    return is_best


def _progress_bar(show: bool, n_batches: int):
    if not show or n_batches == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n_batches, desc="training", unit="batch")


def _epochs_without_improvement(history: History) -> int:
    return history.epoch[-1] - history.best_epoch if history.best_epoch else 0


def fit(
    model: nn.Module,
    train_data: Any,
    val_data: Any = None,
    *,
    epochs: int = 10,
    batch_size: int = 8,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    loss: str | Callable = "bce_dice",
    loss_options: dict[str, Any] | None = None,
    schedule: str | None = None,
    metric: str | Callable = "f1",
    threshold: float = 0.5,
    monitor: str = "metric",
    patience: int | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: str | Path | None = None,
    restore_best: bool = True,
    seed: int = 0,
    device: str | torch.device | None = None,
    num_workers: int = 0,
    channels_last: bool | None = None,
    progress: bool = True,
    plot: bool = True,
) -> History:
    """Train ``model`` on ``train_data``, validating on ``val_data`` after every epoch.

    Parameters
    ----------
    model : torch.nn.Module
        The network, trained in place (e.g. a :class:`~bioimage_course.models.UNet`).
    train_data : Dataset or list of (image, mask) pairs
        Training items (see the module docstring). One epoch is one pass over it.
    val_data : Dataset or list of (image, mask) pairs, optional
        Validation items, evaluated after every epoch. Without them the best epoch is the one
        with the lowest training loss.
    epochs : int
        Number of epochs (in total: a resumed run continues up to this number).
    batch_size : int
        Items per optimiser step.
    lr : float
        Learning rate (the peak rate for ``schedule="onecycle"``).
    optimizer : {"adam", "adamw", "sgd"}
        See :func:`~bioimage_course.training.make_optimizer`; ``momentum`` is used by SGD only.
    weight_decay : float
        L2 penalty on the weights.
    loss : str or callable
        A name from :data:`bioimage_course.losses.LOSSES` or ``loss(logits, target[, weight])``.
        Named losses require 0/1 targets and are checked batch by batch.
    loss_options : dict, optional
        Options for a named loss, e.g. ``{"pos_weight": 3.0}``.
    schedule : {None, "cosine", "onecycle", "step", "plateau"}
        Learning-rate schedule (see :func:`~bioimage_course.training.make_schedule`).
    metric : {"f1", "iou"} or callable
        Validation metric, larger is better; chooses the best epoch.
    threshold : float
        Probability above which a pixel counts as foreground for the metric.
    monitor : {"metric", "loss"}
        What makes an epoch the best: the highest validation ``metric``, or the lowest
        validation loss (the classic early-stopping criterion: the loss turns up first when
        a model starts to overfit).
    patience : int, optional
        Stop after this many epochs without a new best epoch (early stopping); with
        ``restore_best`` the model ends with the best epoch's weights.
    checkpoint_dir : str or Path, optional
        Folder for ``best.pt`` (model weights + config of the best epoch, for
        :func:`~bioimage_course.training.load_model`) and ``last.pt`` (also optimiser,
        schedule and history, for ``resume``). Created if missing.
    resume : str or Path, optional
        A ``last.pt`` to continue from; ``model`` must have the same architecture.
    restore_best : bool
        At the end, load the best epoch's weights into ``model`` (else keep the last ones).
    seed : int
        Seeds shuffling, dropout and anything else random in training. On the CPU two runs
        with the same seed and model initialisation give identical histories.
    device : str or torch.device, optional
        Where to train; ``None`` uses :func:`bioimage_course.device.get_device`.
    num_workers : int
        DataLoader worker processes preparing batches in parallel (0: in this process).
    channels_last : bool, optional
        Use the channels-last memory layout while training; default:
        :func:`bioimage_course.device.prefers_channels_last`.
    progress : bool
        Show a tqdm progress bar.
    plot : bool
        In a notebook, draw the learning curves live in one output, updated after each epoch.
        Outside notebooks nothing is drawn; call
        :func:`~bioimage_course.training.plot_history` afterwards.

    Returns
    -------
    History
        Per-epoch losses, metric, learning rate and time; ``best_epoch``. The model is left
        on ``device``, in eval mode and in the memory layout it came in.

    Raises
    ------
    ValueError
        Empty dataset, image/target shape mismatch, targets outside {0, 1} for a named loss,
        or bad options.
    FloatingPointError
        If the loss becomes NaN or infinite; the message names the epoch and batch.

    Notes
    -----
    Randomness is drawn from generators seeded by ``(seed, epoch)``: the shuffling order, and
    torch's global generator (dropout) inside a forked random state, so the caller's random
    state is left untouched. A training dataset with a ``set_epoch(epoch)`` method (e.g. random
    patches with augmentation) is told the epoch before it is iterated, so it can seed itself
    the same way and a resumed run repeats the original exactly. The validation data are left
    alone: the same examples every epoch, so that the curve shows the model changing, not the
    data.
    """
    _check_options(
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        threshold=threshold, optimizer=optimizer, schedule=schedule, metric=metric,
        monitor=monitor, patience=patience, seed=seed,
    )  # fmt: skip
    received_channels_last = is_channels_last(model)
    run = _prepare_run(
        model, train_data, val_data, device=device, channels_last=channels_last,
        batch_size=batch_size, num_workers=num_workers, loss=loss, loss_options=loss_options,
        metric=metric, threshold=threshold, optimizer=optimizer, lr=lr,
        weight_decay=weight_decay, momentum=momentum, schedule=schedule, epochs=epochs,
        monitor=monitor,
    )  # fmt: skip
    if resume is not None:
        run.history, run.best_state = restore_run(
            resume, model, run.optimizer, run.scheduler, run.scaler
        )
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    start = run.history.epoch[-1] + 1 if run.history.epoch else 1
    live = LivePlot() if plot else None
    bar = _progress_bar(progress, (epochs - start + 1) * len(run.loader))
    try:
        with _training_context(run.device):
            for epoch in range(start, epochs + 1):
                is_best = _run_epoch(run, epoch, seed, bar)
                if bar is not None:
                    bar.set_postfix(epoch=epoch, loss=f"{run.history.train_loss[-1]:.4f}")
                if live is not None:
                    live.update(run.history)
                if checkpoint_dir is not None:
                    save_checkpoints(
                        checkpoint_dir, model, run.optimizer, run.scheduler, run.scaler,
                        run.history, best_state=run.best_state, is_best=is_best,
                    )  # fmt: skip
                if patience is not None and _epochs_without_improvement(run.history) >= patience:
                    run.history.stopped_early = True
                    break
    finally:
        if bar is not None:
            bar.close()
        if live is not None and live.fig is not None:
            live.update(run.history, final=True)

    if restore_best and run.best_state is not None:
        model.load_state_dict(run.best_state)
    if run.channels_last and not received_channels_last:
        model.to(memory_format=torch.contiguous_format)  # as it came
    model.eval()
    return run.history
