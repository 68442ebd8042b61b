"""The 3D-UNet of MLPerf Inference 3d-unet-kits19 (torch imported here only).

Layout and parameter names follow the reference ``pytorch_checkpoint_SUT.py`` (MLPerf Training
image_segmentation), so ``3dunet_kits19_pytorch_checkpoint.pth`` (``best_model_state_dict``) loads
strictly: ``input_block.conv{1,2}.{0,1}``, ``downsample.<i>.conv{1,2}``, ``bottleneck``,
``upsample.<i>.upsample_conv.0`` (ConvTranspose3d k2 s2 with bias), ``upsample.<i>.conv{1,2}``,
``output.conv.0`` (1x1x1 with bias). Conv3d 3x3x3 without bias + InstanceNorm3d(affine) + ReLU.
Filters ``[32, 64, 128, 256, 320]``; the stand-in ``tiny-unet3d`` uses the registry's
``filters`` (``[4, 8]``). Input ``(N, 1, 128, 128, 128)`` float32, output ``(N, 3, 128, 128, 128)``
logits. The ROI edge must be divisible by ``2 ** len(filters)``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from torch import nn

REFERENCE_FILTERS = (32, 64, 128, 256, 320)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.InstanceNorm3d(cout, affine=True),
        nn.ReLU(),
    )


class _Pair(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = _conv(cin, cout, stride)
        self.conv2 = _conv(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.upsample_conv = nn.Sequential(nn.ConvTranspose3d(cin, cout, 2, stride=2, bias=True))
        self.conv1 = _conv(2 * cout, cout)
        self.conv2 = _conv(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat((self.upsample_conv(x), skip), dim=1)
        return self.conv2(self.conv1(x))


class _Output(nn.Module):
    def __init__(self, cin: int, classes: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv3d(cin, classes, 1, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Unet3D(nn.Module):
    """3D-UNet: ``filters`` per level (last = bottleneck width), 1 input channel, ``classes`` logits."""

    def __init__(self, filters: tuple[int, ...] = REFERENCE_FILTERS, in_channels: int = 1, classes: int = 3):
        super().__init__()
        f = list(filters)
        self.input_block = _Pair(in_channels, f[0], 1)
        self.downsample = nn.ModuleList([_Pair(i, o, 2) for i, o in itertools.pairwise(f)])
        self.bottleneck = _Pair(f[-1], f[-1], 2)
        ups = [_Up(f[-1], f[-1])] + [
            _Up(i, o) for i, o in zip(reversed(f[1:]), reversed(f[:-1]), strict=True)
        ]
        self.upsample = nn.ModuleList(ups)
        self.output = _Output(f[0], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_block(x)
        skips = [x]
        for down in self.downsample:
            x = down(x)
            skips.append(x)
        x = self.bottleneck(x)
        for up, skip in zip(self.upsample, reversed(skips), strict=True):
            x = up(x, skip)
        return self.output(x)


def load_checkpoint(path: str | Path, filters: tuple[int, ...] = REFERENCE_FILTERS) -> nn.Module:
    """``Unet3D`` with the weights of a checkpoint (``{"best_model_state_dict": ...}`` or a bare
    state dict), strict, in eval mode.

    Raises:
        ValueError: the file holds no state dict, or its names/shapes do not fit (names what).
    """
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    state = obj.get("best_model_state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds no state dict (expected best_model_state_dict)")
    model = Unet3D(tuple(filters))
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    bad = [k for k in want if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    if missing or extra or bad:
        raise ValueError(
            f"{path} does not fit the 3D-UNet (filters {list(filters)}): "
            f"missing {missing[:4]}, unexpected {extra[:4]}, wrong shape {bad[:4]}"
        )
    model.load_state_dict(state, strict=True)
    return model.eval()


def build_random(filters: tuple[int, ...], seed: int) -> nn.Module:
    """A seeded random-weight ``Unet3D`` (the stand-in), eval mode."""
    gen = torch.Generator().manual_seed(int(seed))
    model = Unet3D(tuple(filters))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model.eval()


def export_onnx(model: nn.Module, dest: str | Path, roi: tuple[int, int, int]) -> None:
    """ONNX export with a symbolic batch (input ``input`` (N, 1, *roi), output ``output``)."""
    import warnings

    x = torch.zeros((1, 1, *roi), dtype=torch.float32)
    with warnings.catch_warnings():
        # InstanceNorm always normalises with the input's statistics; the exporter's train=True
        # note is about that and changes nothing in eval mode.
        warnings.simplefilter("ignore", UserWarning)
        _export(model, x, dest)


def _export(model: nn.Module, x: torch.Tensor, dest: str | Path) -> None:
    torch.onnx.export(
        model,
        (x,),
        str(dest),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
