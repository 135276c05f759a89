"""Stanford cs231n assignment 3's fully connected GAN: discriminator 784 -> 256 -> LeakyReLU(0.01) ->
256 -> LeakyReLU(0.01) -> 1 (267,009 parameters at 28x28), generator noise -> 1024 -> ReLU -> 1024 ->
ReLU -> 784 -> tanh (1,858,320 parameters for noise dimension 4)."""

from __future__ import annotations

from torch import nn

from litvision.nets.gan_base import Discriminator, Generator


class MLPDiscriminator(Discriminator):
    def __init__(
        self, image_size: int = 28, channels: int = 1, num_classes: int = 0, hidden: int = 256, slope: float = 0.01
    ) -> None:
        body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * image_size * image_size, hidden),
            nn.LeakyReLU(slope),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(slope),
        )
        super().__init__(body, hidden, (channels, image_size, image_size), num_classes)


class MLPGenerator(Generator):
    def __init__(
        self, noise_dim: int = 96, image_size: int = 28, channels: int = 1, num_classes: int = 0, hidden: int = 1024
    ) -> None:
        body = nn.Sequential(
            nn.Linear(noise_dim + num_classes, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels * image_size * image_size),
            nn.Tanh(),
        )
        super().__init__(body, noise_dim, (channels, image_size, image_size), num_classes)
