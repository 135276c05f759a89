"""Neural style transfer losses (Gatys et al.) as pure tensor functions, batched.

Features are (N, C, H, W) activations of one layer; a batch holds N independent synthesised images.
Every loss is a mean over the batch, so the optimum of each image does not depend on N. The
definitions follow Dive into Deep Learning, ch. 13.12 (d2l): Gram matrices divided by channels x positions, mean squared
errors, and the mean-absolute-difference total variation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """(N, C, *spatial) -> (N, C, C): channel inner products over positions, / (C * positions)."""
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * flat.shape[-1])


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared error between features and (detached) target features of the same shape."""
    return F.mse_loss(features, target.detach())


def style_loss(features: Tensor, target_gram: Tensor) -> Tensor:
    """Mean squared error between the Gram matrices of `features` and a precomputed `target_gram`:
    (C, C), (1, C, C) (one style for every image) or (N, C, C)."""
    gram = gram_matrix(features)
    # expand rather than rely on mse_loss broadcasting, which warns and is easy to get wrong
    return F.mse_loss(gram, target_gram.detach().expand_as(gram))


def total_variation_loss(images: Tensor) -> Tensor:
    """Half the sum of the mean absolute vertical and horizontal neighbour differences (d2l's
    definition) of (N, C, H, W) images."""
    vertical = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    horizontal = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return 0.5 * (vertical + horizontal)


@dataclass(frozen=True)
class StyleTransferLoss:
    """The weighted loss and its weighted parts; `total == content + style + tv`."""

    total: Tensor
    content: Tensor
    style: Tensor
    tv: Tensor
    content_per_layer: dict[str, Tensor]
    style_per_layer: dict[str, Tensor]


def _per_layer(weight: float | Mapping[str, float], layers: Mapping[str, Tensor], what: str) -> dict[str, float]:
    if isinstance(weight, Mapping):
        if set(weight) != set(layers):
            raise ValueError(f"{what} weights are given for layers {sorted(weight)}, features for {sorted(layers)}")
        return {name: float(weight[name]) for name in layers}
    return {name: float(weight) for name in layers}


def _check_same_layers(features: Mapping[str, Tensor], targets: Mapping[str, Tensor], what: str) -> None:
    if set(features) != set(targets):
        raise ValueError(f"{what} features are for layers {sorted(features)}, targets for {sorted(targets)}")


def style_transfer_loss(
    images: Tensor,
    content_features: Mapping[str, Tensor],
    content_targets: Mapping[str, Tensor],
    style_features: Mapping[str, Tensor],
    style_grams: Mapping[str, Tensor],
    *,
    content_weight: float | Mapping[str, float],
    style_weight: float | Mapping[str, float],
    tv_weight: float,
) -> StyleTransferLoss:
    """Weighted sum of content, style and total-variation losses.

    `images` are the synthesised images the features were computed from; features and targets are
    keyed by layer name. A weight is one number for every layer or a mapping layer -> weight.
    d2l's weights are content 1, style 1e4 (written as 1e3 with a list repeated ten
    times), tv 10.
    """
    _check_same_layers(content_features, content_targets, "content")
    _check_same_layers(style_features, style_grams, "style")
    content_weights = _per_layer(content_weight, content_features, "content")
    style_weights = _per_layer(style_weight, style_features, "style")

    content_per_layer = {
        name: content_weights[name] * content_loss(feats, content_targets[name])
        for name, feats in content_features.items()
    }
    style_per_layer = {
        name: style_weights[name] * style_loss(feats, style_grams[name]) for name, feats in style_features.items()
    }
    zero = images.new_zeros(())
    content = sum(content_per_layer.values(), zero)
    style = sum(style_per_layer.values(), zero)
    tv = tv_weight * total_variation_loss(images)
    return StyleTransferLoss(
        total=content + style + tv,
        content=content,
        style=style,
        tv=tv,
        content_per_layer=content_per_layer,
        style_per_layer=style_per_layer,
    )
