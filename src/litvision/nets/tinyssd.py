"""TinySSD, the single-shot multibox detector of Dive into Deep Learning, ch. 13.7 (d2l): multi-scale
feature maps, and on each a 3x3 convolution predicting the classes and another the box offsets of every
anchor centred there.

The feature extractor is a separate module with an `out_channels` tuple (one entry per scale), so a
pretrained backbone can replace d2l's from-scratch one: `EfficientNetLite0Features` takes the
stride-8/16/32 stages of an ImageNet EfficientNet-Lite0. Inputs are uint8 images (or float in [0, 1]);
each feature extractor normalises them itself (`litvision.nets.normalization.InputNormalization`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from litvision.nets.backbones import create_backbone
from litvision.nets.normalization import InputNormalization, normalization_for
from litvision.ops.anchors import multibox_prior

# d2l's anchor sizes per scale, and the aspect ratios used at every scale
SIZES = ((0.2, 0.272), (0.37, 0.447), (0.54, 0.619), (0.71, 0.79), (0.88, 0.961))
RATIOS = (1.0, 2.0, 0.5)


def down_sample_blk(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers and a 2x2 max-pool: halves height and width."""
    layers: list[nn.Module] = []
    for _ in range(2):
        layers += [
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        ]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def base_net() -> nn.Sequential:
    """d2l's base network: down-sample blocks 3->16->32->64 (stride 8)."""
    channels = [3, 16, 32, 64]
    return nn.Sequential(*(down_sample_blk(c_in, c_out) for c_in, c_out in zip(channels[:-1], channels[1:])))


class TinySSDFeatures(nn.Module):
    """d2l's five scales: the base net (stride 8), down-sample blocks 64->128, 128->128, 128->128
    (strides 16, 32, 64) and a global max-pool (1x1). 256x256 inputs give 32, 16, 8, 4 and 1 pixels.
    Trained from scratch on [0, 1] pixels, as d2l feeds them."""

    out_channels = (64, 128, 128, 128, 128)

    def __init__(self) -> None:
        super().__init__()
        self.input_normalization = InputNormalization([0.0] * 3, [1.0] * 3)
        self.stages = nn.ModuleList(
            [
                base_net(),
                down_sample_blk(64, 128),
                down_sample_blk(128, 128),
                down_sample_blk(128, 128),
                nn.AdaptiveMaxPool2d((1, 1)),
            ]
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        return _run_stages(self.stages, self.input_normalization(x))


def _run_stages(stages: nn.ModuleList, x: Tensor) -> list[Tensor]:
    """The output of every stage, each feeding the next."""
    features = []
    for stage in stages:
        x = stage(x)
        features.append(x)
    return features


class EfficientNetLite0Features(nn.Module):
    """Five scales from timm's tf_efficientnet_lite0 (ImageNet weights available offline, see
    nets.backbones): its stride-8, 16 and 32 stages (40, 112, 320 channels), then d2l's down-sample
    block to stride 64 and a global max-pool, so 256x256 inputs give the same 5444 anchors as
    TinySSDFeatures. Normalises its inputs with the backbone's statistics."""

    out_channels = (40, 112, 320, 128, 128)

    def __init__(self, weights: str | None = "imagenet") -> None:
        super().__init__()
        model = create_backbone("efficientnet_lite0", weights)
        self.input_normalization = normalization_for("efficientnet_lite0")
        blocks = model.blocks
        self.stages = nn.ModuleList(
            [
                nn.Sequential(model.conv_stem, model.bn1, blocks[0], blocks[1], blocks[2]),  # stride 8
                nn.Sequential(blocks[3], blocks[4]),  # stride 16
                nn.Sequential(blocks[5], blocks[6]),  # stride 32
                down_sample_blk(320, 128),  # stride 64
                nn.AdaptiveMaxPool2d((1, 1)),
            ]
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        return _run_stages(self.stages, self.input_normalization(x))


def _flatten_pred(pred: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H*W*C), channels last so each pixel's anchors stay together."""
    return torch.flatten(pred.permute(0, 2, 3, 1), start_dim=1)


class TinySSD(nn.Module):
    """forward(x (B, 3, H, W) uint8 or [0, 1] float) -> (anchors (1, A, 4), cls_preds (B, A, num_classes+1) logits with
    background at 0, bbox_preds (B, A*4) offsets). 5444 anchors at 256x256 with the default features."""

    def __init__(
        self,
        num_classes: int,
        features: nn.Module | None = None,
        sizes: Sequence[Sequence[float]] = SIZES,
        ratios: Sequence[float] = RATIOS,
    ) -> None:
        super().__init__()
        self.features = TinySSDFeatures() if features is None else features
        channels = tuple(self.features.out_channels)
        if len(channels) != len(sizes):
            raise ValueError(f"{len(sizes)} anchor size groups for {len(channels)} feature scales")
        self.num_classes = num_classes
        self.sizes = [list(map(float, s)) for s in sizes]
        self.ratios = list(map(float, ratios))
        anchors_per_pixel = [len(s) + len(self.ratios) - 1 for s in self.sizes]
        self.cls_predictors = nn.ModuleList(
            nn.Conv2d(c, a * (num_classes + 1), kernel_size=3, padding=1) for c, a in zip(channels, anchors_per_pixel)
        )
        self.bbox_predictors = nn.ModuleList(
            nn.Conv2d(c, a * 4, kernel_size=3, padding=1) for c, a in zip(channels, anchors_per_pixel)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        features = self.features(x)
        anchors = torch.cat([multibox_prior(f, s, self.ratios) for f, s in zip(features, self.sizes)], dim=1)
        cls_preds = torch.cat([_flatten_pred(p(f)) for p, f in zip(self.cls_predictors, features)], dim=1)
        bbox_preds = torch.cat([_flatten_pred(p(f)) for p, f in zip(self.bbox_predictors, features)], dim=1)
        return anchors, cls_preds.reshape(x.shape[0], -1, self.num_classes + 1), bbox_preds
