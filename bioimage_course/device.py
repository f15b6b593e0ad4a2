"""Where computations run: CPU, an NVIDIA GPU (CUDA) or an Apple GPU (MPS).

Every notebook's second cell. All GPU decisions of the course are made here: the rest of the
package asks :func:`get_device`, :func:`use_amp` and :func:`prefers_channels_last`.
``BIOIMAGE_COURSE_DEVICE`` forces a device (``cpu``, ``cuda``, ``cuda:1``, ``mps``); without
it the fastest available one is chosen: CUDA, then MPS, then CPU.

>>> get_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from ._validate import check_int

ENV_VAR = "BIOIMAGE_COURSE_DEVICE"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to compute on (``None``: the variable, else the fastest available).

    A device string that is invalid or not available here raises ``ValueError``.

    >>> get_device("cpu")
    device(type='cpu')
    """
    source = "`device`"
    if device is None:
        device = os.environ.get(ENV_VAR) or None
        source = f"environment variable {ENV_VAR}"
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{source} must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{source} asks for {device!r} but CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{source} asks for {device!r} but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    elif dev.type == "mps":
        if not _mps_available():
            raise ValueError(f"{source} asks for 'mps' but MPS is not available here")
    elif dev.type != "cpu":
        raise ValueError(f"{source} must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    return dev


def use_amp(device: torch.device | str | None = None) -> bool:
    """Whether mixed precision (float16 autocast + gradient scaling) should be used: CUDA only.

    On tensor cores it roughly doubles throughput; on CPU bfloat16 is slower than float32 for
    these small models, and MPS autocast support varies between PyTorch versions.

    >>> use_amp("cpu")
    False
    """
    return get_device(device).type == "cuda"


def autocast(device: torch.device | str | None = None):
    """A context manager for the forward pass: float16 autocast on CUDA, a no-op elsewhere.

    >>> with autocast("cpu"):
    ...     y = torch.ones(2) * 2
    """
    dev = get_device(device)
    return torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp(dev))


def grad_scaler(device: torch.device | str | None = None) -> torch.amp.GradScaler:
    """A gradient scaler that is active exactly when :func:`use_amp` is true."""
    dev = get_device(device)
    return torch.amp.GradScaler(dev.type, enabled=use_amp(dev))


def prefers_channels_last(device: str | torch.device | None = None) -> bool:
    """Whether convolutions run faster with the channels-last memory layout on ``device``.

    Channels-last (N, H, W, C in memory) is the layout of GPU tensor cores and the CPU's oneDNN;
    a CPU training step of the course's U-Nets is about 20 % faster with it. Not on MPS.

    >>> prefers_channels_last("cpu")
    True
    """
    return get_device(device).type in ("cuda", "cpu")


def to_device(
    tensor: torch.Tensor, device: torch.device, *, channels_last: bool = False
) -> torch.Tensor:
    """Copy a batch to ``device`` (without blocking on CUDA), in the layout the model uses.

    >>> to_device(torch.ones(1, 2, 4, 4), torch.device("cpu"), channels_last=True).stride()
    (32, 1, 8, 2)
    """
    tensor = tensor.to(device, non_blocking=device.type == "cuda")
    if channels_last and tensor.ndim == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    return tensor


@contextmanager
def evaluating(model: torch.nn.Module, *, gradients: bool = False) -> Iterator[torch.nn.Module]:
    """Run ``model`` for inference: eval mode, no gradients; its mode is restored afterwards.

    Eval mode turns dropout off and makes batch norm use its running statistics, so a prediction
    does not depend on the rest of the batch. ``gradients=True`` keeps autograd (notebook 06).

    >>> model = torch.nn.Dropout(0.5)
    >>> with evaluating(model):
    ...     print(model.training, torch.is_grad_enabled())
    False False
    >>> model.training
    True
    """
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(not gradients):
            yield model
    finally:
        model.train(was_training)


def is_channels_last(model: torch.nn.Module) -> bool:
    """Whether the 4D weights of ``model`` (its convolutions) are stored channels-last.

    >>> conv = torch.nn.Conv2d(2, 4, 3)
    >>> is_channels_last(conv), is_channels_last(conv.to(memory_format=torch.channels_last))
    (False, True)
    """
    weights = [p for p in model.parameters() if p.ndim == 4]
    # a 1x1 kernel or a single channel is stored the same way in both layouts
    return all(p.is_contiguous(memory_format=torch.channels_last) for p in weights) and any(
        not p.is_contiguous() for p in weights
    )


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (CPU and all GPUs), for notebooks.

    Library functions never rely on global state: they take ``rng``/``seed`` arguments.
    """
    seed = check_int(seed, "seed")
    random.seed(seed)
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002 (the legacy global state notebooks use)
    torch.manual_seed(int(seed))  # also seeds every CUDA device


def describe_device(device: torch.device | str | None = None) -> str:
    """What will compute, and with which software (the device cell, ``bioimage-course info``)."""
    dev = get_device(device)
    lines = [
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
        f"CPU: {os.cpu_count()} logical cores, torch uses {torch.get_num_threads()} threads",
    ]
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        mem_gib = props.total_memory / 2**30
        lines.append(f"Computing on: CUDA GPU {props.name} ({mem_gib:.1f} GiB), mixed precision on")
    elif dev.type == "mps":
        lines.append("Computing on: Apple GPU (MPS), float32")
    else:
        lines.append("Computing on: CPU (no GPU found), float32")
    forced = os.environ.get(ENV_VAR)
    if forced:
        lines.append(f"(forced by {ENV_VAR}={forced})")
    return "\n".join(lines)
