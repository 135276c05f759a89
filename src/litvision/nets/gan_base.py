"""What every GAN generator and discriminator here shares: the sizes they check, and the class
conditioning of the conditional variant.

Images are (B, C, H, W) in [-1, 1] on both sides (the generator ends in tanh); mapping pixels to and
from that range is the task's job. Conditioning (num_classes > 0): the generator reads its class as a
one-hot vector appended to the noise (Mirza & Osindero, 2014, "Conditional GANs"); the discriminator
adds a projection of a class embedding onto its penultimate features to its score (Miyato & Koyama,
2018, "cGANs with Projection Discriminator"). With num_classes = 0 both are unconditional and have
exactly the parameters of Stanford cs231n assignment 3's nets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litvision.errors import ConfigError


def _check_labels(labels: Tensor | None, num_classes: int, batch: int, who: str) -> None:
    if num_classes and (labels is None or labels.shape != (batch,)):
        raise ValueError(f"the conditional {who} needs one class label per sample ({batch}), got {labels!r:.60}")


class Generator(nn.Module):
    """`body` maps noise (plus the one-hot class when conditional) to C*H*W values in [-1, 1]."""

    def __init__(self, body: nn.Module, noise_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0):
        super().__init__()
        if noise_dim < 1:
            raise ConfigError(f"noise_dim must be at least 1, got {noise_dim}")
        if num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0 (0: unconditional), got {num_classes}")
        self.body = body
        self.noise_dim, self.num_classes = int(noise_dim), int(num_classes)
        self.image_shape = tuple(int(s) for s in image_shape)

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        if noise.dim() != 2 or noise.shape[1] != self.noise_dim:
            raise ValueError(
                f"{type(self).__name__} takes noise of shape (B, {self.noise_dim}), got {tuple(noise.shape)}"
            )
        _check_labels(labels, self.num_classes, noise.shape[0], "generator")
        if self.num_classes:
            noise = torch.cat([noise, F.one_hot(labels, self.num_classes).to(noise.dtype)], dim=1)
        return self.body(noise).view(noise.shape[0], *self.image_shape)


class Discriminator(nn.Module):
    """`body` maps images to (B, feature_dim) features; a linear head gives one raw score (a logit)
    per image, plus the class projection when conditional."""

    def __init__(self, body: nn.Module, feature_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0):
        super().__init__()
        if num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0 (0: unconditional), got {num_classes}")
        self.body = body
        self.head = nn.Linear(feature_dim, 1)
        self.num_classes = int(num_classes)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.embed = nn.Embedding(num_classes, feature_dim) if num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} takes images of shape (B, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(images.shape)}"
            )
        _check_labels(labels, self.num_classes, images.shape[0], "discriminator")
        features = self.body(images)
        score = self.head(features).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(labels) * features).sum(dim=1)
        return score
