"""The normalised gradient step of the fooling images and class visualisation of Stanford cs231n
assignment 3, `X += learning_rate * dX / ||dX||` (gradient ascent on a class score), as a torch
optimiser so that an image-optimisation task takes it from configuration like any other (and Adam can
replace it).

Hand-written: torch.optim has no normalised-gradient method. As an optimiser it descends the task's
loss (minus the objective): p <- p - lr * g / ||g||. Every step has length lr whatever the size of
the gradient, which keeps steps meaningful while a score's gradient grows or vanishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from litvision.errors import ConfigError


class NormalizedGradientDescent(torch.optim.Optimizer):
    """Each parameter moves by `lr` (L2 length) against its gradient. For a batch of images (a
    parameter of 2 or more dimensions) the norm is taken per image, over all but the first dimension,
    so that the images of a batch each take a step of length lr, as each would alone. A zero gradient
    gives no step."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float) -> None:
        if not lr > 0:
            raise ConfigError(f"the normalised-gradient step needs a learning rate > 0, got lr={lr!r}")
        super().__init__(params, {"lr": float(lr)})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.dim() >= 2:
                    norms = torch.linalg.vector_norm(grad.flatten(1), dim=1).view(-1, *([1] * (grad.dim() - 1)))
                else:
                    norms = torch.linalg.vector_norm(grad)
                step = grad / norms.clamp_min(torch.finfo(grad.dtype).tiny)
                p.sub_(step, alpha=group["lr"])
        return loss
