"""An ImageNet backbone from the registry with a new Xavier-initialised head (the seeds' fine-tuning
net: pretrained body, fresh output layer)."""

from __future__ import annotations

from torch import nn

from litvision.nets.backbones import create_backbone, replace_head


def pretrained_classifier(name: str, num_classes: int, weights: str | None = "imagenet") -> nn.Module:
    """`weights`: "imagenet" (fine-tuning), None (from scratch) or a state-dict file for the backbone."""
    model = create_backbone(name, weights)
    replace_head(model, name, num_classes)
    return model
