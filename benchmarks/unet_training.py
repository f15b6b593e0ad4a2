"""Training throughput of our U-Net against MONAI's BasicUNet at a matched parameter count.

Both networks have four poolings, channels doubling per level from ``base`` to ``16 * base``,
batch normalisation and ReLU, transposed-convolution upsampling; their parameter counts differ
by well under 1 %. Each training step is the same: forward, binary cross-entropy with logits,
backward, Adam, in the memory layout ``fit`` uses (channels-last on CPU and CUDA). Steps of the
two models are interleaved (A, B, A, B, ...) so that a busy machine slows both alike, and the
median time per step is reported.

Run:  python benchmarks/unet_training.py [--base 8] [--size 128] [--batch 8] [--steps 12]
          [--device cpu] [--layout auto|contiguous|channels_last]
Needs MONAI (``pip install monai``); without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from bioimage_course.device import autocast as amp_autocast
from bioimage_course.device import get_device, grad_scaler
from bioimage_course.models import UNet
from bioimage_course.training import prefers_channels_last


def _step_timer(model, x, y, device):
    """A function running one training step and returning its duration in seconds."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = grad_scaler(device)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with amp_autocast(device):
            loss = loss_fn(model(x).float(), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=8, help="channels at full resolution")
    parser.add_argument("--size", type=int, default=128, help="patch height and width")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--layout", choices=("auto", "contiguous", "channels_last"), default="auto",
        help="memory layout of both models (auto: what fit uses on this device)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    try:
        from monai.networks.nets import BasicUNet
    except ImportError:
        print("MONAI is not installed (pip install monai): nothing to compare with.")
        return 0

    device = get_device(args.device)
    torch.manual_seed(0)
    b = args.base
    ours = UNet(1, 1, depth=4, base_channels=b, norm="batch")
    peer = BasicUNet(
        spatial_dims=2,
        in_channels=1,
        out_channels=1,
        features=(b, 2 * b, 4 * b, 8 * b, 16 * b, b),
        norm="batch",
        act="relu",
        upsample="deconv",
    )
    n_ours = ours.n_params
    n_peer = sum(p.numel() for p in peer.parameters())
    x = torch.randn(args.batch, 1, args.size, args.size)
    y = (torch.rand(args.batch, 1, args.size, args.size) > 0.7).float()
    x, y = x.to(device), y.to(device)
    models = {"bioimage_course UNet": ours, "MONAI BasicUNet": peer}
    # Both models get the same memory layout; by default the one fit uses on this device.
    channels_last = (
        prefers_channels_last(device) if args.layout == "auto" else args.layout == "channels_last"
    )
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    timers = {}
    for name, model in models.items():
        model.to(device, memory_format=memory_format).train()
        timers[name] = _step_timer(model, x.contiguous(memory_format=memory_format), y, device)

    print(f"device: {device}, torch threads: {torch.get_num_threads()}, layout: {memory_format}")
    print(f"input: batch {args.batch} x 1 x {args.size} x {args.size}, base channels {b}")
    print(f"parameters: ours {n_ours:,}, MONAI {n_peer:,} ({100 * (n_ours / n_peer - 1):+.2f} %)")
    for _ in range(args.warmup):
        for timer in timers.values():
            timer()
    times = {name: [] for name in timers}
    for _ in range(args.steps):
        for name, timer in timers.items():
            times[name].append(timer())
    throughput = {}
    for name, t in times.items():
        median = statistics.median(t)
        throughput[name] = args.batch / median
        print(
            f"{name:22s} median {median * 1e3:8.1f} ms/step  (min {min(t) * 1e3:7.1f})  "
            f"{throughput[name]:7.1f} images/s"
        )
    ratio = throughput["bioimage_course UNet"] / throughput["MONAI BasicUNet"]
    print(f"throughput ratio ours / MONAI: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
