"""A small CNN for 28x28-class grey images (digits, MNIST, Fashion-MNIST): the classifier whose
penultimate features measure GAN samples offline (FID/KID in place of Inception features) and whose
predictions show mode collapse. Takes pixels as the data modules deliver them (uint8 0..255 or float
in [0, 1]) and normalises them itself, to [-1, 1]."""

from __future__ import annotations

from torch import Tensor, nn

from litvision.nets.normalization import InputNormalization


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class DigitClassifier(nn.Module):
    """Two conv blocks (`widths` channels, each halving the size), global average pooling, a linear
    layer to `feature_dim` features (ReLU) and the class head. `features(x)` is the (B, feature_dim)
    layer before the head."""

    def __init__(
        self, num_classes: int = 10, channels: int = 1, feature_dim: int = 64, widths: tuple[int, int] = (32, 64)
    ) -> None:
        super().__init__()
        first, second = widths
        self.input_normalization = InputNormalization([0.5] * channels, [0.5] * channels)
        self.trunk = nn.Sequential(
            _block(channels, first), _block(first, second), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.embed = nn.Sequential(nn.Linear(second, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)
        self.num_features = feature_dim
        self.num_classes = num_classes

    def features(self, images: Tensor) -> Tensor:
        return self.embed(self.trunk(self.input_normalization(images)))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))
