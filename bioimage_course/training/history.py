"""The record of a training run, one entry per epoch, and its learning curves.

Introduced in notebook 05 (U-Net training): a training loss that keeps falling while the
validation metric stalls or worsens is overfitting, and the curves drawn by
:func:`plot_history` show it.

Examples
--------
>>> h = History(metric="f1")
>>> for epoch, (train, val) in enumerate([(0.6, 0.70), (0.4, 0.80), (0.3, 0.78)], start=1):
...     _ = h.append(epoch=epoch, train_loss=train, val_loss=train, val_metric=val, lr=1e-3,
...                  time=1.0)
>>> h.best_epoch, h.best_value
(2, 0.8)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any


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
        Epoch with the best validation metric (``monitor="metric"``) or the lowest validation
        loss (``monitor="loss"``); the lowest training loss without validation; 0 before the
        first epoch.
    best_value : float
        The value that made it best.
    monitor : {"metric", "loss"}
        What chooses the best epoch.
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
    monitor: str = "metric"

    def append(self, *, epoch, train_loss, val_loss, val_metric, lr, time) -> bool:
        """Record one epoch; return True if it is the best so far."""
        self.epoch.append(int(epoch))
        self.train_loss.append(float(train_loss))
        self.val_loss.append(float(val_loss))
        self.val_metric.append(float(val_metric))
        self.lr.append(float(lr))
        self.time.append(float(time))
        if self.best_epoch == 0 or self._score(-1) > self._score(self.epoch.index(self.best_epoch)):
            self.best_epoch = int(epoch)
            self.best_value = self._watched(-1)
            return True
        return False

    def _watched(self, i: int) -> float:
        """The value that decides the best epoch, at list position ``i``."""
        watched = self.val_loss[i] if self.monitor == "loss" else self.val_metric[i]
        return self.train_loss[i] if math.isnan(watched) else watched

    def _score(self, i: int) -> float:
        """Larger is better: the metric, or minus a loss."""
        value = self._watched(i)
        is_metric = self.monitor == "metric" and not math.isnan(self.val_metric[i])
        return value if is_metric else -value

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


class LivePlot:
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
