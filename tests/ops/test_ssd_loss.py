"""multibox_loss: the SSD loss of Dive into Deep Learning, ch. 13.7 (d2l), and hard-negative mining."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from litvision.ops.ssd_loss import multibox_loss


def make_inputs(generator, batch=2, anchors=6, classes=3):
    cls_preds = torch.randn(batch, anchors, classes, generator=generator, requires_grad=True)
    bbox_preds = torch.randn(batch, anchors * 4, generator=generator, requires_grad=True)
    cls_labels = torch.zeros(batch, anchors, dtype=torch.long)
    cls_labels[0, 1], cls_labels[0, 4] = 1, 2  # image 1 has no object
    bbox_masks = (cls_labels > 0).float().repeat_interleave(4, dim=1)
    bbox_labels = torch.randn(batch, anchors * 4, generator=generator) * bbox_masks
    return cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks


def test_without_mining_it_is_d2l_calc_loss():
    cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks = make_inputs(torch.Generator().manual_seed(0))
    loss = multibox_loss(cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks)
    for b in range(2):
        ce = torch.stack([F.cross_entropy(cls_preds[b, a], cls_labels[b, a]) for a in range(6)]).mean()
        l1 = (bbox_preds[b] * bbox_masks[b] - bbox_labels[b] * bbox_masks[b]).abs().mean()
        torch.testing.assert_close(loss[b], ce + l1)


def test_mining_keeps_positives_and_the_hardest_negatives():
    cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks = make_inputs(torch.Generator().manual_seed(1))
    loss = multibox_loss(cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks, neg_pos_ratio=1)
    ce = F.cross_entropy(cls_preds.reshape(-1, 3), cls_labels.reshape(-1), reduction="none").reshape(2, 6)
    l1 = (bbox_preds * bbox_masks - bbox_labels * bbox_masks).abs().mean(dim=1)
    # image 0: 2 positives + the 2 background anchors with the highest loss
    negatives = ce[0].detach().clone()
    negatives[[1, 4]] = -1
    hardest = negatives.topk(2).indices
    torch.testing.assert_close(loss[0], (ce[0, 1] + ce[0, 4] + ce[0, hardest].sum()) / 4 + l1[0])
    # image 1 has no positives: still its hardest background anchor (neg_pos_ratio of them)
    torch.testing.assert_close(loss[1], ce[1].max() + l1[1])

    loss.sum().backward()
    unselected = [a for a in range(6) if a not in {1, 4, *hardest.tolist()}]
    assert cls_preds.grad[0, unselected].abs().sum() == 0
    assert cls_preds.grad[0, hardest].abs().sum() > 0
