"""Stanford cs231n assignment 3's convolutional GAN pair (after Radford et al., 2016, "DCGAN").

Discriminator: conv 5x5 32 -> LeakyReLU(0.01) -> max-pool 2 -> conv 5x5 64 -> LeakyReLU(0.01) ->
max-pool 2 -> FC 1024 -> LeakyReLU(0.01) -> FC 1 (1,102,721 parameters at 28x28).
Generator: FC 1024 -> ReLU -> BatchNorm -> FC 128 x H/4 x W/4 -> ReLU -> BatchNorm -> transposed conv
4x4 stride 2 to 64 channels -> ReLU -> BatchNorm -> transposed conv 4x4 stride 2 to the image -> tanh
(6,580,801 parameters for noise dimension 4 at 28x28). Other image sizes change only the sizes of the
layers next to the flattening.
"""

from __future__ import annotations

from torch import nn

from litvision.errors import ConfigError
from litvision.nets.gan_base import Discriminator, Generator


class DCGANDiscriminator(Discriminator):
    def __init__(self, image_size: int = 28, channels: int = 1, num_classes: int = 0, slope: float = 0.01) -> None:
        side = ((image_size - 4) // 2 - 4) // 2  # two valid 5x5 convolutions, each followed by a 2x2 pool
        if side < 1:
            raise ConfigError(f"DCGANDiscriminator needs images of at least 16x16 pixels, got {image_size}")
        body = nn.Sequential(
            nn.Conv2d(channels, 32, 5),
            nn.LeakyReLU(slope),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5),
            nn.LeakyReLU(slope),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * side * side, 1024),
            nn.LeakyReLU(slope),
        )
        super().__init__(body, 1024, (channels, image_size, image_size), num_classes)


class DCGANGenerator(Generator):
    def __init__(self, noise_dim: int = 96, image_size: int = 28, channels: int = 1, num_classes: int = 0) -> None:
        if image_size % 4 or image_size < 8:
            raise ConfigError(f"DCGANGenerator makes images whose size is a multiple of 4 (>= 8), got {image_size}")
        side = image_size // 4
        body = nn.Sequential(
            nn.Linear(noise_dim + num_classes, 1024),
            nn.ReLU(),
            nn.BatchNorm1d(1024),
            nn.Linear(1024, 128 * side * side),
            nn.ReLU(),
            nn.BatchNorm1d(128 * side * side),
            nn.Unflatten(1, (128, side, side)),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(64),
            nn.ConvTranspose2d(64, channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )
        super().__init__(body, noise_dim, (channels, image_size, image_size), num_classes)
