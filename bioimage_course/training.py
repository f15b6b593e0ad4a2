"""Training a segmentation network: the loop of epochs, batches, validation and checkpoints.

Introduced in notebook 05 (U-Net training); notebooks 06 and 07 use :func:`fit` to train small
U-Nets quickly.

API overview
------------
``fit(model, train_data, val_data=None, *, epochs, batch_size, lr, ...) -> History``
    Train ``model`` in place and return its :class:`History`. ``train_data`` and ``val_data``
    are torch Datasets yielding ``(image, target)`` (or ``(image, target, weight)`` for a
    weighted loss) as float32 tensors of shape (C, H, W), or plain lists of ``(image, mask)``
    numpy pairs (2D arrays get a channel axis; values are not rescaled, so normalise images
    first). Targets of the built-in losses must be 0/1 masks. The main options:

    - ``optimizer="adam"`` or ``"sgd"`` (with ``momentum``), ``lr``, ``weight_decay``;
    - ``loss``: a name from :data:`bioimage_course.losses.LOSSES` (``"bce_dice"``, ``"bce"``,
      ``"dice"``, ``"focal"``, ``"weighted_bce"``) or any ``loss(logits, target[, weight])``;
    - ``schedule``: ``None``, ``"cosine"`` (decay to 0 over all steps), ``"onecycle"`` (warm up,
      then decay; fast convergence in few epochs), ``"step"`` or ``"plateau"``;
    - ``metric``: ``"f1"`` or ``"iou"`` of the thresholded validation predictions (pixel counts
      from :func:`bioimage_course.metrics.pixel_scores`), or a function
      ``metric(y_true, probability) -> float`` on the whole validation set (larger is better);
    - ``patience``: early stopping after that many epochs without improvement;
    - ``checkpoint_dir``: saves ``best.pt`` (weights + config of the best epoch) and
      ``last.pt`` (everything needed to resume); ``resume=".../last.pt"`` continues a run;
    - ``seed``: the run is reproducible (identical on CPU); ``device=None`` picks the GPU
      when there is one (:func:`bioimage_course.device.get_device`);
    - ``progress`` (tqdm bar) and ``plot`` (live learning curves in a notebook).

``load_model(path) -> UNet``
    Rebuild a model from a checkpoint (loaded with ``torch.load(..., weights_only=True)``).
``evaluate(model, data, ...) -> dict``
    Loss and metric of a model on a dataset, as in validation.
``train_one_epoch(model, loader, loss_fn, optimizer, scaler, device) -> float``
    The inner loop of :func:`fit`, one pass over the data: read it first.
``plot_history(history)``
    Learning curves: training and validation loss, validation metric, learning rate.
``ArrayPairs(pairs)``
    The Dataset that :func:`fit` builds from a list of ``(image, mask)`` pairs as they are.
    For random patches, augmentation and targets made from label images, use the datasets of
    :mod:`bioimage_course.data` (e.g. ``PairDataset(images, labels, patch_size=..., ...)``).

How one epoch goes: the model is put in training mode; for every batch, the loss between the
model's output and the target is computed, ``loss.backward()`` computes the gradient of the
loss with respect to every weight (backpropagation), and the optimiser moves the weights a
small step (the learning rate) against the gradient. Then the model is evaluated in eval mode
on the validation data, which it never trains on: a training loss that keeps falling while the
validation metric stalls or worsens is overfitting.

On a GPU the same code runs faster: the model is moved once, batches are copied from pinned
memory without blocking, the forward pass runs in float16 (autocast) with gradient scaling,
and tensors use the channels-last layout that tensor cores prefer (it helps on the CPU too).
Mixed precision and pinned memory are not used on the CPU, where they would not help.

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
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import device as _device
from ._validate import check_array, check_choice, check_in_range
from .losses import get_loss
from .metrics import f1, jaccard, pixel_scores
from .models import UNet

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = (None, "cosine", "onecycle", "step", "plateau")
METRICS = ("f1", "iou")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
class ArrayPairs(Dataset):
    """A Dataset over a list of ``(image, mask)`` (or ``(image, mask, weight)``) arrays.

    Each item becomes float32 tensors of shape (C, H, W): 2D arrays get a channel axis, 3D
    arrays are taken as channels-first. Values are kept as they are (no rescaling).

    Examples
    --------
    >>> ds = ArrayPairs([(np.zeros((8, 8), np.uint16), np.ones((8, 8), bool))])
    >>> [tuple(t.shape) for t in ds[0]], ds[0][0].dtype
    ([(1, 8, 8), (1, 8, 8)], torch.float32)
    """

    def __init__(self, pairs: Sequence[Sequence[Any]]) -> None:
        self.items = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) not in (2, 3):
                raise TypeError(
                    f"`pairs[{i}]` must be an (image, mask) or (image, mask, weight) tuple, "
                    f"got {type(pair).__name__}"
                )
            arrays = [
                check_array(a, f"pairs[{i}][{j}]", ndim=(2, 3), finite=True)
                for j, a in enumerate(pair)
            ]
            tensors = [
                torch.from_numpy(np.array(a[None] if a.ndim == 2 else a, dtype=np.float32))
                for a in arrays
            ]
            if tensors[0].shape[1:] != tensors[1].shape[1:]:
                raise ValueError(
                    f"image and mask of `pairs[{i}]` must have the same height and width, got "
                    f"{tuple(arrays[0].shape)} and {tuple(arrays[1].shape)}"
                )
            self.items.append(tuple(tensors))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return self.items[index]


def _as_dataset(data: Any, name: str) -> Dataset:
    if data is None:
        raise TypeError(f"`{name}` must be a torch Dataset or a list of (image, mask) pairs")
    if isinstance(data, (list, tuple)):
        data = ArrayPairs(data)
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(
            f"`{name}` must be a torch Dataset or a list of (image, mask) pairs, got "
            f"{type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError(f"`{name}` is empty: it must contain at least one (image, target) item")
    return data


def _check_batch(batch: Any, where: str, *, binary: bool) -> tuple[torch.Tensor, ...]:
    """Check one batch from the DataLoader (still on the CPU) and return it as a tuple."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise TypeError(
            f"{where}: a dataset item must be (image, target) or (image, target, weight), got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    image, target = batch[0], batch[1]
    if image.ndim != 4 or target.ndim != 4:
        raise ValueError(
            f"{where}: images and targets must be (C, H, W) tensors, got a batch of images of "
            f"shape {tuple(image.shape)} and targets {tuple(target.shape)}"
        )
    if image.shape[-2:] != target.shape[-2:] or image.shape[0] != target.shape[0]:
        raise ValueError(
            f"{where}: image and target shapes do not match: images {tuple(image.shape)}, "
            f"targets {tuple(target.shape)}"
        )
    if binary:
        outside = (target != 0) & (target != 1)
        if bool(outside.any()):
            values = torch.unique(target[outside])[:5].tolist()
            raise ValueError(
                f"{where}: targets of a binary loss must be 0 or 1, got values such as {values}; "
                "for instance label images use `labels > 0` as the mask"
            )
    return tuple(batch)


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------
@dataclass
class History:
    """What happened during training, one entry per epoch.

    Attributes
    ----------
    epoch : list of int
        Epoch numbers, starting at 1.
    train_loss, val_loss, val_metric : list of float
        Mean training loss, validation loss and validation metric (NaN without validation).
    lr : list of float
        Learning rate at the end of the epoch.
    time : list of float
        Seconds the epoch took (training and validation).
    metric : str
        Name of the validation metric.
    best_epoch : int
        Epoch with the best validation metric (lowest training loss without validation); 0
        before the first epoch.
    best_value : float
        The value that made it best.
    stopped_early : bool
        Whether early stopping ended the run.
    n_train : int
        Training items per epoch.

    Examples
    --------
    >>> h = History(metric="f1")
    >>> h.append(epoch=1, train_loss=0.5, val_loss=0.4, val_metric=0.8, lr=1e-3, time=2.0)
    True
    >>> h.best_epoch, h.as_dict()["val_metric"]
    (1, [0.8])
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    metric: str = "f1"
    best_epoch: int = 0
    best_value: float = math.nan
    stopped_early: bool = False
    n_train: int = 0

    def append(self, *, epoch, train_loss, val_loss, val_metric, lr, time) -> bool:
        """Record one epoch; return True if it is the best so far."""
        self.epoch.append(int(epoch))
        self.train_loss.append(float(train_loss))
        self.val_loss.append(float(val_loss))
        self.val_metric.append(float(val_metric))
        self.lr.append(float(lr))
        self.time.append(float(time))
        has_metric = not math.isnan(val_metric)
        value = float(val_metric) if has_metric else -float(train_loss)
        if self.best_epoch == 0 or value > self._best_score():
            self.best_epoch = int(epoch)
            self.best_value = float(val_metric) if has_metric else float(train_loss)
            return True
        return False

    def _best_score(self) -> float:
        i = self.epoch.index(self.best_epoch)
        metric = self.val_metric[i]
        return metric if not math.isnan(metric) else -self.train_loss[i]

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (what checkpoints store)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(**d)

    @property
    def images_per_second(self) -> float:
        """Training throughput over all epochs (validation time included)."""
        total = sum(self.time)
        return self.n_train * len(self.epoch) / total if total else math.nan

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        i = self.epoch.index(self.best_epoch)
        return (
            f"History(epochs={len(self.epoch)}, train_loss={self.train_loss[-1]:.4f}, "
            f"val_{self.metric}={self.val_metric[-1]:.4f}, best_epoch={self.best_epoch} "
            f"(val_{self.metric}={self.val_metric[i]:.4f}), time={sum(self.time):.1f}s)"
        )


def plot_history(history: History, *, fig=None):
    """Learning curves: losses (left), validation metric (middle), learning rate (right).

    Parameters
    ----------
    history : History
        From :func:`fit`.
    fig : matplotlib.figure.Figure, optional
        A figure to draw into (cleared first); a new one otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> h = History(metric="iou")
    >>> for e in (1, 2):
    ...     _ = h.append(epoch=e, train_loss=1 / e, val_loss=1.2 / e, val_metric=0.4 * e,
    ...                  lr=1e-3, time=1.0)
    >>> fig = plot_history(h)
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'validation iou', 'learning rate']
    """
    from matplotlib.figure import Figure

    if fig is None:
        fig = Figure(figsize=(11, 3.2), layout="constrained")
    fig.clear()
    ax_loss, ax_metric, ax_lr = fig.subplots(1, 3)
    epochs = history.epoch
    ax_loss.plot(epochs, history.train_loss, "o-", label="training", ms=3)
    if not all(math.isnan(v) for v in history.val_loss):
        ax_loss.plot(epochs, history.val_loss, "o-", label="validation", ms=3)
    ax_loss.set(title="loss", xlabel="epoch")
    ax_loss.legend()
    ax_metric.plot(epochs, history.val_metric, "o-", color="C2", ms=3)
    if history.best_epoch and not math.isnan(history.best_value):
        ax_metric.axvline(history.best_epoch, color="0.6", ls="--", lw=1, label="best")
        ax_metric.legend()
    ax_metric.set(title=f"validation {history.metric}", xlabel="epoch")
    ax_lr.plot(epochs, history.lr, color="C3")
    ax_lr.set(title="learning rate", xlabel="epoch")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    for ax in fig.axes:
        if epochs:
            ax.set_xlim(0.5, max(epochs) + 0.5)
    return fig


class _LivePlot:
    """Learning curves redrawn in one notebook output (throttled); nothing outside notebooks."""

    def __init__(self, min_interval: float = 1.0) -> None:
        self.handle = None
        self.fig = None
        self.last = -math.inf
        self.min_interval = min_interval
        self.enabled = _in_notebook()

    def update(self, history: History, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < self.min_interval:
            return
        from IPython.display import display

        self.fig = plot_history(history, fig=self.fig)
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)
        self.last = now


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


# ---------------------------------------------------------------------------------------------
# Optimiser, schedule, metric
# ---------------------------------------------------------------------------------------------
def make_optimizer(
    model: nn.Module, name: str = "adam", *, lr: float, weight_decay: float = 0.0, momentum=0.9
) -> torch.optim.Optimizer:
    """Adam (adaptive step per weight, the robust default), AdamW or SGD with momentum.

    >>> opt = make_optimizer(nn.Linear(2, 1), "sgd", lr=0.1)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
    """
    check_choice(name, "optimizer", OPTIMIZERS)
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def make_schedule(optimizer, name: str | None, *, epochs: int, steps_per_epoch: int, lr: float):
    """The learning-rate schedule called ``name``; returns ``(scheduler, per_step)``.

    ``per_step`` says whether ``scheduler.step()`` is called after every batch (cosine,
    onecycle) or once per epoch (step, plateau; plateau is given the validation metric).

    >>> opt = make_optimizer(nn.Linear(2, 1), lr=1.0)
    >>> sched, per_step = make_schedule(opt, "cosine", epochs=1, steps_per_epoch=4, lr=1.0)
    >>> for _ in range(2):
    ...     opt.step(); sched.step()
    >>> per_step, round(opt.param_groups[0]["lr"], 3)  # half-way down the cosine
    (True, 0.5)
    """
    check_choice(name, "schedule", SCHEDULES)
    total = max(1, epochs * steps_per_epoch)
    if name is None:
        return None, False
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total), True
    if name == "onecycle":
        return (
            torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=lr, total_steps=total, pct_start=0.2
            ),
            True,
        )
    if name == "step":
        step_size = max(1, epochs // 3)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.1), False
    return (
        torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.3, patience=3),
        False,
    )


class _PixelCounts:
    """Pixel tp/fp/fn summed over validation batches (from metrics.pixel_scores)."""

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


def prefers_channels_last(device: str | torch.device | None = None) -> bool:
    """Whether convolutions run faster with the channels-last memory layout on ``device``.

    Channels-last stores the channels of a pixel next to each other (N, H, W, C in memory),
    the layout GPU tensor cores and the CPU's oneDNN convolutions work in; for the small
    U-Nets of this course a training step on the CPU is about 20 % faster with it. On Apple
    GPUs (MPS) support varies between PyTorch versions, so the default layout is kept there.

    >>> prefers_channels_last("cpu")
    True
    """
    return _device.get_device(device).type in ("cuda", "cpu")


def _to_device(t: torch.Tensor, dev: torch.device, channels_last: bool) -> torch.Tensor:
    t = t.to(dev, non_blocking=dev.type == "cuda")
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last)
    return t


def _compute_loss(loss_fn, logits, batch_on_device):
    target = batch_on_device[1]
    logits = logits.float()  # losses in float32, also under autocast
    if len(batch_on_device) == 3:
        return loss_fn(logits, target.float(), batch_on_device[2].float())
    return loss_fn(logits, target.float())


def _evaluate(model, loader, loss_fn, *, binary, metric, threshold, dev, channels_last):
    """Loss and metric over ``loader`` in eval mode (the validation step of :func:`fit`)."""
    was_training = model.training
    model.eval()
    counts = _PixelCounts()
    truths, probs = [], []
    total, n = 0.0, 0
    with torch.inference_mode():
        for i, batch in enumerate(loader):
            batch = _check_batch(batch, f"validation batch {i}", binary=binary)
            on_dev = [_to_device(t, dev, channels_last) for t in batch]
            with _device.autocast(dev):
                logits = model(on_dev[0])
            total += float(_compute_loss(loss_fn, logits, on_dev)) * len(batch[0])
            n += len(batch[0])
            prob = torch.sigmoid(logits.float()).cpu().numpy()
            truth = batch[1].numpy() > 0.5
            if callable(metric):
                truths.append(truth)
                probs.append(prob)
            else:
                counts.add(truth, prob > threshold)
    model.train(was_training)
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
        As for :func:`fit`.
    loss, loss_options, metric, threshold, batch_size, device, channels_last
        As for :func:`fit`. The metric thresholds ``sigmoid(logits)`` at ``threshold``.

    Returns
    -------
    dict
        ``{"loss": ..., "metric": ...}``, the loss averaged over items.

    Examples
    --------
    >>> model = nn.Conv2d(1, 1, 1)
    >>> pairs = [(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))]
    >>> sorted(evaluate(model, pairs, device="cpu"))
    ['loss', 'metric']
    """
    dev = _device.get_device(device)
    data = _as_dataset(data, "data")
    if isinstance(metric, str):
        check_choice(metric, "metric", METRICS)
    if channels_last is None:
        channels_last = prefers_channels_last(dev)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, pin_memory=dev.type == "cuda")
    return _evaluate(
        model,
        loader,
        get_loss(loss, **(loss_options or {})),
        binary=isinstance(loss, str),
        metric=metric,
        threshold=threshold,
        dev=dev,
        channels_last=channels_last,
    )


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def _model_config(model: nn.Module) -> dict[str, Any]:
    config = getattr(model, "config", None)
    return dict(config) if isinstance(config, dict) else {}


