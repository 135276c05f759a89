"""The WGAN-GP gradient penalty (Gulrajani et al., 2017, "Improved Training of Wasserstein GANs"):
E[(||grad_x D(x_hat)||_2 - 1)^2] at random points x_hat on the lines between real and fake samples.
Written by hand: neither torch nor torchvision ships it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """eps * real + (1 - eps) * fake with one eps ~ U[0, 1) per sample."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    return eps * real + (1 - eps) * fake


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """The penalty for `critic` (images -> one score per image); differentiable with respect to the
    critic's parameters (create_graph), so it trains the critic. `fake` is detached."""
    points = interpolate(real.detach(), fake.detach(), generator).requires_grad_(True)
    scores = critic(points)
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).square().mean()
