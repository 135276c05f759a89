"""The perceptual loss of style transfer over a frozen feature extractor, shared by the optimisation-based
task (Gatys et al., as in Dive into Deep Learning, ch. 13) and the feed-forward one (Johnson et al., 2016):
which layers give content and style, their weights, the extractor, and the loss of a batch of images.

Layers are names or indices of the backbone's layer table (`litvision.nets.feature_extractor`); None
takes the backbone's defaults (STYLE_TRANSFER_LAYERS). A weight is one number for every layer of its kind
or a mapping layer -> weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor

from litvision.errors import ConfigError, WeightsUnavailableError
from litvision.nets.feature_extractor import (
    STYLE_TRANSFER_LAYERS,
    FeatureExtractor,
    LayerRef,
    layer_names,
    resolve_layer,
)
from litvision.ops.style import StyleTransferLoss, gram_matrix, style_transfer_loss


@dataclass(frozen=True)
class StyleLayers:
    backbone: str
    content: tuple[str, ...]
    style: tuple[str, ...]
    content_weight: float | dict[str, float]
    style_weight: float | dict[str, float]

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.content + self.style))


def _refs(value: LayerRef | Sequence[LayerRef]) -> tuple[LayerRef, ...]:
    return (value,) if isinstance(value, (str, int)) else tuple(value)


def _layer_weights(weight, layers, backbone, names, what) -> float | dict[str, float]:
    if not isinstance(weight, Mapping):
        return float(weight)
    by_name = {resolve_layer(backbone, names, k): float(v) for k, v in weight.items()}
    if set(by_name) != set(layers):
        raise ConfigError(
            f"model.{what}_weight gives weights for layers {sorted(by_name)}, but model.{what}_layers "
            f"are {list(layers)}: give one number, or one weight per layer"
        )
    return by_name


def resolve_style_layers(
    backbone: str,
    content_layers: LayerRef | Sequence[LayerRef] | None,
    style_layers: LayerRef | Sequence[LayerRef] | None,
    content_weight: float | Mapping[LayerRef, float],
    style_weight: float | Mapping[LayerRef, float],
) -> StyleLayers:
    """The configured layers and weights by name, checked (ConfigError) without building the backbone."""
    defaults = STYLE_TRANSFER_LAYERS.get(backbone)
    if defaults is None and (content_layers is None or style_layers is None):
        raise ConfigError(
            f"no default style-transfer layers for backbone {backbone!r} (known: "
            f"{', '.join(STYLE_TRANSFER_LAYERS)}); set model.content_layers and model.style_layers"
        )
    content_refs = _refs(defaults.content if content_layers is None else content_layers)
    style_refs = _refs(defaults.style if style_layers is None else style_layers)
    names = layer_names(backbone)
    for what, refs in (("content", content_refs), ("style", style_refs)):
        if not refs:
            raise ConfigError(f"model.{what}_layers must name at least one layer")
    content = tuple(dict.fromkeys(resolve_layer(backbone, names, r) for r in content_refs))
    style = tuple(dict.fromkeys(resolve_layer(backbone, names, r) for r in style_refs))
    return StyleLayers(
        backbone,
        content,
        style,
        _layer_weights(content_weight, content, backbone, names, "content"),
        _layer_weights(style_weight, style, backbone, names, "style"),
    )


def style_feature_extractor(layers: StyleLayers, weights: str | None) -> FeatureExtractor:
    """The frozen extractor of every content and style layer; unavailable weights say what runs offline."""
    try:
        return FeatureExtractor(layers.backbone, layers.all, weights)
    except WeightsUnavailableError as err:
        raise WeightsUnavailableError(
            f"{err} (For style transfer, weights=null runs but random features give a meaningless "
            "picture; efficientnet_lite0 features load offline: experiment=style_transfer_effnet or "
            "fast_style_transfer_effnet.)"
        ) from err


def content_targets(extractor: FeatureExtractor, layers: StyleLayers, images: Tensor) -> dict[str, Tensor]:
    """The content layers' features of normalised `images` (call under no_grad for targets)."""
    features = extractor.forward_normalized(images)
    return {name: features[name] for name in layers.content}


def style_grams(extractor: FeatureExtractor, layers: StyleLayers, images: Tensor) -> dict[str, Tensor]:
    """The style layers' Gram matrices of normalised `images` (call under no_grad for targets)."""
    features = extractor.forward_normalized(images)
    return {name: gram_matrix(features[name]) for name in layers.style}


def perceptual_loss(
    extractor: FeatureExtractor,
    layers: StyleLayers,
    images: Tensor,
    targets: Mapping[str, Tensor],
    grams: Mapping[str, Tensor],
    tv_weight: float,
) -> StyleTransferLoss:
    """Content + style + total-variation loss of normalised `images` (N, 3, H, W) against content
    `targets` (per image) and style `grams` (one style for all, or per image)."""
    features = extractor.forward_normalized(images)
    return style_transfer_loss(
        images,
        {name: features[name] for name in layers.content},
        targets,
        {name: features[name] for name in layers.style},
        grams,
        content_weight=layers.content_weight,
        style_weight=layers.style_weight,
        tv_weight=tv_weight,
    )


def loss_parts(loss: StyleTransferLoss, split: str) -> dict[str, Tensor]:
    """The loss's parts as metric names: `<split>/content_loss`, `<split>/style_loss`, `<split>/tv_loss`,
    `<split>/style_loss/<layer>` (and `<split>/content_loss/<layer>` with several content layers)."""
    parts = {
        f"{split}/content_loss": loss.content,
        f"{split}/style_loss": loss.style,
        f"{split}/tv_loss": loss.tv,
        **{f"{split}/style_loss/{name}": value for name, value in loss.style_per_layer.items()},
    }
    if len(loss.content_per_layer) > 1:
        parts.update({f"{split}/content_loss/{name}": v for name, v in loss.content_per_layer.items()})
    return parts
