"""The U-Net: an encoder-decoder convolutional network with skip connections.

Introduced in notebook 05 (U-Net training).

The encoder (contracting path) repeats *two 3x3 convolutions, then 2x2 max pooling*: each level
halves the image size and doubles the number of feature channels, so deeper levels see a larger
part of the image in less detail. The bottleneck is the deepest level. The decoder (expanding
path) upsamples back, level by level, and concatenates the encoder's features of the same
resolution (the *skip connection*, which brings back the fine detail lost by pooling) before two
more 3x3 convolutions. A final 1x1 convolution (the *head*) maps the features to one score per
pixel and class.

::

    input ─ encoder[0] ─────────────────────────── skip ──────────── decoder[0] ─ head ─ output
                 └ pools[0] ─ encoder[1] ────────── skip ─── decoder[1] ┘ upsamples[0]
                                  └ pools[1] ─ ... bottleneck ─ ... ┘ upsamples[1]

All convolutions use "same" padding, so the output has the input's height and width as long as
both are divisible by ``2**depth`` (each pooling halves them). :func:`pad_to_multiple` pads an
image that is not, and returns the slices that crop the prediction back.

Examples
--------
>>> model = UNet(depth=2, base_channels=4)
>>> model(torch.zeros(1, 1, 32, 32)).shape
torch.Size([1, 1, 32, 32])
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ._validate import check_choice, check_in_range, check_int, is_int

NORMS = ("batch", "group", "none")
UPSAMPLINGS = ("transposed", "interpolation")


def _norm_layer(norm: str, channels: int) -> nn.Module:
    """Return the normalisation layer named by ``norm`` for ``channels`` feature maps."""
    check_choice(norm, "norm", NORMS)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        # 8 groups (or fewer, so that the groups divide the channels evenly).
        return nn.GroupNorm(math.gcd(8, channels), channels)
    return nn.Identity()


def conv_block(
    in_channels: int, out_channels: int, *, norm: str = "batch", dropout: float = 0.0
) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by normalisation and ReLU: one U-Net level.

    Parameters
    ----------
    in_channels, out_channels : int
        Feature channels entering and leaving the block.
    norm : {"batch", "group", "none"}
        Normalisation after each convolution. With a normalisation the convolutions have no
        bias (the normalisation's own shift replaces it).
    dropout : float
        Probability of zeroing whole feature maps (``nn.Dropout2d``) at the end of the block
        while training; ``0`` leaves the layer out.

    Returns
    -------
    torch.nn.Sequential
        ``Conv2d, norm, ReLU, Conv2d, norm, ReLU[, Dropout2d]`` (``norm="none"`` gives
        ``nn.Identity`` in the norm positions, so layer positions do not depend on ``norm``).

    Examples
    --------
    >>> block = conv_block(1, 8, norm="none")
    >>> [type(layer).__name__ for layer in block]
    ['Conv2d', 'Identity', 'ReLU', 'Conv2d', 'Identity', 'ReLU']
    """
    bias = norm == "none"
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias),
        _norm_layer(norm, out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=bias),
        _norm_layer(norm, out_channels),
        nn.ReLU(inplace=True),
    ]
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


def upsample_block(in_channels: int, out_channels: int, *, upsampling: str) -> nn.Module:
    """Double the height and width and change the number of channels.

    ``"transposed"``: a learned 2x2 transposed convolution with stride 2 (the "up-convolution"
    of the U-Net paper). ``"interpolation"``: bilinear interpolation followed by a 1x1
    convolution; it has fewer parameters and cannot produce checkerboard artefacts.

    Examples
    --------
    >>> up = upsample_block(8, 4, upsampling="interpolation")
    >>> up(torch.zeros(1, 8, 5, 5)).shape
    torch.Size([1, 4, 10, 10])
    """
    if upsampling == "transposed":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(in_channels, out_channels, kernel_size=1),
    )


