"""How the weights move: the optimiser and the learning-rate schedule.

Introduced in notebook 05 (U-Net training).

Examples
--------
>>> from torch import nn
>>> opt = make_optimizer(nn.Linear(2, 1), "adam", lr=1e-3)
>>> type(opt).__name__
'Adam'
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validate import check_choice

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = (None, "cosine", "onecycle", "step", "plateau")


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


def step_per_epoch(scheduler, name: str | None, *, val_metric: float, train_loss: float) -> None:
    """Advance an epoch-wise schedule; ``"plateau"`` watches the validation metric (or, with no
    validation data, the negative training loss: larger is better for both)."""
    if scheduler is None:
        return
    if name == "plateau":
        scheduler.step(val_metric if not math.isnan(val_metric) else -train_loss)
    else:
        scheduler.step()
