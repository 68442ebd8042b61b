"""FID as the SDXL reference computes it (text_to_image/tools/fid/, after pytorch-fid).

* features: the 2048-d pool_3 activations of the FID Inception v3 (TF's 2015-12-05 graph ported
  to PyTorch: ``pt_inception-2015-12-05-6726825d.pth``), on images resized to 299 x 299
  (bilinear, align_corners=False) and scaled to [-1, 1] from [0, 1] (ToTensor of the uint8 image);
* statistics: mean and covariance (``np.cov(rowvar=False)``) of the features; the reference
  set's are the registered ``val2014.npz`` (keys ``mu``, ``sigma``);
* distance: the Fréchet distance of two Gaussians,
  ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2))`` (scipy.linalg.sqrtm; when the product is
  singular, eps = 1e-6 is added to both diagonals; a negligible imaginary part is dropped).

The network below is written for this project from the architecture's published description
(Szegedy et al. 2015, with pytorch-fid's FID variants of the A, C and E blocks: average pools
exclude padding, the last E block max-pools); its parameter names follow torchvision's
Inception3, the names the weights file uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fleetbench_harness.errors import HarnessError

DIMS = 2048
EPS = 1e-6


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2) (see module docstring).

    Raises:
        ValueError: shapes differ; a covariance product with a real imaginary part.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"statistics shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}"
        )
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * EPS
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm has an imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of features (N, D), as pytorch-fid (np.cov, rowvar=False)."""
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def load_statistics(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of a pytorch-fid ``.npz``.

    Raises:
        HarnessError: unreadable, or no ``mu``/``sigma``.
    """
    try:
        with np.load(str(path)) as z:
            return np.asarray(z["mu"]), np.asarray(z["sigma"])
    except (OSError, KeyError, ValueError) as exc:
        raise HarnessError(f"{path}: not FID statistics (npz with mu, sigma): {exc}") from None


def _inception_modules():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Conv(nn.Module):
        def __init__(self, cin, cout, **kw):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def avg(x):
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)

    class BlockA(nn.Module):
        def __init__(self, cin, pool):
            super().__init__()
            self.branch1x1 = Conv(cin, 64, kernel_size=1)
            self.branch5x5_1 = Conv(cin, 48, kernel_size=1)
            self.branch5x5_2 = Conv(48, 64, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = Conv(cin, 64, kernel_size=1)
            self.branch3x3dbl_2 = Conv(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = Conv(96, 96, kernel_size=3, padding=1)
            self.branch_pool = Conv(cin, pool, kernel_size=1)

        def forward(self, x):
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(avg(x))], 1)

    class BlockB(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3 = Conv(cin, 384, kernel_size=3, stride=2)
            self.branch3x3dbl_1 = Conv(cin, 64, kernel_size=1)
            self.branch3x3dbl_2 = Conv(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = Conv(96, 96, kernel_size=3, stride=2)

        def forward(self, x):
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)

    class BlockC(nn.Module):
        def __init__(self, cin, c7):
            super().__init__()
            self.branch1x1 = Conv(cin, 192, kernel_size=1)
            self.branch7x7_1 = Conv(cin, c7, kernel_size=1)
            self.branch7x7_2 = Conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7_3 = Conv(c7, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_1 = Conv(cin, c7, kernel_size=1)
            self.branch7x7dbl_2 = Conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_3 = Conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7dbl_4 = Conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_5 = Conv(c7, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch_pool = Conv(cin, 192, kernel_size=1)

        def forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = self.branch7x7dbl_1(x)
            for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
                d = layer(d)
            return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(avg(x))], 1)

    class BlockD(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.branch3x3_1 = Conv(cin, 192, kernel_size=1)
            self.branch3x3_2 = Conv(192, 320, kernel_size=3, stride=2)
            self.branch7x7x3_1 = Conv(cin, 192, kernel_size=1)
            self.branch7x7x3_2 = Conv(192, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7x3_3 = Conv(192, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7x3_4 = Conv(192, 192, kernel_size=3, stride=2)

        def forward(self, x):
            b3 = self.branch3x3_2(self.branch3x3_1(x))
            b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
            return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)

    class BlockE(nn.Module):
        def __init__(self, cin, max_pool):
            super().__init__()
            self.max_pool = max_pool
            self.branch1x1 = Conv(cin, 320, kernel_size=1)
            self.branch3x3_1 = Conv(cin, 384, kernel_size=1)
            self.branch3x3_2a = Conv(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3_2b = Conv(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = Conv(cin, 448, kernel_size=1)
            self.branch3x3dbl_2 = Conv(448, 384, kernel_size=3, padding=1)
            self.branch3x3dbl_3a = Conv(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = Conv(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch_pool = Conv(cin, 192, kernel_size=1)

        def forward(self, x):
            s = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
            pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else avg(x)
            return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)

    class FIDInception(nn.Module):
        """Input: float (N, 3, H, W) in [0, 1]; output: pool_3 features (N, 2048)."""

        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = Conv(3, 32, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = Conv(32, 32, kernel_size=3)
            self.Conv2d_2b_3x3 = Conv(32, 64, kernel_size=3, padding=1)
            self.Conv2d_3b_1x1 = Conv(64, 80, kernel_size=1)
            self.Conv2d_4a_3x3 = Conv(80, 192, kernel_size=3)
            self.Mixed_5b = BlockA(192, 32)
            self.Mixed_5c = BlockA(256, 64)
            self.Mixed_5d = BlockA(288, 64)
            self.Mixed_6a = BlockB(288)
            self.Mixed_6b = BlockC(768, 128)
            self.Mixed_6c = BlockC(768, 160)
            self.Mixed_6d = BlockC(768, 160)
            self.Mixed_6e = BlockC(768, 192)
            self.Mixed_7a = BlockD(768)
            self.Mixed_7b = BlockE(1280, max_pool=False)
            self.Mixed_7c = BlockE(2048, max_pool=True)
            self.fc = nn.Linear(2048, 1008)  # in the weights file; unused for pool_3

        def forward(self, x):
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            x = 2 * x - 1
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = F.max_pool2d(x, 3, stride=2)
            x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
            for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
                x = getattr(self, f"Mixed_{name}")(x)
            return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    return FIDInception


def inception(weights: str | Path | None, device: str = "cpu") -> Any:
    """The FID Inception network, eval mode, with ``weights`` (strict names/shapes), or random when None.

    Raises:
        HarnessError: a weights file whose names or shapes do not match.
    """
    import torch

    net = _inception_modules()()
    if weights is not None:
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise HarnessError(f"{weights}: not the FID Inception weights: {str(exc)[:400]}") from None
    return net.eval().to(device)


def features(net: Any, images: list[np.ndarray], device: str = "cpu", batch: int = 16) -> np.ndarray:
    """pool_3 features (N, 2048) of uint8 (H, W, 3) images (ToTensor scaling: / 255)."""
    import torch

    out = np.empty((len(images), DIMS), np.float64)
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            chunk = np.stack(images[i : i + batch]).astype(np.float32) / 255.0
            x = torch.from_numpy(chunk).permute(0, 3, 1, 2).to(device)
            out[i : i + len(chunk)] = net(x).double().cpu().numpy()
    return out
