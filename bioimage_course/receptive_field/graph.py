"""A network as a graph of index maps along one axis: layers, chains and skip connections.

Introduced in notebook 06 (receptive field). A layer (:class:`Op`), layers one after the other
(:class:`Chain`) or branches whose outputs are concatenated (:class:`Concat`, the skip
connection): all the layers handled here act separably on rows and columns, so the bounding
box of a 2D receptive field is the product of two 1D ones.

Examples
--------
>>> from torch import nn
>>> layer_graph(nn.Conv2d(1, 1, 3, padding=1), axis=0)
Op(kind='conv', kernel=3, stride=1, padding=1, dilation=1, name='')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..models import UNet

POINTWISE_LAYERS = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Dropout,
    nn.Dropout2d,
    nn.AlphaDropout,
    nn.BatchNorm2d,
    nn.GroupNorm,
    nn.InstanceNorm2d,
)
"""Layers that map each pixel to itself (activations, normalisation, dropout)."""


SUPPORTED = (
    "Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, Upsample (nearest, nearest-exact, "
    "bilinear without align_corners), nn.Sequential, bioimage_course.models.UNet and pointwise "
    "layers (activations, normalisation, dropout)"
)


@dataclass(frozen=True)
class Op:
    """One layer along one axis: ``kind`` in conv, transposed, nearest, nearest-exact, linear."""

    kind: str
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    name: str = ""


@dataclass(frozen=True)
class Chain:
    items: tuple


@dataclass(frozen=True)
class Concat:
    branches: tuple


def _along(value: Any, axis: int) -> int:
    if isinstance(value, (tuple, list)):
        return int(value[axis])
    return int(value)


def _unsupported(name: str, module: nn.Module, why: str = "") -> TypeError:
    label = f"`{name}`" if name else "the model itself"
    extra = f" ({why})" if why else ""
    return TypeError(
        f"cannot compute the receptive field of layer {label} ({type(module).__name__}){extra}; "
        f"supported: {SUPPORTED}"
    )


def _layer_op(module: nn.Module, name: str, axis: int) -> Op | None:
    """The index map of one layer along ``axis``; ``None`` for pointwise layers."""
    if isinstance(module, POINTWISE_LAYERS):
        return None
    if isinstance(module, nn.Conv2d):
        kernel = _along(module.kernel_size, axis)
        dilation = _along(module.dilation, axis)
        if module.padding == "same":
            padding = dilation * (kernel - 1) // 2
        elif module.padding == "valid":
            padding = 0
        else:
            padding = _along(module.padding, axis)
        stride = _along(module.stride, axis)
        return Op("conv", kernel, stride, padding, dilation, name)
    if isinstance(module, nn.ConvTranspose2d):
        return Op(
            "transposed",
            _along(module.kernel_size, axis),
            _along(module.stride, axis),
            _along(module.padding, axis),
            _along(module.dilation, axis),
            name,
        )
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kernel = _along(module.kernel_size, axis)
        stride = module.stride if module.stride is not None else module.kernel_size
        dilation = getattr(module, "dilation", 1)
        return Op(
            "conv",
            kernel,
            _along(stride, axis),
            _along(module.padding, axis),
            _along(dilation, axis),
            name,
        )
    if isinstance(module, nn.Upsample):
        if module.size is not None or module.scale_factor is None:
            raise _unsupported(name, module, "an output `size` instead of a `scale_factor`")
        scale = module.scale_factor
        if isinstance(scale, (tuple, list)):
            scale = scale[axis]
        if float(scale) != int(scale) or int(scale) < 1:
            raise _unsupported(name, module, f"non-integer scale factor {module.scale_factor}")
        scale = int(scale)
        if module.mode in ("nearest", "nearest-exact"):
            return Op(module.mode, scale, scale, 0, 1, name)
        if module.mode in ("bilinear", "linear") and not module.align_corners:
            return Op("linear", scale, scale, 0, 1, name)
        raise _unsupported(
            name, module, f"mode={module.mode!r}, align_corners={module.align_corners}"
        )
    raise _unsupported(name, module)


def layer_graph(model: nn.Module, axis: int, name: str = "") -> Op | Chain | Concat | None:
    """Reduce ``model`` to the index-map graph along ``axis``."""

    def child(prefix: str, key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    if isinstance(model, UNet):
        level = layer_graph(model.bottleneck, axis, child(name, "bottleneck"))
        for i in reversed(range(model.depth)):
            deeper = Chain(
                (
                    layer_graph(model.pools[i], axis, child(name, f"pools.{i}")),
                    level,
                    layer_graph(model.upsamples[i], axis, child(name, f"upsamples.{i}")),
                )
            )
            level = Chain(
                (
                    layer_graph(model.encoder[i], axis, child(name, f"encoder.{i}")),
                    Concat((Chain(()), deeper)),  # skip connection beside the deeper path
                    layer_graph(model.decoder[i], axis, child(name, f"decoder.{i}")),
                )
            )
        return Chain((level, layer_graph(model.head, axis, child(name, "head"))))
    if isinstance(model, nn.Sequential):
        # not named_children(): it skips a layer object used twice, the forward pass does not
        items = model._modules.items()
        return Chain(tuple(layer_graph(m, axis, child(name, k)) for k, m in items))
    if list(model.children()) and not isinstance(model, POINTWISE_LAYERS):
        raise _unsupported(
            name,
            model,
            "a custom module: its forward pass may branch, so its layers alone do "
            "not determine how it connects pixels",
        )
    return _layer_op(model, name, axis)