def _save_atomic(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a crash never leaves a half-written checkpoint


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit` (``weights_only=True``: tensors and plain data,
    no arbitrary code).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     torch.save({"model_state": {}, "model_config": {"depth": 1}}, f"{d}/c.pt")
    ...     load_checkpoint(f"{d}/c.pt")["model_config"]
    {'depth': 1}
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_model(path: str | Path, *, device: str | torch.device | None = None) -> UNet:
    """Build the :class:`~bioimage_course.models.UNet` stored in a checkpoint, in eval mode.

    Examples
    --------
    >>> import tempfile
    >>> model = UNet(depth=1, base_channels=2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     state = {"model_state": model.state_dict(), "model_config": model.config}
    ...     torch.save(state, f"{d}/best.pt")
    ...     load_model(f"{d}/best.pt", device="cpu").n_params == model.n_params
    True
    """
    checkpoint = load_checkpoint(path)
    model = UNet.from_config(checkpoint["model_config"])
    model.load_state_dict(checkpoint["model_state"])
    return model.to(_device.get_device(device)).eval()


# ---------------------------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------------------------
def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    *,
    epoch: int = 1,
    scheduler=None,
    binary: bool = True,
    channels_last: bool = False,
    bar=None,
) -> float:
    """One pass over ``loader``: forward, loss, backward, optimiser step, batch after batch.

    The heart of :func:`fit`; the model must be in training mode. ``scheduler``, if given, is
    stepped after every batch. Returns the mean loss over the items of the epoch.

    Examples
    --------
    >>> from bioimage_course.device import grad_scaler
    >>> model = nn.Conv2d(1, 1, 3, padding=1)
    >>> data = ArrayPairs([(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))] * 4)
    >>> loader = DataLoader(data, batch_size=2)
    >>> optimizer = make_optimizer(model, "sgd", lr=0.1)
    >>> losses = [train_one_epoch(model, loader, get_loss("bce"), optimizer,
    ...                           grad_scaler("cpu"), torch.device("cpu")) for _ in range(3)]
    >>> losses[0] > losses[1] > losses[2]
    True
    """
    total, seen = 0.0, 0
    for step, batch in enumerate(loader):
        where = f"epoch {epoch}, batch {step}"
        batch = _check_batch(batch, where, binary=binary)
        on_device = [_to_device(t, device, channels_last) for t in batch]

        optimizer.zero_grad(set_to_none=True)
        with _device.autocast(device):  # float16 on CUDA, a no-op elsewhere
            logits = model(on_device[0])  # forward pass
        if logits.shape[1] != batch[1].shape[1]:
            raise ValueError(
                f"{where}: the model predicts {logits.shape[1]} channel(s) but the targets "
                f"have {batch[1].shape[1]}"
            )
        loss = _compute_loss(loss_fn, logits, on_device)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss is {value} at {where}; lower the learning rate or check that the "
                "images of this batch are finite and normalised"
            )
        scaler.scale(loss).backward()  # backpropagation: the gradient of every weight
        scaler.step(optimizer)  # gradient descent: move every weight against its gradient
        scaler.update()
        if scheduler is not None:
            scheduler.step()

        total += value * len(batch[0])
        seen += len(batch[0])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{total / seen:.4f}", refresh=False)
    return total / seen


def _save_checkpoints(
    folder, model, optimizer, scheduler, scaler, history, *, best_state, is_best
) -> None:
    """Write ``best.pt`` (when this epoch is the best) and ``last.pt`` into ``folder``."""
    config = _model_config(model)
    if is_best:
        best = {
            "model_state": best_state,
            "model_config": config,
            "epoch": history.best_epoch,
            "metric": history.metric,
            "value": history.best_value,
        }
        _save_atomic(best, folder / "best.pt")
    last = {
        "model_state": _cpu_state(model),
        "model_config": config,
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "scaler_state": scaler.state_dict() if scaler.is_enabled() else None,
        "history": history.as_dict(),
        "best_state": best_state,
    }
    _save_atomic(last, folder / "last.pt")


def _epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch's randomness comes from (seed, epoch), so a resumed run repeats exactly."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


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
        See :func:`make_optimizer`; ``momentum`` is used by SGD only.
    weight_decay : float
        L2 penalty on the weights.
    loss : str or callable
        A name from :data:`bioimage_course.losses.LOSSES` or ``loss(logits, target[, weight])``.
        Named losses require 0/1 targets and are checked batch by batch.
    loss_options : dict, optional
        Options for a named loss, e.g. ``{"pos_weight": 3.0}``.
    schedule : {None, "cosine", "onecycle", "step", "plateau"}
        Learning-rate schedule (see :func:`make_schedule`).
    metric : {"f1", "iou"} or callable
        Validation metric, larger is better; chooses the best epoch.
    threshold : float
        Probability above which a pixel counts as foreground for the metric.
    patience : int, optional
        Stop after this many epochs without a new best epoch.
    checkpoint_dir : str or Path, optional
        Folder for ``best.pt`` (model weights + config of the best epoch, for
        :func:`load_model`) and ``last.pt`` (also optimiser, schedule and history, for
        ``resume``). Created if missing.
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
        Use the channels-last memory layout; default: :func:`prefers_channels_last`.
    progress : bool
        Show a tqdm progress bar.
    plot : bool
        In a notebook, draw the learning curves live in one output, updated after each epoch.
        Outside notebooks nothing is drawn; call :func:`plot_history` afterwards.

    Returns
    -------
    History
        Per-epoch losses, metric, learning rate and time; ``best_epoch``.

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
    for name, value in [("epochs", epochs), ("batch_size", batch_size)]:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    check_in_range(lr, "lr", 0, low_inclusive=False)
    check_in_range(weight_decay, "weight_decay", 0)
    check_in_range(threshold, "threshold", 0, 1)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    check_choice(schedule, "schedule", SCHEDULES)
    if isinstance(metric, str):
        check_choice(metric, "metric", METRICS)
    if patience is not None:
        check_in_range(patience, "patience", 1)
    binary = isinstance(loss, str)
    loss_fn = get_loss(loss, **(loss_options or {}))
    metric_name = metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")
    train_data = _as_dataset(train_data, "train_data")
    if val_data is not None:
        val_data = _as_dataset(val_data, "val_data")

    dev = _device.get_device(device)
    on_cuda = dev.type == "cuda"
    if channels_last is None:
        channels_last = prefers_channels_last(dev)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    loader_generator = torch.Generator()
    loader = DataLoader(
        train_data,
        batch_size=batch_size,
        shuffle=True,
        generator=loader_generator,
        num_workers=num_workers,
        pin_memory=on_cuda,
    )
    steps_per_epoch = len(loader)
    val_loader = None
    if val_data is not None:
        val_loader = DataLoader(val_data, batch_size=batch_size, shuffle=False, pin_memory=on_cuda)
    opt = make_optimizer(model, optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum)
    scheduler, per_step = make_schedule(
        opt, schedule, epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr
    )
    scaler = _device.grad_scaler(dev)

    history = History(metric=metric_name, n_train=len(train_data))
    best_state = None
    start_epoch = 1
    if resume is not None:
        state = load_checkpoint(resume)
        model.load_state_dict(state["model_state"])
        opt.load_state_dict(state["optimizer_state"])
        if scheduler is not None and state.get("scheduler_state"):
            scheduler.load_state_dict(state["scheduler_state"])
        if state.get("scaler_state"):
            scaler.load_state_dict(state["scaler_state"])
        history = History.from_dict(state["history"])
        start_epoch = history.epoch[-1] + 1 if history.epoch else 1
        if state.get("best_state") is not None:
            best_state = state["best_state"]

    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)

    live = _LivePlot() if plot else None
    bar = None
    if progress and start_epoch <= epochs:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=(epochs - start_epoch + 1) * steps_per_epoch, desc="training", unit="batch"
        )

    fork_devices = [dev.index or 0] if on_cuda else []
    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = on_cuda  # fastest kernels for fixed patch sizes
    epochs_without_improvement = 0
    if history.best_epoch:
        epochs_without_improvement = history.epoch[-1] - history.best_epoch
    try:
        with torch.random.fork_rng(devices=fork_devices):
            for epoch in range(start_epoch, epochs + 1):
                t0 = time.perf_counter()
                epoch_seed = _epoch_seed(seed, epoch)
                torch.manual_seed(epoch_seed)
                loader_generator.manual_seed(epoch_seed)
                if hasattr(train_data, "set_epoch"):  # new random patches this epoch
                    train_data.set_epoch(epoch)

                # -- training: one pass over the data ---------------------------------------
                model.train()
                train_loss = train_one_epoch(
                    model,
                    loader,
                    loss_fn,
                    opt,
                    scaler,
                    dev,
                    epoch=epoch,
                    scheduler=scheduler if per_step else None,
                    binary=binary,
                    channels_last=channels_last,
                    bar=bar,
                )

                # -- validation ------------------------------------------------------------
                if val_data is not None:
                    scores = _evaluate(
                        model,
                        val_loader,
                        loss_fn,
                        binary=binary,
                        metric=metric,
                        threshold=threshold,
                        dev=dev,
                        channels_last=channels_last,
                    )
                    val_loss, val_metric = scores["loss"], scores["metric"]
                else:
                    val_loss = val_metric = math.nan
                if scheduler is not None and not per_step:
                    if schedule == "plateau":
                        scheduler.step(val_metric if val_data is not None else -train_loss)
                    else:
                        scheduler.step()

                is_best = history.append(
                    epoch=epoch,
                    train_loss=train_loss,
                    val_loss=val_loss,
                    val_metric=val_metric,
                    lr=opt.param_groups[0]["lr"],
                    time=time.perf_counter() - t0,
                )
                if is_best:
                    best_state = _cpu_state(model)
                    epochs_without_improvement = 0
                else:
                    epochs_without_improvement += 1
                if bar is not None:
                    bar.set_postfix(
                        epoch=epoch,
                        loss=f"{train_loss:.4f}",
                        **{f"val_{metric_name}": f"{val_metric:.3f}"},
                    )
                if live is not None:
                    live.update(history)

                if checkpoint_dir is not None:
                    _save_checkpoints(
                        checkpoint_dir,
                        model,
                        opt,
                        scheduler,
                        scaler,
                        history,
                        best_state=best_state,
                        is_best=is_best,
                    )

                if patience is not None and epochs_without_improvement >= patience:
                    history.stopped_early = True
                    break
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if bar is not None:
            bar.close()
        if live is not None and live.fig is not None:
            live.update(history, final=True)

    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
