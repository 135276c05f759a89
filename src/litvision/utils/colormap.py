"""A colour map for heat maps (saliency)."""

from __future__ import annotations

import torch
from torch import Tensor


def hot_colormap(values: Tensor) -> Tensor:
    """(H, W) values in [0, 1] -> (3, H, W) colours black -> red -> yellow -> white, as matplotlib's
    "hot" map that Stanford cs231n assignment 3 shows saliency with (hand-written: torchvision has no colour maps, and
    matplotlib is not a dependency)."""
    v = values.clamp(0, 1)
    return torch.stack([(v * 3).clamp(0, 1), (v * 3 - 1).clamp(0, 1), (v * 3 - 2).clamp(0, 1)])
