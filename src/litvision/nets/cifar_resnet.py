"""The CIFAR-style ResNet-18 that Dive into Deep Learning, ch. 13.1 trains (d2l.resnet18): a 3x3 stride-1
stem without max-pool, four stages of two residual blocks (64, 128, 256, 512 channels), global average
pool, linear head; Xavier init of every conv and linear weight as in d2l's `init_weights`."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from litvision.nets.normalization import InputNormalization


class Residual(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.conv3(x) if self.conv3 is not None else x))


def _stage(in_channels: int, out_channels: int, first: bool) -> nn.Sequential:
    downsample = not first
    return nn.Sequential(
        Residual(in_channels, out_channels, use_1x1conv=downsample, stride=2 if downsample else 1),
        Residual(out_channels, out_channels),
    )


def cifar_resnet18(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """Takes uint8 images (or float in [0, 1]) and feeds the layers [0, 1] pixels, as d2l does."""
    net = nn.Sequential(
        InputNormalization([0.0] * in_channels, [1.0] * in_channels),
        nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1), nn.BatchNorm2d(64), nn.ReLU()),
        _stage(64, 64, first=True),
        _stage(64, 128, first=False),
        _stage(128, 256, first=False),
        _stage(256, 512, first=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(512, num_classes),
    )
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net
