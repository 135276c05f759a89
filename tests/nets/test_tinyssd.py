"""TinySSD: shapes and anchor count of the model of Dive into Deep Learning, ch. 13.7 (d2l), pluggable
feature extractors, and that it learns (a few optimiser steps on one batch)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from litvision.nets.tinyssd import SIZES, EfficientNetLite0Features, TinySSD, TinySSDFeatures
from litvision.ops.anchors import multibox_prior, multibox_target
from litvision.ops.ssd_loss import multibox_loss


def test_outputs_and_5444_anchors_at_256():
    net = TinySSD(num_classes=2).eval()
    with torch.no_grad():
        anchors, cls_preds, bbox_preds = net(torch.rand(2, 3, 256, 256))
    assert anchors.shape == (1, 5444, 4)
    assert cls_preds.shape == (2, 5444, 3)
    assert bbox_preds.shape == (2, 5444 * 4)
    # the anchors are d2l's multibox_prior of each scale, 32, 16, 8, 4 and 1 pixels wide
    expected = torch.cat(
        [multibox_prior(torch.zeros(s, s), sizes, [1, 2, 0.5]) for s, sizes in zip([32, 16, 8, 4, 1], SIZES)], dim=1
    )
    assert torch.equal(anchors, expected)


def test_anchor_count_follows_the_input_size():
    net = TinySSD(num_classes=1).eval()
    with torch.no_grad():
        anchors, cls_preds, _ = net(torch.rand(1, 3, 128, 128))
    assert anchors.shape[1] == cls_preds.shape[1] == 4 * (16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1)


class TwoScales(nn.Module):
    out_channels = (8, 8)

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.b = nn.Conv2d(8, 8, 3, stride=2, padding=1)

    def forward(self, x):
        first = self.a(x)
        return [first, self.b(first)]


def test_feature_extractor_is_pluggable():
    net = TinySSD(num_classes=3, features=TwoScales(), sizes=[[0.2], [0.5, 0.7]], ratios=[1, 2])
    anchors, cls_preds, bbox_preds = net(torch.rand(1, 3, 32, 32))
    # 8x8 pixels x (1 + 2 - 1) anchors + 4x4 pixels x (2 + 2 - 1) anchors
    assert anchors.shape[1] == 8 * 8 * 2 + 4 * 4 * 3 == cls_preds.shape[1] == bbox_preds.shape[1] // 4
    with pytest.raises(ValueError, match="3 anchor size groups for 2 feature scales"):
        TinySSD(num_classes=1, features=TwoScales(), sizes=[[0.2], [0.4], [0.6]])


def test_efficientnet_lite0_features_give_the_same_anchor_layout():
    features = EfficientNetLite0Features(weights=None)
    net = TinySSD(num_classes=1, features=features).eval()
    with torch.no_grad():
        maps = features(torch.rand(1, 3, 256, 256))
        anchors, cls_preds, _ = net(torch.rand(1, 3, 256, 256))
    assert [m.shape[1] for m in maps] == list(EfficientNetLite0Features.out_channels)
    assert [m.shape[-1] for m in maps] == [32, 16, 8, 4, 1]
    assert anchors.shape == (1, 5444, 4) and cls_preds.shape == (1, 5444, 2)


def test_efficientnet_lite0_features_load_imagenet_weights_offline():
    pretrained = EfficientNetLite0Features(weights="imagenet")
    scratch = EfficientNetLite0Features(weights=None)
    stem_pretrained = pretrained.stages[0][0].weight
    assert not torch.equal(stem_pretrained, scratch.stages[0][0].weight)
    # ImageNet stem filters are far from the small random initialisation
    assert stem_pretrained.abs().max() > 1.0


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(0)
    net = TinySSD(num_classes=1, features=TinySSDFeatures())
    images = torch.rand(4, 3, 64, 64)
    labels = torch.tensor(
        [[[0, 0.1, 0.1, 0.5, 0.6]], [[0, 0.4, 0.3, 0.9, 0.8]], [[0, 0.2, 0.5, 0.6, 0.9]], [[-1, 0, 0, 0, 0]]]
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        anchors, cls_preds, bbox_preds = net(images)
        offsets, masks, classes = multibox_target(anchors, labels)
        loss = multibox_loss(cls_preds, bbox_preds, classes, offsets, masks).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
