"""An ImageNet backbone from the registry with a new Xavier-initialised head: the fine-tuning net of Dive
into Deep Learning, ch. 13.2 (pretrained body, fresh output layer)."""

from __future__ import annotations

from torch import nn

from litvision.nets.backbones import create_backbone, replace_head
from litvision.nets.normalization import attach_normalization, normalization_for


def pretrained_classifier(name: str, num_classes: int, weights: str | None = "imagenet") -> nn.Module:
    """`weights`: "imagenet" (fine-tuning), None (from scratch) or a state-dict file for the backbone.
    Takes uint8 images (or float in [0, 1]) and normalises them itself."""
    model = create_backbone(name, weights)
    replace_head(model, name, num_classes)
    # the backbone's statistics whatever the weights: a net from scratch is fed the same inputs
    return attach_normalization(model, normalization_for(name))