class UNet(nn.Module):
    """A 2D U-Net for image-to-image tasks such as segmentation.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (1 for a single fluorescence channel).
    out_channels : int
        Output channels: 1 for binary segmentation (foreground score), ``n`` for ``n`` classes.
    depth : int
        Number of poolings (levels below full resolution). Height and width of the input must
        be divisible by ``2**depth``.
    base_channels : int
        Feature channels at full resolution; level ``i`` has ``base_channels * 2**i``.
    norm : {"batch", "group", "none"}
        Normalisation after each convolution.
    dropout : float
        Channel dropout probability at the end of each convolution block (0 = none).
    upsampling : {"transposed", "interpolation"}
        How the decoder doubles the resolution (see :func:`upsample_block`).

    Attributes
    ----------
    encoder : nn.ModuleList of nn.Sequential
        ``encoder[i]`` is the convolution block of level ``i`` (resolution ``1 / 2**i``),
        ``in -> base_channels * 2**i`` channels. See :func:`conv_block`.
    pools : nn.ModuleList of nn.MaxPool2d
        ``pools[i]`` halves the output of ``encoder[i]`` (2x2 max pooling, stride 2).
    bottleneck : nn.Sequential
        The convolution block at the deepest level ``depth`` (``base_channels * 2**depth``).
    upsamples : nn.ModuleList
        ``upsamples[i]`` takes level ``i + 1`` to level ``i`` (doubles height and width,
        ``base_channels * 2**(i+1) -> base_channels * 2**i`` channels).
    decoder : nn.ModuleList of nn.Sequential
        ``decoder[i]`` is the convolution block of level ``i`` on the way up; its input is the
        skip connection from ``encoder[i]`` concatenated with ``upsamples[i]``'s output
        (``2 * base_channels * 2**i`` channels, skip first).
    head : nn.Conv2d
        1x1 convolution to ``out_channels``.

    All four lists are indexed by level, and the forward pass visits them in the order
    ``encoder[0], pools[0], ..., encoder[depth-1], pools[depth-1], bottleneck,
    upsamples[depth-1], decoder[depth-1], ..., upsamples[0], decoder[0], head``.

    Notes
    -----
    The output is *logits* (unbounded scores), not probabilities: apply ``torch.sigmoid`` (one
    channel) or ``torch.softmax`` (several) to get probabilities. Losses such as
    ``BCEWithLogitsLoss`` take logits directly, which is numerically more stable.

    Convolutions are initialised with He (Kaiming) normal initialisation, suited to ReLU.

    References: O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional networks for
    biomedical image segmentation", MICCAI 2015. Unlike the paper, convolutions here are padded
    ("same"), so the output is as large as the input.

    Examples
    --------
    >>> model = UNet(depth=2, base_channels=8)
    >>> model.n_params
    29481
    >>> x = torch.zeros(2, 1, 64, 64)
    >>> model(x).shape
    torch.Size([2, 1, 64, 64])
    >>> print(model.summary((1, 64, 64)))
    stage         channels   height x width   params
    input                1          64 x 64        0
    encoder[0]           8          64 x 64      680
    pools[0]             8          32 x 32        0
    encoder[1]          16          32 x 32    3,520
    pools[1]            16          16 x 16        0
    bottleneck          32          16 x 16   13,952
    upsamples[1]        16          32 x 32    2,064
    decoder[1]          16          32 x 32    6,976
    upsamples[0]         8          64 x 64      520
    decoder[0]           8          64 x 64    1,760
    head                 1          64 x 64        9
    total parameters: 29,481
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        depth: int = 3,
        base_channels: int = 16,
        norm: str = "batch",
        dropout: float = 0.0,
        upsampling: str = "transposed",
    ) -> None:
        super().__init__()
        for name, value, low in [
            ("in_channels", in_channels, 1),
            ("out_channels", out_channels, 1),
            ("depth", depth, 0),
            ("base_channels", base_channels, 1),
        ]:
            check_int(value, name, low)
        check_choice(norm, "norm", NORMS)
        check_choice(upsampling, "upsampling", UPSAMPLINGS)
        check_in_range(dropout, "dropout", 0, 1, high_inclusive=False)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.depth = depth
        self.base_channels = base_channels
        self.norm = norm
        self.dropout = float(dropout)
        self.upsampling = upsampling

        channels = [base_channels * 2**level for level in range(depth + 1)]
        block_options = {"norm": norm, "dropout": self.dropout}

        self.encoder = nn.ModuleList()
        self.pools = nn.ModuleList()
        previous = in_channels
        for level in range(depth):
            self.encoder.append(conv_block(previous, channels[level], **block_options))
            self.pools.append(nn.MaxPool2d(kernel_size=2, stride=2))
            previous = channels[level]

        self.bottleneck = conv_block(previous, channels[depth], **block_options)

        self.upsamples = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in range(depth):
            self.upsamples.append(
                upsample_block(channels[level + 1], channels[level], upsampling=upsampling)
            )
            self.decoder.append(conv_block(2 * channels[level], channels[level], **block_options))

        self.head = nn.Conv2d(channels[0], out_channels, kernel_size=1)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and module is not self.head:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    # -- the forward pass: read it next to the diagram in the module docstring ------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits for a batch ``x`` of shape (N, in_channels, H, W)."""
        self._check_input(x)
        skips = []
        for level in range(self.depth):  # contracting path
            x = self.encoder[level](x)
            skips.append(x)  # remembered for the skip connection
            x = self.pools[level](x)

        x = self.bottleneck(x)

        for level in reversed(range(self.depth)):  # expanding path
            x = self.upsamples[level](x)
            x = torch.cat([skips[level], x], dim=1)  # skip connection
            x = self.decoder[level](x)

        return self.head(x)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(
                f"`x` must be a 4D tensor (batch, channels, height, width), got shape "
                f"{tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"`x` must have {self.in_channels} channel(s) (dimension 1), got shape "
                f"{tuple(x.shape)}"
            )
        multiple = 2**self.depth
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise ValueError(
                f"`x` height and width must be divisible by 2**depth = {multiple}, got "
                f"{tuple(x.shape[-2:])}; pad it with bioimage_course.models.pad_to_multiple"
            )

    # -- introspection ------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments: ``UNet(**model.config)`` builds the same architecture."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "depth": self.depth,
            "base_channels": self.base_channels,
            "norm": self.norm,
            "dropout": self.dropout,
            "upsampling": self.upsampling,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> UNet:
        """Build a fresh (untrained) model from :attr:`config`.

        >>> UNet.from_config(UNet(depth=1, base_channels=2).config).depth
        1
        """
        return cls(**config)

    def stages(self) -> list[tuple[str, nn.Module, int, int]]:
        """The stages of the forward pass in order: ``(name, module, channels_out, level)``.

        ``level`` is the resolution level *after* the stage (size ``1 / 2**level`` of the
        input). The ``input`` stage is not included.
        """
        out = []
        for level in range(self.depth):
            channels = self.base_channels * 2**level
            out.append((f"encoder[{level}]", self.encoder[level], channels, level))
            out.append((f"pools[{level}]", self.pools[level], channels, level + 1))
        out.append(("bottleneck", self.bottleneck, self.base_channels * 2**self.depth, self.depth))
        for level in reversed(range(self.depth)):
            channels = self.base_channels * 2**level
            out.append((f"upsamples[{level}]", self.upsamples[level], channels, level))
            out.append((f"decoder[{level}]", self.decoder[level], channels, level))
        out.append(("head", self.head, self.out_channels, 0))
        return out

    def summary(self, input_shape: tuple[int, int, int] = (1, 256, 256)) -> str:
        """A table of the stages: output channels, spatial size and parameters of each.

        Parameters
        ----------
        input_shape : tuple of int
            ``(channels, height, width)`` of one input image; height and width must be
            divisible by ``2**depth``.

        Returns
        -------
        str
            One line per stage and the total number of parameters; ``print`` it.
        """
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape` must be (channels, height, width), got {tuple(input_shape)}"
            )
        channels, height, width = (int(s) for s in input_shape)
        self._check_input(torch.empty(1, channels, height, width, device="meta"))

        def params(module: nn.Module) -> int:
            return sum(p.numel() for p in module.parameters() if p.requires_grad)

        rows = [("input", channels, f"{height} x {width}", 0)]
        for name, module, out_channels, level in self.stages():
            size = f"{height // 2**level} x {width // 2**level}"
            rows.append((name, out_channels, size, params(module)))
        lines = [f"{'stage':<12} {'channels':>9} {'height x width':>16} {'params':>8}"]
        for name, ch, size, n in rows:
            lines.append(f"{name:<12} {ch:>9} {size:>16} {n:>8,}")
        lines.append(f"total parameters: {self.n_params:,}")
        return "\n".join(lines)


def plot_unet(model: UNet, *, input_size: int = 256, ax=None):
    """Draw the U-shape of ``model``: one box per convolution block, arrows between them.

    Encoder blocks go down the left side, decoder blocks come up the right side, the
    bottleneck sits at the bottom; red arrows are 2x2 max pooling, green arrows upsampling,
    grey dashed arrows the skip connections. Each box is labelled with its number of feature
    channels and its spatial size for an input of ``input_size`` pixels.

    Parameters
    ----------
    model : UNet
        The network to draw.
    input_size : int
        Height (= width) of the input, for the size labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure otherwise.

    Examples
    --------
    >>> ax = plot_unet(UNet(depth=2, base_channels=8), input_size=64)
    >>> ax.get_title()
    'U-Net, depth 2: 29,481 parameters'
    >>> [t.get_text().split()[0] for t in ax.texts if t.get_text().endswith("x64")]
    ['8', '8']
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    if not isinstance(model, UNet):
        raise TypeError(f"`model` must be a UNet, got {type(model).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * model.depth + 4, 1.1 * model.depth + 2.6))
    depth = model.depth
    width, height = 1.3, 0.55

    def box(x, level, channels, color):
        y = -1.1 * level
        ax.add_patch(Rectangle((x - width / 2, y - height / 2), width, height, fc=color, ec="k"))
        size = input_size // 2**level
        ax.text(x, y, f"{channels} ch\n{size}x{size}", ha="center", va="center", fontsize=8)
        return x, y

    def arrow(start, end, color, style="-|>", ls="-"):
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle=style, color=color, ls=ls, mutation_scale=10)
        )

    enc, dec = {}, {}
    for level in range(depth):
        enc[level] = box(1.0 * level, level, model.base_channels * 2**level, "#9ecae1")
    bottom = box(1.0 * depth, depth, model.base_channels * 2**depth, "#fdd0a2")
    for level in range(depth):
        dec[level] = box(2.0 * depth - level, level, model.base_channels * 2**level, "#a1d99b")
    for level in range(depth):
        below = enc[level + 1] if level + 1 < depth else bottom
        arrow((enc[level][0], enc[level][1] - height / 2), (below[0], below[1] + height / 2),
              "#d62728")  # fmt: skip
        above = dec[level + 1] if level + 1 < depth else bottom
        arrow((above[0], above[1] + height / 2), (dec[level][0], dec[level][1] - height / 2),
              "#2ca02c")  # fmt: skip
        arrow((enc[level][0] + width / 2, enc[level][1]),
              (dec[level][0] - width / 2, dec[level][1]), "0.5", ls="--")  # fmt: skip
    text_options = {"textcoords": "offset points", "va": "center"}
    ax.annotate("input", (enc[0][0] - width / 2, enc[0][1]), xytext=(-45, 0), ha="right",
                arrowprops={"arrowstyle": "-|>"}, **text_options)  # fmt: skip
    ax.annotate(f"head\n{model.out_channels} ch", (dec[0][0] + width / 2, dec[0][1]),
                xytext=(30, 0), ha="left", arrowprops={"arrowstyle": "<|-"},
                **text_options)  # fmt: skip
    ax.text(enc[0][0], 0.55, "encoder", ha="center", fontsize=9, style="italic")
    ax.text(dec[0][0], 0.55, "decoder", ha="center", fontsize=9, style="italic")
    ax.text(bottom[0], bottom[1] - 0.45, "bottleneck", ha="center", va="top", fontsize=9,
            style="italic")  # fmt: skip
    ax.plot([], [], color="#d62728", label="max pooling 2x2")
    ax.plot([], [], color="#2ca02c", label=f"upsampling ({model.upsampling})")
    ax.plot([], [], color="0.5", ls="--", label="skip connection (concatenate)")
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_xlim(-1.6, 2.0 * depth + 1.6)
    ax.set_ylim(-1.1 * depth - 0.8, 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"U-Net, depth {depth}: {model.n_params:,} parameters")
    return ax


def pad_to_multiple(
    x: torch.Tensor, multiple: int, *, mode: str = "reflect"
) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """Pad the last two dimensions of ``x`` up to a multiple of ``multiple``.

    Parameters
    ----------
    x : torch.Tensor
        Tensor of shape (..., H, W); a batch (N, C, H, W) for a model.
    multiple : int
        Height and width are padded (at the bottom and right) to the next multiple of this,
        e.g. ``2**model.depth``.
    mode : {"reflect", "replicate", "constant"}
        How the border is filled (``"constant"`` fills zeros). Reflection needs the pad to
        be smaller than the image; it falls back to ``"replicate"`` for tiny images.

    Returns
    -------
    padded : torch.Tensor
        The padded tensor (``x`` itself if no padding is needed).
    crop : tuple of slice
        ``output[..., crop[0], crop[1]]`` recovers the original height and width.

    Examples
    --------
    >>> padded, crop = pad_to_multiple(torch.zeros(1, 1, 30, 33), 8)
    >>> padded.shape, padded[..., crop[0], crop[1]].shape
    (torch.Size([1, 1, 32, 40]), torch.Size([1, 1, 30, 33]))
    """
    check_choice(mode, "mode", ("reflect", "replicate", "constant"))
    check_int(multiple, "multiple", 1)
    height, width = x.shape[-2:]
    pad_h = -height % multiple
    pad_w = -width % multiple
    crop = (slice(0, height), slice(0, width))
    if pad_h == 0 and pad_w == 0:
        return x, crop
    if mode == "reflect" and (pad_h >= height or pad_w >= width):
        mode = "replicate"
    batched = x if x.ndim >= 4 else x.reshape(1, -1, height, width)
    padded = nn.functional.pad(batched, (0, pad_w, 0, pad_h), mode=mode)
    return padded.reshape(*x.shape[:-2], height + pad_h, width + pad_w), crop


def input_channels(model: nn.Module) -> int:
    """How many channels the images given to ``model`` must have.

    A model's own ``in_channels`` if it says so, else that of its first convolution.

    >>> input_channels(UNet(in_channels=2, depth=1, base_channels=2))
    2
    >>> input_channels(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 1, 1)))
    3
    """
    value = getattr(model, "in_channels", None)
    if is_int(value):
        return int(value)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            return module.in_channels
    return 1
