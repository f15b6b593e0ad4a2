"""Checkpoints: the weights and configuration of a model, and everything a run needs to resume.

Introduced in notebook 05 (U-Net training). :func:`~bioimage_course.training.fit` writes two
files into its ``checkpoint_dir``: ``best.pt`` (the weights and configuration of the best
epoch, for :func:`load_model`) and ``last.pt`` (also optimiser, schedule and history, to
continue with ``resume=``). They hold tensors and plain data only, and are read with
``torch.load(..., weights_only=True)``, which cannot run code hidden in a file.

Examples
--------
>>> import tempfile
>>> from bioimage_course.models import UNet
>>> model = UNet(depth=1, base_channels=2)
>>> with tempfile.TemporaryDirectory() as d:
...     save_atomic({"model_state": cpu_state(model), "model_config": model.config}, f"{d}/m.pt")
...     load_model(f"{d}/m.pt", device="cpu").n_params == model.n_params
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..device import get_device
from ..models import UNet
from .history import History


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's weights on the CPU (unaffected by further training)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoints(
    folder: Path, model, optimizer, scheduler, scaler, history: History, *, best_state, is_best
) -> None:
    """Write ``best.pt`` (when this epoch is the best) and ``last.pt`` into ``folder``."""
    config = getattr(model, "config", None)
    config = dict(config) if isinstance(config, dict) else {}
    if is_best:
        best = {
            "model_state": best_state,
            "model_config": config,
            "epoch": history.best_epoch,
            "metric": history.metric,
            "value": history.best_value,
        }
        save_atomic(best, folder / "best.pt")
    last = {
        "model_state": cpu_state(model),
        "model_config": config,
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "scaler_state": scaler.state_dict() if scaler.is_enabled() else None,
        "history": history.as_dict(),
        "best_state": best_state,
    }
    save_atomic(last, folder / "last.pt")


def restore_run(path, model, optimizer, scheduler, scaler) -> tuple[History, Any]:
    """Load a ``last.pt`` into the run's objects; return its history and best weights.

    A schedule that decays over a planned number of steps (cosine, one-cycle) continues only
    with the same plan: resuming with other ``epochs`` (or batches per epoch) is refused, since
    continuing past the plan's end would either fail or restart the decay.
    """
    state = load_checkpoint(path, keys=("model_state", "optimizer_state", "history"))
    saved = state.get("scheduler_state") or {}
    current = scheduler.state_dict() if scheduler is not None else {}
    for key in ("T_max", "total_steps"):  # cosine, one-cycle
        if saved.get(key) != current.get(key):
            raise ValueError(
                f"`resume` checkpoint {str(path)!r} has a learning-rate schedule planned for "
                f"{saved.get(key)} steps, but this run plans {current.get(key)} (epochs x "
                "batches per epoch): resume with the same `epochs`, `batch_size` and `schedule` "
                "to finish that run, or start a new run from its weights (load_model)"
            )
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    if scheduler is not None and saved:
        scheduler.load_state_dict(saved)
    if state.get("scaler_state"):
        scaler.load_state_dict(state["scaler_state"])
    return History.from_dict(state["history"]), state.get("best_state")


def load_checkpoint(
    path: str | Path, *, keys: tuple[str, ...] = ("model_state", "model_config")
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`~bioimage_course.training.fit` (``weights_only=True``:
    tensors and plain data, no arbitrary code).

    A file that is not a readable checkpoint (truncated, damaged, something else) or lacks one
    of ``keys`` gives a ``ValueError`` that names the file and what is wrong.

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
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a damaged file
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be read ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no detail'}): it is truncated, damaged "
            "or not a checkpoint; delete it and train again"
        ) from None
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(
            f"checkpoint {str(path)!r} is not a checkpoint of this course: it has no "
            f"{', '.join(repr(k) for k in missing)}"
        )
    return state


def load_model(path: str | Path, *, device: str | torch.device | None = None) -> UNet:
    """Build the :class:`~bioimage_course.models.UNet` stored in a checkpoint, in eval mode."""
    checkpoint = load_checkpoint(path)
    model = UNet.from_config(checkpoint["model_config"])
    model.load_state_dict(checkpoint["model_state"])
    return model.to(get_device(device)).eval()
