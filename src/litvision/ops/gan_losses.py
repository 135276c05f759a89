"""GAN objectives as pure tensor functions of the discriminator's raw outputs (logits / scores).

- bce: the original GAN (Goodfellow et al., 2014) as in Stanford cs231n assignment 3: the
  discriminator's binary cross-entropy (real -> 1, fake -> 0) and the generator's non-saturating loss
  (fake -> 1).
- lsgan: least squares (Mao et al., 2017), cs231n's form: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] and
  1/2 E[(D(G(z)) - 1)^2].
- hinge: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] and -E[D(G(z))] (Lim & Ye 2017; Miyato et al. 2018).
- wgan: the Wasserstein critic E[D(G(z))] - E[D(x)] and -E[D(G(z))] (Arjovsky et al., 2017); with the
  gradient penalty of `litvision.ops.gradient_penalty` it is WGAN-GP (Gulrajani et al., 2017).

Every loss is a mean over the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from litvision.errors import ConfigError


def bce_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )


def bce_generator_loss(fake: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def ls_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * (real - 1).square().mean() + 0.5 * fake.square().mean()


def ls_generator_loss(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1).square().mean()


def hinge_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def wasserstein_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def negated_score_generator_loss(fake: Tensor) -> Tensor:
    """-E[D(G(z))]: the generator's loss under the hinge and Wasserstein objectives."""
    return -fake.mean()


@dataclass(frozen=True)
class GANLoss:
    """One objective: the discriminator's loss of (real, fake) outputs, the generator's loss of the
    fake outputs, and the weight of the gradient penalty added to the discriminator's loss (0: none)."""

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    gradient_penalty: float = 0.0


_PAIRS = {
    "bce": (bce_discriminator_loss, bce_generator_loss),
    "lsgan": (ls_discriminator_loss, ls_generator_loss),
    "hinge": (hinge_discriminator_loss, negated_score_generator_loss),
    "wgan": (wasserstein_discriminator_loss, negated_score_generator_loss),
}


def gan_loss(name: str, gradient_penalty: float = 0.0) -> GANLoss:
    """The objective called `name` (bce, lsgan, hinge, wgan); `gradient_penalty` > 0 adds the WGAN-GP
    penalty with that weight (Gulrajani et al. use 10)."""
    if name not in _PAIRS:
        raise ConfigError(f"model.loss.name={name!r} is not a GAN objective; choose one of {', '.join(_PAIRS)}")
    if gradient_penalty < 0:
        raise ConfigError(f"model.loss.gradient_penalty must be >= 0, got {gradient_penalty}")
    return GANLoss(name, *_PAIRS[name], gradient_penalty=float(gradient_penalty))
