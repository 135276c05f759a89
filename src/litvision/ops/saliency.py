"""Saliency maps (Simonyan et al., as in Stanford cs231n assignment 3): how much each pixel can change one
class score, |d score_y / d image|, the maximum over the colour channels."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def saliency_maps(
    scores_of: Callable[[Tensor], Tensor], images: Tensor, labels: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """`scores_of` maps (N, C, H, W) images to (N, K) unnormalised class scores; `labels` (N,) picks
    the score explained for each image, a negative entry meaning the image's top-scoring class.

    Returns (saliency (N, H, W), the labels used (N,), the scores (N, K), detached). One backward pass
    of the summed scores gives each image its own gradient, since the images do not interact (the
    net must be in eval mode: batch statistics would couple them)."""
    images = images.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        scores = scores_of(images)
        labels = torch.where(labels < 0, scores.detach().argmax(dim=1), labels.to(scores.device))
        picked = scores.gather(1, labels.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(picked, images)
    return grad.abs().amax(dim=1), labels, scores.detach()
