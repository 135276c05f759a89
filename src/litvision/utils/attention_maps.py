"""Where an attention captioner looked: per generated word, the image under its attention map, as in
the figures of Xu et al., "Show, Attend and Tell" (the map upsampled smoothly, bright where attended)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from litvision.utils.captions import caption_below, tile


def attention_overlay(image: Tensor, attention: Tensor) -> Tensor:
    """(3, H, W) image in [0, 1] and an (h, w) attention map -> the image dimmed where the map is low
    (each map scaled to its own maximum)."""
    up = F.interpolate(attention[None, None].float(), size=image.shape[-2:], mode="bicubic", align_corners=False)[0]
    up = (up / up.max().clamp_min(1e-12)).clamp(0, 1)
    return image * (0.25 + 0.75 * up)


def attention_strip(
    image: Tensor, words: Sequence[str], attention: Tensor, columns: int = 8, padding: int = 4
) -> Tensor:
    """The image, then one overlay per word with the word below it, tiled `columns` per row.
    attention: (>= len(words), h, w); image (3, H, W) in [0, 1]."""
    words = list(words)[: attention.shape[0]]
    tiles = [caption_below(image, ["(image)"])]
    tiles += [caption_below(attention_overlay(image, attention[i]), [word]) for i, word in enumerate(words)]
    return tile(tiles, columns=min(columns, len(tiles)), padding=padding)


def as_float_image(pixels: Tensor) -> Tensor:
    """uint8 (3, H, W) -> float [0, 1]."""
    return pixels.float() / 255 if pixels.dtype == torch.uint8 else pixels.float()
